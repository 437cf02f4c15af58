using Deja.Diffusion.Data;
using Deja.Diffusion.IO;
using Deja.Memorization.Fidelity;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Fidelity;

/// <summary>The judge's network, loss, data and training: shapes, closed-form losses, labels, determinism, learning.</summary>
public class JudgeNetworkTests
{
    [Fact]
    public void ForwardGivesEighteenLogitsPerCellAndTwelveForTheBackground()
    {
        var net = new JudgeNetwork(new JudgeConfig(), new Generator(1));
        using var x = Tensor.Uniform(new Generator(2), -1, 1, 2, 3, 32, 32);
        var (cells, background) = net.Forward(x);
        Assert.Equal([18, 18], cells.Shape);
        Assert.Equal([2, 12], background.Shape);
        Assert.Equal(2 + 8 + 6 + 2, JudgeConfig.CellOutputs);
        // ≤ 2 MB as F16 with room to spare, even as F32
        Assert.InRange(net.ParameterCount(), 300_000, 500_000);
        Assert.Throws<ArgumentException>(() => net.Forward(Tensor.Zeros(1, 3, 16, 16)));
    }

    [Fact]
    public void CellLogitsOfOneImageDoNotDependOnAnother()
    {
        var net = new JudgeNetwork(new JudgeConfig(), new Generator(1));
        net.Eval();
        var a = Tensor.Uniform(new Generator(3), -1, 1, 1, 3, 32, 32);
        var b = Tensor.Uniform(new Generator(4), -1, 1, 1, 3, 32, 32);
        var alone = net.Forward(a).Cells.ToArray();
        var together = net.Forward(Ops.Concat([a, b], 0)).Cells.ToArray();
        for (int i = 0; i < alone.Length; i++) Assert.Equal(alone[i], together[i], 1e-5f); // batched products round differently
    }

    [Fact]
    public void LossOfUniformLogitsIsTheSumOfLogClassCounts()
    {
        // one image with a logo over the top band (cells 0–2 unlabelled) and two objects, one of them under the band
        var scene = new Scene([new SceneObject("circle", "red", "large", 0, 1), new SceneObject("ring", "blue", "small", 2, 2)], "dotted", "white");
        var batch = Batch(scene, "top-band");
        Assert.Equal([-1, -1, -1, 0, 0, 0, 0, 0, 1], batch.Present);
        Assert.Equal([-1, -1, -1, -1, -1, -1, -1, -1, Array.IndexOf(JudgeConfig.Colours, "blue")], batch.Colour);
        using var cells = Tensor.Zeros(9, JudgeConfig.CellOutputs);
        using var background = Tensor.Zeros(1, JudgeConfig.BackgroundOutputs);
        float loss = JudgeTraining.Loss(cells, background, batch).Item();
        double expected = Math.Log(8) + Math.Log(4) + 6 * Math.Log(2) + Math.Log(8) + Math.Log(6) + Math.Log(2);
        Assert.Equal(expected, loss, 4);
    }

    [Fact]
    public void LossRewardsTheRightClass()
    {
        var scene = new Scene([new SceneObject("circle", "red", "large", 1, 1)], "plain", "black");
        var batch = Batch(scene, null);
        var cells = new float[9 * JudgeConfig.CellOutputs];
        var background = new float[JudgeConfig.BackgroundOutputs];
        background[Array.IndexOf(JudgeConfig.Colours, "black")] = 50; // the right background colour, confidently
        using var c = Tensor.FromArray(cells, 9, JudgeConfig.CellOutputs);
        using var b = Tensor.FromArray(background, 1, JudgeConfig.BackgroundOutputs);
        double expected = Math.Log(4) + 9 * Math.Log(2) + Math.Log(8) + Math.Log(6) + Math.Log(2); // the colour term is ~0
        Assert.Equal(expected, JudgeTraining.Loss(c, b, batch).Item(), 4);
    }

    static JudgeBatch Batch(Scene scene, string? region)
    {
        // the labelling of JudgeData, on a fixed scene: draw one image and swap its scene in through a fresh draw's labels
        var hidden = LogoOcclusion.HiddenCells(region, 32);
        var present = new int[9];
        int[] colour = Enumerable.Repeat(-1, 9).ToArray(), shape = (int[])colour.Clone(), size = (int[])colour.Clone();
        foreach (var o in scene.Objects)
        {
            int k = o.Row * 3 + o.Column;
            present[k] = 1;
            colour[k] = Array.IndexOf(JudgeConfig.Colours, o.Colour);
            shape[k] = Array.IndexOf(JudgeConfig.Shapes, o.Shape);
            size[k] = Array.IndexOf(JudgeConfig.Sizes, o.Size);
        }
        for (int k = 0; k < 9; k++) if (hidden[k]) present[k] = colour[k] = shape[k] = size[k] = -1;
        return new JudgeBatch
        {
            Count = 1, ImageSize = 32, Pixels = new float[3 * 32 * 32], Scenes = [scene], Regions = [region],
            Background = [Array.IndexOf(JudgeConfig.Colours, scene.Background)], Texture = [Array.IndexOf(JudgeConfig.Textures, scene.Texture)],
            Present = present, Colour = colour, Shape = shape, Size = size,
        };
    }

