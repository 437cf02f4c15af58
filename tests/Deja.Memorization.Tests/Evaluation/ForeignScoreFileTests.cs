using Deja.Memorization.Evaluation;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Evaluation;

/// <summary>Issue 15 §4: deja eval reads other tools' score files — flat JSONL and CSV with a header — with --columns naming the scores.</summary>
public sealed class ForeignScoreFileTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("deja-foreign-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Write(string name, string text) { var p = Path.Combine(dir, name); File.WriteAllText(p, text); return p; }

    [Fact]
    public void CsvWithQuotedFieldsGivesTheNamedColumnsAndThePrompts()
    {
        var path = Write("mem.csv", "prompt,loss,seed,note\r\n\"a cat, \"\"sitting\"\"\",0.25,1,x\r\n\"two\nlines\",-1.5e-3,2,\r\nb,nan,3,z\r\n");
        var rows = ForeignScoreFile.Read(path, ["loss", "seed"]);
        Assert.Equal(["a cat, \"sitting\"", "two\nlines", "b"], rows.Select(r => r.Prompt));
        Assert.Equal([0, 1, 2], rows.Select(r => r.Index));
        Assert.Equal(0.25, rows[0].Scores["loss"]);
        Assert.Equal(-1.5e-3, rows[1].Scores["loss"]);
        Assert.True(double.IsNaN(rows[2].Scores["loss"])); // eval refuses it later, by name
        Assert.Equal(["loss", "seed"], rows[0].Scores.Keys);
        Assert.Equal("", rows[0].ModelId);
        Assert.True(ForeignScoreFile.IsForeign(path));
    }

    [Fact]
    public void WithoutColumnsOrWithATextColumnTheErrorListsTheNumericColumns()
    {
        var path = Write("mem.csv", "prompt,loss,seed,note\na,1,1,x\nb,2,2,\n");
        Assert.Equal($"eval: {path} is not a deja score file: name its score columns with --columns (numeric columns found: loss, seed)",
            Assert.Throws<DejaException>(() => ForeignScoreFile.Read(path, null)).Message);
        Assert.Equal($"eval: {path} has no numeric column \"note\" (it has text or empty values); numeric columns found: loss, seed",
            Assert.Throws<DejaException>(() => ForeignScoreFile.Read(path, ["note"])).Message);
        Assert.Contains("has no numeric column \"score\"; numeric columns found: loss, seed",
            Assert.Throws<DejaException>(() => ForeignScoreFile.Read(path, ["score"])).Message);
        Assert.Contains("line 3: 2 fields, the header has 4",
            Assert.Throws<DejaException>(() => ForeignScoreFile.Read(Write("bad.csv", "prompt,loss,seed,note\na,1,1,x\nb,2\n"), ["loss"])).Message);
        Assert.Contains("quoted field is not closed",
            Assert.Throws<DejaException>(() => ForeignScoreFile.Read(Write("open.csv", "prompt,loss\n\"a,1\n"), ["loss"])).Message);
    }

    [Fact]
    public void FlatJsonLinesAreForeignDejaRowsAreNot()
    {
        var path = Write("m.jsonl", "{\"caption\":\"x\",\"s\":0.5,\"n\":3,\"tag\":\"a\"}\n\n{\"caption\":\"y\",\"s\":\"-Infinity\",\"n\":4,\"tag\":\"b\"}\n");
        Assert.True(ForeignScoreFile.IsForeign(path));
        var rows = ForeignScoreFile.Read(path, ["s"]);
        Assert.Equal(["x", "y"], rows.Select(r => r.Prompt));
        Assert.Equal([0.5, double.NegativeInfinity], rows.Select(r => r.Scores["s"]));
        Assert.Contains("numeric columns found: s, n", Assert.Throws<DejaException>(() => ForeignScoreFile.Read(path, null)).Message);
        // No prompt field: rows are named by file and line.
        Assert.Equal("p.jsonl line 2", ForeignScoreFile.Read(Write("p.jsonl", "{\"s\":1}\n{\"s\":2}\n"), ["s"])[1].Prompt);
        Assert.False(ForeignScoreFile.IsForeign(Write("deja.jsonl", "{\"index\":0,\"prompt\":\"a\",\"scores\":{\"s\":1}}\n")));
    }
}
