using Deja.Diffusion.Text;
using Deja.Diffusion.Training;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.Training;

// Exact resume compares bits: it must not run while another test flips the thread count (OpenBLAS rounds differently).
[Collection(Deja.Diffusion.Tests.ThreadSensitive.Name)]
public class TrainerTests
{
    static ClipTokenizer Tokenizer() => ClipTokenizer.Load(TestData.Golden("tiny-sd1", "tokenizer"));

    /// <summary>Four flat-colour 16×16 images with captions: a trivially learnable toy set.</summary>
    static List<TrainingExample> ToyData()
    {
        (string Caption, float R, float G, float B)[] colours = [("a red image", 1, -1, -1), ("a green image", -1, 1, -1), ("a blue image", -1, -1, 1), ("a white image", 1, 1, 1)];
        return colours.Select(c =>
        {
            var px = new float[3 * 16 * 16];
            for (int i = 0; i < 256; i++) { px[i] = c.R; px[256 + i] = c.G; px[512 + i] = c.B; }
            return new TrainingExample(px, c.Caption, Repeats: c.Caption == "a red image" ? 3 : 1);
        }).ToList();
    }

    static float[] Weights(Trainer t) => t.UNet.NamedParameters().Concat(t.TextModel.NamedParameters()).SelectMany(p => p.Value.ToArray()).ToArray();

    [Fact]
    public void LossFallsOnAToySet()
    {
        var trainer = new Trainer(MiniConfig.Toy(), new TrainerOptions { Steps = 60, BatchSize = 8, WarmupSteps = 5, LearningRate = 2e-3 }, Tokenizer());
        var losses = new List<double>();
        trainer.Train(ToyData(), onStep: s => losses.Add(s.Loss));
        Assert.Equal(60, losses.Count);
        double first = losses.Take(10).Average(), last = losses.TakeLast(10).Average();
        Assert.True(last < 0.6 * first, $"loss {first:F3} → {last:F3}");
    }

    [Fact]
    public void ResumingFromACheckpointContinuesExactly()
    {
        var options = new TrainerOptions { Steps = 6, BatchSize = 4, WarmupSteps = 2, CheckpointEvery = 3 };
        var straight = new Trainer(MiniConfig.Toy(), options, Tokenizer());
        straight.Train(ToyData());
        var dir = Directory.CreateTempSubdirectory("deja-train-").FullName;
        try
        {
            var first = new Trainer(MiniConfig.Toy(), options with { Steps = 3 }, Tokenizer());
            first.Train(ToyData(), checkpoint: t => t.SaveCheckpoint(dir));
            Assert.True(Trainer.HasCheckpoint(dir));
            var resumed = new Trainer(MiniConfig.Toy(), options, Tokenizer());
            resumed.LoadCheckpoint(dir);
            Assert.Equal(3, resumed.Step);
            resumed.Train(ToyData());
            Assert.Equal(Weights(straight), Weights(resumed));
            var other = new Trainer(MiniConfig.Toy(), options with { LearningRate = 5e-4 }, Tokenizer());
            Assert.Contains("learning_rate", Assert.Throws<DejaException>(() => other.LoadCheckpoint(dir)).Message);
            var noOffset = new Trainer(MiniConfig.Toy(), options with { OffsetNoise = 0 }, Tokenizer());
            Assert.Contains("offset_noise", Assert.Throws<DejaException>(() => noOffset.LoadCheckpoint(dir)).Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void FilterDropsSamplesAboveTheThreshold()
    {
        var kept = new List<int>();
        var all = new Trainer(MiniConfig.Toy(), new TrainerOptions { Steps = 2, BatchSize = 4, FilterThreshold = 1e9 }, Tokenizer());
        all.Train(ToyData(), onStep: s => kept.Add(s.Kept));
        Assert.Equal([4, 4], kept);
        var none = new Trainer(MiniConfig.Toy(), new TrainerOptions { Steps = 2, BatchSize = 4, FilterThreshold = 1e-9 }, Tokenizer());
        var before = Weights(none);
        var steps = new List<TrainingStep>();
        none.Train(ToyData(), onStep: steps.Add);
        Assert.All(steps, s => Assert.True(s.Skipped));
        Assert.Equal(before, Weights(none)); // no sample kept: no optimizer step at all
    }

    /// <summary>W's training baseline: the captions change (so do the weights), the step's other draws do not
    /// (the same x_t, noise and dropout: the loss of step 1 differs only through the text), and 0 is off.</summary>
    [Fact]
    public void RandomTokenAugmentationChangesOnlyTheCaptions()
    {
        TrainerOptions options = new() { Steps = 2, BatchSize = 4 };
        var plain = new Trainer(MiniConfig.Toy(), options, Tokenizer());
        plain.Train(ToyData());
        var off = new Trainer(MiniConfig.Toy(), options with { AugmentRandomTokens = 0 }, Tokenizer());
        off.Train(ToyData());
        Assert.Equal(Weights(plain), Weights(off));

        var augmented = new Trainer(MiniConfig.Toy(), options with { AugmentRandomTokens = 2 }, Tokenizer());
        augmented.Train(ToyData());
        Assert.NotEqual(Weights(plain), Weights(augmented));
        var again = new Trainer(MiniConfig.Toy(), options with { AugmentRandomTokens = 2 }, Tokenizer());
        again.Train(ToyData());
        Assert.Equal(Weights(augmented), Weights(again)); // seeded: the same words every run
        Assert.Throws<ArgumentException>(() => new TrainerOptions { AugmentRandomTokens = -1 }.Validate());
    }
}