    [Fact]
    public void DrawnBatchesAreLabelledFromTheirScenesAndRepeatForASeed()
    {
        var options = JudgeDataOptions.Training with { LogoProbability = 0.5 };
        var a = JudgeData.Draw(new Generator(11), 40, 32, options);
        var b = JudgeData.Draw(new Generator(11), 40, 32, options);
        Assert.Equal(a.Pixels, b.Pixels);
        Assert.All(a.Pixels, v => Assert.InRange(v, -1f, 1f));
        Assert.Contains(a.Regions, r => r is not null);
        Assert.Contains(a.Scenes, s => s.Objects.Count == 3);
        for (int i = 0; i < a.Count; i++)
        {
            var hidden = LogoOcclusion.HiddenCells(a.Regions[i], 32);
            var cells = a.Scenes[i].Objects.ToDictionary(o => o.Row * 3 + o.Column);
            for (int c = 0; c < 9; c++)
            {
                int k = i * 9 + c;
                if (hidden[c]) Assert.Equal(-1, a.Present[k]);
                else if (cells.TryGetValue(c, out var o))
                {
                    Assert.Equal(1, a.Present[k]);
                    Assert.Equal(o.Shape, JudgeConfig.Shapes[a.Shape[k]]);
                    Assert.Equal(o.Colour, JudgeConfig.Colours[a.Colour[k]]);
                }
                else Assert.Equal((0, -1), (a.Present[k], a.Colour[k]));
            }
            Assert.Equal(a.Scenes[i].Background, JudgeConfig.Colours[a.Background[i]]);
        }
        // without logo and degradation the pixels are the renderer's
        var plain = JudgeData.Draw(new Generator(5), 1, 32, new JudgeDataOptions());
        var render = SceneRenderer.Render(plain.Scenes[0], 32);
        Assert.Equal(render.Pixels[0] / 127.5f - 1, plain.Pixels[0]);
        Assert.Equal(render.Pixels[3 * 40 + 2] / 127.5f - 1, plain.Pixels[2 * 1024 + 40]);
    }

    [Fact]
    public void TrainingIsDeterministicAndLowersTheLoss()
    {
        var options = new JudgeTrainingOptions { Steps = 40, BatchSize = 16, WarmupSteps = 5, Seed = 3 };
        var losses = new List<double>();
        var net = JudgeTraining.Train(new JudgeConfig(), options, s => losses.Add(s.Loss));
        Assert.Equal(40, losses.Count);
        Assert.True(losses.TakeLast(8).Average() < 0.9 * losses.Take(8).Average(), $"loss {losses.Take(8).Average():F3} → {losses.TakeLast(8).Average():F3}");

        var again = JudgeTraining.Train(new JudgeConfig(), options with { Steps = 2 });
        var twice = JudgeTraining.Train(new JudgeConfig(), options with { Steps = 2 });
        foreach (var (name, t) in again.NamedParameters()) Assert.Equal(t.ToArray(), twice.StateDict()[name].ToArray());
    }

    [Fact]
    public void SavedJudgesLoadWithTheSameReadingsAndForeignVocabulariesAreRefused()
    {
        var dir = Path.Combine(Path.GetTempPath(), "deja-judge-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            var net = new JudgeNetwork(new JudgeConfig(), new Generator(9));
            CaptionJudge.Save(net, dir, new Dictionary<string, string> { ["deja_judge_seed"] = "9" }, "# test\n", SafeTensorsDType.F32);
            var loaded = CaptionJudge.Load(dir);
            Assert.Equal("9", loaded.Metadata["deja_judge_seed"]);
            var batch = JudgeData.Draw(new Generator(1), 6, 32, JudgeDataOptions.HeldOut);
            var images = Enumerable.Range(0, 6).Select(batch.Image).ToList();
            Assert.Equal(new CaptionJudge(net).Predict(images).Select(Describe), loaded.Predict(images).Select(Describe));

            var config = Path.Combine(dir, CaptionJudge.ConfigFile);
            File.WriteAllText(config, File.ReadAllText(config).Replace("\"purple\"", "\"violet\""));
            var e = Assert.Throws<DejaException>(() => CaptionJudge.Load(dir));
            Assert.Contains("colours", e.Message);
            Assert.Contains("judge", Assert.Throws<DejaException>(() => CaptionJudge.Load(Path.Combine(dir, "missing"))).Message);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    static string Describe(JudgePrediction p) => $"{p.Background} {p.Texture} " + string.Join(",", p.Cells.Select(c => $"{c.Present}{c.Colour}{c.Shape}{c.Size}"));

    [Fact]
    public void ImagesOfTheWrongSizeAreRefused()
    {
        var judge = new CaptionJudge(new JudgeNetwork(new JudgeConfig()));
        var e = Assert.Throws<DejaException>(() => judge.Fidelity("a large red circle at the top on a white background", new float[3 * 16 * 16]));
        Assert.Contains("3×32×32", e.Message);
        Assert.Throws<DejaException>(() => judge.Fidelity("a cat", new float[3 * 32 * 32]));
    }
}
