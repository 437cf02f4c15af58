using Deja.Memorization.Detection;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Detection;

/// <summary>A non-finite score stops detect at its prompt; the rows before it are written (issue 12 §5).</summary>
public class NonFiniteScoresTests
{
    static DetectionRow Row(int index, double score) => new(index, $"prompt {index}", new Dictionary<string, double> { ["anisotropy"] = score }, 3, false);

    [Fact]
    public void TheRowsBeforeTheFirstNonFiniteScoreAreValid()
    {
        var (valid, first) = NonFiniteScores.Split([Row(0, 1), Row(1, 2), Row(2, double.NaN), Row(3, 4)]);
        Assert.Equal([0, 1], valid.Select(r => r.Index));
        Assert.Equal(2, first!.Index);

        var (all, none) = NonFiniteScores.Split([Row(0, 1), Row(1, 2)]);
        Assert.Equal(2, all.Count);
        Assert.Null(none);
        Assert.Equal(2, NonFiniteScores.Split([Row(0, 1), Row(1, 2), Row(2, double.PositiveInfinity)]).Valid.Count);
    }

    [Fact]
    public void TheErrorNamesThePromptTheScoreAndTheRowsKept()
    {
        var e = NonFiniteScores.Error(Row(7, double.NegativeInfinity), "out.jsonl", 7);
        Assert.StartsWith("detect: prompt 7 (\"prompt 7\") scored anisotropy = -Infinity", e.Message);
        Assert.Contains("out.jsonl holds 7 valid row(s)", e.Message);
        Assert.IsType<DejaException>(e);
    }

    [Fact]
    public void MagnitudeRefusesNegativeOrNonFiniteGuidanceAsGenerateDoes()
    {
        var model = GaussianMixtureDemo.Create(0);
        foreach (var g in new[] { -5, double.NaN, double.PositiveInfinity })
        {
            var e = Assert.Throws<DejaException>(() => new MagnitudeDetector { Guidance = g }.Parameters(model));
            Assert.StartsWith("magnitude: --guidance must be a finite number ≥ 0", e.Message);
        }
        Assert.Equal(0, (double)new MagnitudeDetector { Guidance = 0 }.Parameters(model)["guidance"]!);
    }
}
