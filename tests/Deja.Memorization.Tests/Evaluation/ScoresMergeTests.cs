using Deja.Memorization.Evaluation;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Evaluation;

/// <summary>Issue 15 §3: deja merge's checks — one run only, missing and duplicated indices, index order.</summary>
public class ScoresMergeTests
{
    static ScoreRow Row(int index, double score = -1, string method = "anisotropy", string paramsJson = "{\"a\":1}", string extra = "{}") => new()
    {
        Index = index, Prompt = $"p{index}", Method = method, Scores = new() { ["s"] = score < 0 ? index * 0.5 : score },
        ParamsJson = paramsJson, ModelJson = "{\"id\":\"id-1\",\"name\":\"m\"}", ExtraJson = extra,
    };

    static ScoreSource Part(string path, params ScoreRow[] rows) => new(path, rows, "hash-" + path);

    static readonly string[] Prompts = [.. Enumerable.Range(0, 6).Select(i => $"p{i}")];

    [Fact]
    public void RowsComeOutInIndexOrderWhateverTheFileOrder()
    {
        var result = ScoresMerge.Merge([Part("b", Row(4), Row(5)), Part("a", Row(2), Row(3), Row(0), Row(1))], Prompts, "prompts.txt");
        Assert.Equal([0, 1, 2, 3, 4, 5], result.Rows.Select(r => r.Index));
        Assert.Empty(result.Missing);
        Assert.Empty(result.Duplicated);
        // The merged bytes are the rows serialized in that order, as detect writes them.
        Assert.Equal(string.Concat(Enumerable.Range(0, 6).Select(i => ScoresFile.ToLine(Row(i)))), System.Text.Encoding.UTF8.GetString(result.Serialize()));
    }

    [Fact]
    public void MissingIndicesAreFoundInsideAndWithThePromptListAfterTheRows()
    {
        var parts = new[] { Part("a", Row(0), Row(1)), Part("c", Row(3)) };
        Assert.Equal([2], ScoresMerge.Merge(parts).Missing);
        Assert.Equal([2, 4, 5], ScoresMerge.Merge(parts, Prompts, "prompts.txt").Missing);
        Assert.Equal("0 … 2, 5, 7 … 8", ScoresMerge.Ranges([0, 1, 2, 5, 7, 8]));
        Assert.Equal("1, 3 and 2 more", ScoresMerge.Ranges([1, 3, 5, 7], max: 2));
    }

    [Fact]
    public void IdenticalDuplicatesAreKeptOnceDifferentOnesRefused()
    {
        var result = ScoresMerge.Merge([Part("a", Row(0), Row(1)), Part("a-again", Row(0), Row(1), Row(2))]);
        Assert.Equal([0, 1], result.Duplicated);
        Assert.Equal(3, result.Rows.Count);
        var e = Assert.Throws<DejaException>(() => ScoresMerge.Merge([Part("a", Row(0), Row(1)), Part("b", Row(1, score: 9))]));
        Assert.Contains("prompt 1 has two different rows, in a (\"p1\", s 0.5) and in b (\"p1\", s 9)", e.Message);
    }

    [Fact]
    public void PartsOfDifferentRunsAreRefused()
    {
        Assert.Contains("a (prompt 0) and b (prompt 1) were scored with different methods: \"anisotropy\" vs \"magnitude\"",
            Assert.Throws<DejaException>(() => ScoresMerge.Merge([Part("a", Row(0)), Part("b", Row(1, method: "magnitude"))])).Message);
        Assert.Contains("different parameters (a: 1 → 2)",
            Assert.Throws<DejaException>(() => ScoresMerge.Merge([Part("a", Row(0)), Part("b", Row(1, paramsJson: "{\"a\":2}"))])).Message);
        // Unlike eval's two sides, shards of one run share one per-prompt noise file.
        string Noise(string file) => $"{{\"noise\":{{\"source\":\"file\",\"per_prompt\":true,\"file\":\"{file}\",\"n\":1}}}}";
        Assert.Contains("noise.file", Assert.Throws<DejaException>(() =>
            ScoresMerge.Merge([Part("a", Row(0, paramsJson: Noise("x"))), Part("b", Row(1, paramsJson: Noise("y")))])).Message);
        // Flagged with another threshold, or not flagged at all.
        string Flag(double t) => $"{{\"flagged\":false,\"threshold\":{t},\"threshold_column\":\"s\"}}";
        Assert.Contains("were flagged differently", Assert.Throws<DejaException>(() =>
            ScoresMerge.Merge([Part("a", Row(0, extra: Flag(1))), Part("b", Row(1, extra: Flag(2)))])).Message);
        Assert.Contains("b (prompt 1: not flagged)", Assert.Throws<DejaException>(() =>
            ScoresMerge.Merge([Part("a", Row(0, extra: Flag(1))), Part("b", Row(1))])).Message);
    }

    [Fact]
    public void RowsOfAnotherPromptListAreRefused()
    {
        Assert.Contains("prompt 2 of prompts.txt is \"p2\"", Assert.Throws<DejaException>(() =>
            ScoresMerge.Merge([Part("a", Row(2) with { Prompt = "other" })], Prompts, "prompts.txt")).Message);
        Assert.Contains("prompts.txt has 6 prompts", Assert.Throws<DejaException>(() =>
            ScoresMerge.Merge([Part("a", Row(6))], Prompts, "prompts.txt")).Message);
    }
}
