using Deja.Cli.Tests.Support;
using Deja.Diffusion.Pipelines;
using Deja.Memorization.Detection;
using Deja.Memorization.Evaluation;
using Deja.Memorization.Models;

namespace Deja.Cli.Tests;

/// <summary>`deja detect --method bright-ending` (METHODS.md §4.8) and `deja eval` on its scores.</summary>
public class BrightEndingCommandTests
{
    [Fact]
    public void DetectWritesBrightEndingRowsThatEvalReads()
    {
        using var dir = new TempDir();
        string[] memorized = ["a cat", "a photograph of an astronaut riding a horse"], other = ["a dog", "a red car"];
        File.WriteAllLines(dir.File("mem.txt"), memorized);
        File.WriteAllLines(dir.File("nonmem.txt"), other);
        var pipeline = Repo.TinyPipeline("tiny-sd1");
        foreach (var name in new[] { "mem", "nonmem" })
        {
            var d = Support.Deja.Run(dir.Path, "detect", "--model", pipeline, "--prompts", $"{name}.txt", "--method", "bright-ending", "--out", $"{name}.jsonl");
            Assert.True(d.ExitCode == 0, d.ToString());
            Assert.Contains("bright-ending", d.Error);
        }

        var rows = ScoresFile.Read(dir.File("mem.jsonl"));
        Assert.Equal(2, rows.Count);
        Assert.All(rows, r =>
        {
            Assert.Equal("bright-ending", r.Method);
            Assert.Equal(["bright_ending"], r.Scores.Keys);
        });
        Assert.Contains("\"mask_layers\":[\"down_blocks.0.attentions.0.transformer_blocks.0.attn2\",\"down_blocks.0.attentions.1.transformer_blocks.0.attn2\"]", rows[0].ParamsJson);
        Assert.Equal(4, rows[0].Tokens); // "a cat": BOS, a, cat, EOS — the end token is index 3

        // the same scores as the library on the command's defaults (seed 51, one noise draw for every prompt)
        var view = new StableDiffusionView(StableDiffusionPipeline.Load(pipeline));
        var run = new DetectionRun { Model = view, Detectors = [new BrightEndingDetector()], Noise = InitialNoise.Seeded(view.LatentShape, 1, 51, SeedPolicy.Same) };
        var expected = run.Run(memorized).SelectMany(b => b).ToList();
        for (int i = 0; i < 2; i++)
            Assert.True(DeterminismContract.Agree("bright_ending", expected[i].Scores["bright_ending"], rows[i].Scores["bright_ending"]),
                $"row {i}: deja detect {rows[i].Scores["bright_ending"]}, library {expected[i].Scores["bright_ending"]}");

        var e = Support.Deja.Run(dir.Path, "eval", "--bootstrap", "0", "--svg", "roc.svg", "--positives", "mem.jsonl", "--negatives", "nonmem.jsonl");
        Assert.True(e.ExitCode == 0, e.ToString());
        Assert.Contains("bright_ending", e.Out);
        Assert.True(File.Exists(dir.File("roc.svg")));
    }

    [Fact]
    public void TheAnalyticModelIsRefusedInOneLine()
    {
        using var dir = new TempDir();
        var r = Support.Deja.Run(dir.Path, "detect", "--model", "analytic", "--method", "bright-ending", "--out", "s.jsonl");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Equal("deja: bright-ending: Bright Ending reads the cross-attention maps of a Stable Diffusion UNet; the model analytic-demo-0 has no cross-attention layers " +
            "(use a pipeline folder, not the analytic model)", Assert.Single(r.ErrorLines));
        Assert.False(File.Exists(dir.File("s.jsonl")));
    }
}
