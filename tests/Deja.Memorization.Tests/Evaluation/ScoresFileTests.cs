using System.Text;
using Deja.Memorization.Evaluation;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Evaluation;

public sealed class ScoresFileTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("deja-scores-").FullName;
    const string Params = """{"t_n":981,"gammas":[1,2],"mode":"x,c|x"}""";
    const string Model = """{"id":"abc123","name":"sd-v1-4"}""";

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string PathOf(string name) => Path.Combine(dir, name);

    static ScoreRow Row(int index, string prompt, double a = 1.5, string method = "anisotropy", string parameters = Params, string model = Model) => new()
    {
        Index = index,
        Prompt = prompt,
        Method = method,
        Scores = new() { ["anisotropy"] = a, ["anisotropy_norm"] = a / 3, ["anisotropy_cosine"] = 0.25 },
        Tokens = 12,
        Truncated = index % 2 == 1,
        ParamsJson = parameters,
        ModelJson = model,
    };

    [Fact]
    public void RoundTrip()
    {
        var path = PathOf("s.jsonl");
        var rows = new[] { Row(0, "a \"quoted\" prompt, naïve + <tag>"), Row(1, "line\nbreak", double.NaN), Row(2, "third", 1e-300) };
        using (var w = ScoresFile.OpenForAppend(path, "abc123", "anisotropy", Params))
        {
            Assert.Equal(0, w.ExistingRows);
            w.AppendBatch(rows[..2]);
            w.AppendBatch(rows[2..]);
        }
        var text = File.ReadAllText(path);
        Assert.Equal(3, text.Count(c => c == '\n'));
        Assert.Contains("naïve + <tag>", text); // readable, not \u-escaped
        var back = ScoresFile.Read(path);
        Assert.Equal(3, back.Count);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(rows[i].Index, back[i].Index);
            Assert.Equal(rows[i].Prompt, back[i].Prompt);
            Assert.Equal(rows[i].Method, back[i].Method);
            Assert.Equal(rows[i].Tokens, back[i].Tokens);
            Assert.Equal(rows[i].Truncated, back[i].Truncated);
            Assert.Equal(rows[i].Scores.Keys, back[i].Scores.Keys); // order kept
            Assert.Equal(rows[i].Scores.Values, back[i].Scores.Values);
            Assert.Equal("abc123", back[i].ModelId);
            Assert.Equal(Params, back[i].ParamsJson);
        }
        Assert.True(double.IsNaN(back[1].Scores["anisotropy"]));
    }

    [Fact]
    public void RowsRecordTheDejaVersionThatWroteThemAndKeepItWhenRewritten()
    {
        // a row made here gets the running version; a row read back keeps its own, and it is no extra member
        Assert.Contains($"\"deja_version\":\"{DejaVersion.Text}\"", ScoresFile.ToLine(Row(0, "p0")));
        var path = PathOf("v.jsonl");
        File.WriteAllText(path, ScoresFile.ToLine(Row(0, "p0")).Replace(DejaVersion.Text, "0.0.1+old"));
        var back = ScoresFile.Read(path).Single();
        Assert.Equal("0.0.1+old", back.DejaVersion);
        Assert.Equal("{}", back.ExtraJson);
        Assert.Contains("\"deja_version\":\"0.0.1+old\"", ScoresFile.ToLine(back));
        Assert.DoesNotContain(DejaVersion.Text, ScoresFile.ToLine(back));
    }

    [Fact]
    public void ResumeSkipsDonePairs()
    {
        var path = PathOf("s.jsonl");
        using (var w = ScoresFile.OpenForAppend(path, "abc123", "anisotropy", Params))
            w.AppendBatch([Row(0, "p0"), Row(1, "p1")]);
        // Same params with members in another order and 1 written as 1.0: the same run.
        using var again = ScoresFile.OpenForAppend(path, "abc123", "anisotropy", """{"mode":"x,c|x","gammas":[1.0,2],"t_n":981}""");
        Assert.Equal(2, again.ExistingRows);
        Assert.Equal(0, again.DroppedBytes);
        Assert.Contains((0, "p0"), again.Done);
        Assert.Contains((1, "p1"), again.Done);
        Assert.DoesNotContain((1, "p0"), again.Done);
        again.AppendBatch([Row(2, "p2")]);
        Assert.Contains((2, "p2"), again.Done);
        Assert.Equal(3, ScoresFile.Read(path).Count);
    }

    [Theory]
    [InlineData("other", "anisotropy", Params, "model id \"abc123\", this run uses \"other\"")]
    [InlineData("abc123", "magnitude", Params, "method \"anisotropy\", this run uses \"magnitude\"")]
    [InlineData("abc123", "anisotropy", """{"t_n":981,"gammas":[1,3],"mode":"x,c|x"}""", "params")]
    public void RefusesADifferentRun(string model, string method, string parameters, string expected)
    {
        var path = PathOf("s.jsonl");
        using (var w = ScoresFile.OpenForAppend(path, "abc123", "anisotropy", Params))
            w.AppendBatch([Row(0, "p0")]);
        var e = Assert.Throws<DejaException>(() => ScoresFile.OpenForAppend(path, model, method, parameters));
        Assert.Contains(expected, e.Message);
        Assert.Contains("line 1", e.Message);
        if (expected == "params") Assert.Contains("[1,3]", e.Message);
    }

    /// <summary>
    /// Issue 12 §5: model ids used to hash sampled bytes of the weights, so a corrupted file kept its id and a
    /// resumed --out mixed rows of two different files. Rows under an id of that scheme are refused for
    /// resume with a message that says why, not with a bare id mismatch.
    /// </summary>
    [Fact]
    public void RefusesToResumeRowsScoredUnderAnOldSampledId()
    {
        var path = PathOf("old.jsonl");
        const string oldId = "b1e27090c69fda4c", newId = "5d0c2b7a9e41f3c86d2a0b1e9f7c4a35";
        using (var w = ScoresFile.OpenForAppend(path, oldId, "anisotropy", Params))
            w.AppendBatch([Row(0, "p0", model: $$"""{"id":"{{oldId}}"}""")]);
        var e = Assert.Throws<DejaException>(() => ScoresFile.OpenForAppend(path, newId, "anisotropy", Params));
        Assert.Contains("older scheme", e.Message);
        Assert.Contains("sampled bytes", e.Message);
        Assert.Contains(oldId, e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    /// <summary>Fuzzing (scores, seed 7, inputs 1643 and 5673): params holding 1e999 made the resume check throw JsonReaderException.</summary>
    [Fact]
    public void ParamsBeyondDoubleRangeAreComparedNotCrashedOn()
    {
        var path = PathOf("huge.jsonl");
        File.WriteAllText(path, ScoresFile.ToLine(Row(0, "p0")).Replace("\"gammas\":[1,2]", "\"gammas\":[1,1e999]"));
        var e = Assert.Throws<DejaException>(() => ScoresFile.OpenForAppend(path, "abc123", "anisotropy", Params));
        Assert.Contains("other params", e.Message);
        Assert.Contains("1e999", e.Message);
        using var same = ScoresFile.OpenForAppend(path, "abc123", "anisotropy", """{"t_n":981,"gammas":[1,1e999],"mode":"x,c|x"}""");
        Assert.Equal(1, same.ExistingRows);
    }

    [Fact]
    public void RefusesAppendingARowOfAnotherRun()
    {
        using var w = ScoresFile.OpenForAppend(PathOf("s.jsonl"), "abc123", "anisotropy", Params);
        Assert.Throws<DejaException>(() => w.AppendBatch([Row(0, "p0", method: "magnitude")]));
    }

    [Fact]
    public void PartialTrailingLineIsCutOff()
    {
        var path = PathOf("s.jsonl");
        using (var w = ScoresFile.OpenForAppend(path, "abc123", "anisotropy", Params))
            w.AppendBatch([Row(0, "p0"), Row(1, "p1")]);
        long complete = new FileInfo(path).Length;
        var partial = Encoding.UTF8.GetBytes(ScoresFile.ToLine(Row(2, "p2")))[..25];
        using (var f = File.Open(path, FileMode.Append)) f.Write(partial);

        Assert.Equal(2, ScoresFile.Read(path, out var ignored).Count);
        Assert.Equal(25, ignored);
        using (var w = ScoresFile.OpenForAppend(path, "abc123", "anisotropy", Params))
        {
            Assert.Equal(25, w.DroppedBytes);
            Assert.Equal(2, w.ExistingRows);
            Assert.Equal(complete, new FileInfo(path).Length);
            w.AppendBatch([Row(2, "p2")]);
        }
        Assert.Equal([0, 1, 2], ScoresFile.Read(path).Select(r => r.Index));
    }

    [Fact]
    public void CompleteLastLineWithoutNewlineIsKept()
    {
        var path = PathOf("s.jsonl");
        File.WriteAllText(path, ScoresFile.ToLine(Row(0, "p0")).TrimEnd('\n'));
        using (var w = ScoresFile.OpenForAppend(path, "abc123", "anisotropy", Params))
        {
            Assert.Equal(0, w.DroppedBytes);
            Assert.Equal(1, w.ExistingRows);
            w.AppendBatch([Row(1, "p1")]);
        }
        Assert.Equal([0, 1], ScoresFile.Read(path).Select(r => r.Index));
    }

    [Fact]
    public void CorruptMiddleLineIsAnErrorNamingTheLine()
    {
        var path = PathOf("s.jsonl");
        File.WriteAllText(path, ScoresFile.ToLine(Row(0, "p0")) + "{\"index\": 1, \"prom\n" + ScoresFile.ToLine(Row(2, "p2")));
        var e = Assert.Throws<DejaException>(() => ScoresFile.Read(path));
        Assert.Contains("line 2", e.Message);
        Assert.Contains(path, e.Message);
        Assert.Throws<DejaException>(() => ScoresFile.OpenForAppend(path, "abc123", "anisotropy", Params));

        File.WriteAllText(path, "{\"index\":0,\"prompt\":\"x\"}\n");
        Assert.Contains("missing \"scores\"", Assert.Throws<DejaException>(() => ScoresFile.Read(path)).Message);
    }

    [Fact]
    public void PythonNonFiniteLiteralsAreRead()
    {
        // json.dumps writes bare NaN/Infinity; the same words inside a prompt must stay untouched.
        var path = PathOf("py.jsonl");
        File.WriteAllText(path, "{\"index\": 0, \"prompt\": \"NaN \\\" Infinity\", \"scores\": {\"a\": NaN, \"b\": -Infinity, \"c\": 2.5}}\n");
        var row = Assert.Single(ScoresFile.Read(path));
        Assert.Equal("NaN \" Infinity", row.Prompt);
        Assert.True(double.IsNaN(row.Scores["a"]));
        Assert.Equal(double.NegativeInfinity, row.Scores["b"]);
        Assert.Equal(2.5, row.Scores["c"]);
    }

    [Fact]
    public void EmptyFileIsFine()
    {
        var path = PathOf("s.jsonl");
        File.WriteAllText(path, "");
        Assert.Empty(ScoresFile.Read(path));
        using var w = ScoresFile.OpenForAppend(path, "abc123", "anisotropy", Params);
        Assert.Equal(0, w.ExistingRows);
        Assert.Empty(w.Done);
    }

    [Fact]
    public void MissingFileIsNamed()
    {
        var e = Assert.Throws<DejaException>(() => ScoresFile.Read(PathOf("nope.jsonl")));
        Assert.Contains("nope.jsonl", e.Message);
    }
}
