using Deja.Memorization.Evaluation;

namespace Deja.Cli.Tests.Support;

/// <summary>Small score files written by hand, for eval tests that need no detection run.</summary>
public static class ScoreFiles
{
    public static void Write(string path, double[] scores, string promptPrefix = "m", string modelId = "model-a", string paramsJson = "{\"k\":1}")
    {
        var rows = scores.Select((s, i) => new ScoreRow
        {
            Index = i, Prompt = $"{promptPrefix}{i}", Method = "test", Scores = new OrderedDictionary<string, double> { ["score"] = s },
            ParamsJson = paramsJson, ModelJson = $"{{\"id\":\"{modelId}\",\"name\":\"{modelId}\"}}",
        });
        File.WriteAllLines(path, rows.Select(Line));
    }

    static string Line(ScoreRow r) =>
        System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["index"] = r.Index, ["prompt"] = r.Prompt, ["method"] = r.Method, ["scores"] = r.Scores,
            ["params"] = System.Text.Json.JsonDocument.Parse(r.ParamsJson).RootElement,
            ["model"] = System.Text.Json.JsonDocument.Parse(r.ModelJson).RootElement,
        });
}
