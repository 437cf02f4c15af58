using System.Text.Json.Nodes;
using Deja.Cli.Tests.Support;

namespace Deja.Cli.Tests;

/// <summary>
/// Issue 14 §3: τ of `deja train --filter-threshold` is chosen from the measured ‖ε_c − ε_u‖. `deja filter-norms`
/// measures it per kind of training example; a filtered run logs each sample's r beside its repeat count.
/// </summary>
public class FilterNormsCommandTests
{
    [Fact]
    public void AFilteredRunLogsEachSamplesNormAndTheSurveyGroupsThemByKind()
    {
        using var dir = new TempDir();
        var data = Datasets.Synth(dir.File("data"));
        var train = Support.Deja.Run(dir.Path, "train", "--data", data, "--out", "model", "--config", "toy", "--steps", "3", "--batch", "4",
            "--warmup", "1", "--filter-threshold", "1000");
        Assert.True(train.ExitCode == 0, train.ToString());
        var log = File.ReadAllLines(dir.File("model/train_log.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(3, log.Count);
        foreach (var row in log)
        {
            var norms = row["norms"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray();
            Assert.Equal(4, norms.Length);
            Assert.Equal(4, row["repeats"]!.AsArray().Count);
            Assert.Equal(norms.Count(v => v < 1000), row["kept"]!.GetValue<int>());
        }

        var survey = Support.Deja.Run(dir.Path, "filter-norms", "--model", "model", "--data", data, "--draws", "2", "--tau", "1000", "0.02", "--json", "--out", "norms.jsonl");
        Assert.True(survey.ExitCode == 0, survey.ToString());
        var kinds = JsonNode.Parse(survey.Out)!["kinds"]!.AsArray().ToDictionary(k => k!["kind"]!.GetValue<string>(), k => k!);
        Assert.Equal(["all", "diverse", "template", "verbatim"], kinds.Keys.Order(StringComparer.Ordinal));
        int examples = File.ReadAllLines(Path.Combine(data, "captions.jsonl")).Length;
        Assert.Equal(2 * examples, kinds["all"]["samples"]!.GetValue<int>());
        Assert.Equal(2 * examples, File.ReadAllLines(dir.File("norms.jsonl")).Length);
        Assert.Equal(kinds["all"]["samples"]!.GetValue<int>(), kinds.Where(k => k.Key != "all").Sum(k => k.Value["samples"]!.GetValue<int>()));
        Assert.Equal(1.0, kinds["all"]["kept_below_1000"]!.GetValue<double>());
        var perSample = File.ReadAllLines(dir.File("norms.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        foreach (var (kind, k) in kinds)
        {
            var mine = perSample.Where(r => kind == "all" || r["kind"]!.GetValue<string>() == kind).Select(r => r["norm"]!.GetValue<double>()).ToList();
            Assert.Equal(mine.Count, k["samples"]!.GetValue<int>());
            Assert.Equal(Math.Round(mine.Count(v => v < 0.02) / (double)mine.Count, 4), k["kept_below_0.02"]!.GetValue<double>());
            Assert.Equal(mine.Max(), k["max"]!.GetValue<double>(), 3);
        }
        foreach (var k in kinds.Values) Assert.True(k!["p5"]!.GetValue<double>() <= k["p50"]!.GetValue<double>() && k["p50"]!.GetValue<double>() <= k["max"]!.GetValue<double>());

        var table = Support.Deja.Run(dir.Path, "filter-norms", "--model", "model", "--data", data, "--draws", "1", "--tau", "2");
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Contains("kept<2", table.Out);
        Assert.Contains("verbatim", table.Out);

        var bad = Support.Deja.Run(dir.Path, "filter-norms", "--model", "model", "--data", data, "--draws", "0");
        Assert.Equal(1, bad.ExitCode); // bad input (2 is for unparsable command lines)
        Assert.Contains("--draws must be at least 1", bad.Error);
    }
}
