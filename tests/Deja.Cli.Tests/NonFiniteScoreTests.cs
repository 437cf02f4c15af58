using Deja.Cli.Tests.Support;
using Deja.Diffusion.IO;
using Deja.Memorization.Evaluation;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Cli.Tests;

/// <summary>Issue 12 §5 "silent wrong results": a NaN or infinite score stops detect, naming the prompt; the rows before it stay valid.</summary>
public class NonFiniteScoreTests
{
    [Fact]
    public void ANonFiniteScoreStopsTheRunNamingThePromptAndKeepsTheRowsBefore()
    {
        using var dir = new TempDir();
        var model = GaussianMixtureDemo.Create(0);
        int prompts = model.Conditions.Count;
        // Per-prompt initial noise: ordinary draws, except prompt 5, whose latents are so large that the
        // model's output overflows (finite input, so the latents file itself is accepted).
        var shape = model.LatentShape;
        int one = shape.Aggregate(1, (a, b) => a * b);
        var values = new float[prompts * one];
        var g = new Generator(1);
        for (int i = 0; i < values.Length; i++) values[i] = (float)g.NextDouble() - 0.5f;
        for (int i = 5 * one; i < 6 * one; i++) values[i] = 3e38f;
        using (var latents = Tensor.FromArray(values, [prompts, 1, .. shape]))
            SafeTensorsWriter.Write(dir.File("latents.safetensors"), [("x_T", latents)], new Dictionary<string, string>());

        var r = Support.Deja.Run(dir.Path, "detect", "--model", "analytic", "--latents", "latents.safetensors", "--batch", "2", "--out", "scores.jsonl");
        Assert.True(r.ExitCode == 1, r.ToString());
        var error = r.ErrorLines[^1];
        Assert.StartsWith("deja: detect: prompt 5 (\"" + model.Conditions[5].Prompt + "\") scored anisotropy", error);
        Assert.Contains("scores.jsonl holds 5 valid row(s)", error);

        var rows = ScoresFile.Read(dir.File("scores.jsonl"));
        Assert.Equal([0, 1, 2, 3, 4], rows.Select(row => row.Index));
        Assert.All(rows, row => Assert.All(row.Scores.Values, v => Assert.True(double.IsFinite(v))));
    }
}
