using Deja.Memorization.Evaluation;

namespace Deja.Memorization.Tests.Evaluation;

/// <summary>eval's questions about its inputs (issue 12 §5): different models, methods, parameters; the same file twice.</summary>
public class ScoreInputCheckTests
{
    static ScoreSource Source(string path, string modelId = "id-1", string method = "anisotropy", string paramsJson = "{\"a\":1}", string hash = "")
    {
        var rows = Enumerable.Range(0, 3).Select(i => new ScoreRow
        {
            Index = i, Prompt = $"{path}-{i}", Method = method, Scores = new() { ["s"] = i },
            ParamsJson = paramsJson, ModelJson = $"{{\"id\":\"{modelId}\",\"name\":\"model-{modelId}\"}}",
        }).ToList();
        return new ScoreSource(path, rows, hash.Length > 0 ? hash : "hash-of-" + path);
    }

    [Fact]
    public void OneRunOnBothSidesHasNoProblem() =>
        Assert.Empty(ScoreInputCheck.Problems([Source("mem.jsonl")], [Source("nonmem.jsonl")]));

    [Fact]
    public void DifferentModelsAreNamed()
    {
        var p = Assert.Single(ScoreInputCheck.Problems([Source("mem.jsonl")], [Source("nonmem.jsonl", modelId: "id-2")]));
        Assert.Equal("mem.jsonl (positives) and nonmem.jsonl (negatives) were scored by different models: model-id-1 (id id-1) vs model-id-2 (id id-2)", p);
    }

    [Fact]
    public void DifferentMethodsAndParametersAreNamed()
    {
        Assert.Contains("different methods: \"anisotropy\" vs \"magnitude\"",
            Assert.Single(ScoreInputCheck.Problems([Source("mem.jsonl")], [Source("nonmem.jsonl", method: "magnitude")])));
        Assert.Contains("different parameters (a: 1 → 2)",
            Assert.Single(ScoreInputCheck.Problems([Source("mem.jsonl")], [Source("nonmem.jsonl", paramsJson: "{\"a\":2}")])));
        // A difference inside one side (two positives files) counts as well.
        Assert.Contains("mem.jsonl (positives) and mem2.jsonl (positives) were scored by different models",
            Assert.Single(ScoreInputCheck.Problems([Source("mem.jsonl"), Source("mem2.jsonl", modelId: "id-2")], [Source("nonmem.jsonl")])));
    }

    [Fact]
    public void PerPromptNoiseFilesMayDifferBetweenTheSides()
    {
        string Noise(string file) => $"{{\"noise\":{{\"source\":\"file\",\"per_prompt\":true,\"file\":\"{file}\",\"fingerprint\":\"{file}-fp\",\"n\":1}}}}";
        Assert.Empty(ScoreInputCheck.Problems([Source("mem.jsonl", paramsJson: Noise("a"))], [Source("nonmem.jsonl", paramsJson: Noise("b"))]));
        string Shared(string file) => Noise(file).Replace("true", "false");
        Assert.Contains("noise.f", Assert.Single(ScoreInputCheck.Problems([Source("mem.jsonl", paramsJson: Shared("a"))], [Source("nonmem.jsonl", paramsJson: Shared("b"))])));
    }

    [Fact]
    public void TheSameFileOrTheSameBytesTwiceAreNamed()
    {
        Assert.Equal("mem.jsonl is given as both positives and negatives",
            Assert.Single(ScoreInputCheck.Problems([Source("mem.jsonl")], [Source("mem.jsonl")])));
        Assert.Equal("mem.jsonl is given twice among the positives",
            Assert.Single(ScoreInputCheck.Problems([Source("mem.jsonl"), Source("mem.jsonl")], [Source("nonmem.jsonl")])));
        Assert.Equal("a.jsonl and b.jsonl have the same content, given twice among the negatives",
            Assert.Single(ScoreInputCheck.Problems([Source("mem.jsonl")], [Source("a.jsonl", hash: "same"), Source("b.jsonl", hash: "same")])));
    }
}
