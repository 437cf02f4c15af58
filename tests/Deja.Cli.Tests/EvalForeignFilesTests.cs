using Deja.Cli.Tests.Support;

namespace Deja.Cli.Tests;

/// <summary>Issue 15 §4: deja eval on another tool's CSV and JSONL, through the command line.</summary>
public class EvalForeignFilesTests
{
    [Fact]
    public void CsvScoresAreEvaluatedByTheNamedColumnAndTheMessageListsTheNumericOnes()
    {
        using var dir = new TempDir();
        // Positives 0.9, 0.8, 0.7 against negatives 0.1, 0.75, 0.3: 8 of 9 pairs ranked right, AUC = 8/9 = 0.889.
        File.WriteAllText(dir.File("mem.csv"), "prompt,loss,seed\n\"a, cat\",0.9,1\nb,0.8,2\nc,0.7,3\n");
        File.WriteAllText(dir.File("non.csv"), "prompt,loss,seed\nd,0.1,1\ne,0.75,2\nf,0.3,3\n");
        var missing = Support.Deja.Run(dir.Path, "eval", "--positives", "mem.csv", "--negatives", "non.csv", "--bootstrap", "0", "--svg", "roc.svg");
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal("deja: eval: mem.csv is not a deja score file: name its score columns with --columns (numeric columns found: loss, seed)", Assert.Single(missing.ErrorLines));

        var r = Support.Deja.Run(dir.Path, "eval", "--positives", "mem.csv", "--negatives", "non.csv", "--bootstrap", "0", "--svg", "roc.svg", "--columns", "loss", "--json");
        Assert.True(r.ExitCode == 0, r.ToString());
        using var json = System.Text.Json.JsonDocument.Parse(r.Out);
        var column = json.RootElement.GetProperty("columns")[0];
        Assert.Equal("loss", column.GetProperty("column").GetString());
        Assert.Equal(8.0 / 9, column.GetProperty("auc").GetProperty("value").GetDouble(), 12);
    }

    [Fact]
    public void ADejaFileBesideAForeignOneIsAnotherModel()
    {
        using var dir = new TempDir();
        ScoreFiles.Write(dir.File("mem.jsonl"), [0.9, 0.8], modelId: "model-a");
        File.WriteAllText(dir.File("non.jsonl"), "{\"score\":0.1}\n{\"score\":0.2}\n");
        var r = Support.Deja.Run(dir.Path, "eval", "--positives", "mem.jsonl", "--negatives", "non.jsonl", "--bootstrap", "0", "--svg", "roc.svg", "--columns", "score");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("were scored by different models: model-a (id model-a) vs (no model recorded)", r.Error);
    }
}
