using Deja.Diffusion.Schedulers;
using Deja.Diffusion.Text;
using Deja.Diffusion.Training;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.Training;

/// <summary>r = ‖ε_c − ε_u‖ of Wen's training filter: the trainer's per-step values and the survey of `deja filter-norms`.</summary>
[Collection(Deja.Diffusion.Tests.ThreadSensitive.Name)]
public class ConditionNormsTests
{
    static ClipTokenizer Tokenizer() => ClipTokenizer.Load(TestData.Golden("tiny-sd1", "tokenizer"));

    static List<TrainingExample> ToyData() =>
        [.. new[] { ("a red image", 1f, 3), ("a green image", -1f, 1), ("", 0.5f, 2) }.Select(c =>
            new TrainingExample(Enumerable.Range(0, 3 * 16 * 16).Select(i => c.Item2 * (i % 7 - 3) / 3f).ToArray(), c.Item1, c.Item3))];

    static NoiseSchedule Schedule() => Trainer.CreateSchedule();

    /// <summary>The filter keeps exactly the samples whose logged r is below τ, and the log carries each sample's repeat count.</summary>
    [Fact]
    public void TheFilterKeepsExactlyTheSamplesWhoseLoggedNormIsBelowTau()
    {
        var data = ToyData();
        var probe = new List<TrainingStep>();
        new Trainer(MiniConfig.Toy(), new TrainerOptions { Steps = 1, BatchSize = 8, FilterThreshold = 1e9 }, Tokenizer()).Train(data, onStep: probe.Add);
        var norms = probe[0].Norms!;
        Assert.Equal(8, norms.Length);
        Assert.All(probe[0].Repeats!, r => Assert.Contains(r, new[] { 3, 1, 2 }));
        Assert.Contains(norms, v => v > 0.01f);
        // the empty caption (and a dropped one) conditions on e_∅ itself: r is exactly 0
        // (up to float rounding: the two passes batch the same states beside different neighbours)
        for (int i = 0; i < 8; i++) if (probe[0].Repeats![i] == 2) Assert.InRange(norms[i], 0f, 1e-4f);

        var real = norms.Where(v => v > 0.01f).Order().ToArray();
        double tau = real[real.Length / 2]; // a τ between the measured values
        var filtered = new List<TrainingStep>();
        new Trainer(MiniConfig.Toy(), new TrainerOptions { Steps = 1, BatchSize = 8, FilterThreshold = tau }, Tokenizer()).Train(data, onStep: filtered.Add);
        Assert.Equal(norms, filtered[0].Norms); // step 1 starts from the same weights and draws: the same r
        Assert.Equal(norms.Count(v => v < tau), filtered[0].Kept);
        Assert.InRange(filtered[0].Kept, 1, 7);

        var plain = new List<TrainingStep>();
        new Trainer(MiniConfig.Toy(), new TrainerOptions { Steps = 1, BatchSize = 8 }, Tokenizer()).Train(data, onStep: plain.Add);
        Assert.Null(plain[0].Norms); // without the filter no unconditional pass is paid for
        Assert.Equal(probe[0].Repeats, plain[0].Repeats);
    }

    /// <summary>The survey's draws belong to (seed, example, draw), so the batch size does not change which x_t is measured.</summary>
    [Fact]
    public void TheSurveyDoesNotDependOnTheBatchSizeAndFollowsTheSeed()
    {
        var trainer = new Trainer(MiniConfig.Toy(), new TrainerOptions { Steps = 3, BatchSize = 4 }, Tokenizer());
        var data = ToyData();
        trainer.Train(data);
        List<ConditionNormSample> Survey(int batch, ulong seed) =>
            ConditionNorms.Survey(trainer.UNet, trainer.TextModel, trainer.Tokenizer, Schedule(), data, 3, 16, perExample: 3, seed: seed, batchSize: batch);
        var one = Survey(1, 0); var five = Survey(5, 0); var other = Survey(5, 1);
        Assert.Equal(9, one.Count);
        Assert.Equal(one.Select(s => (s.Example, s.Timestep)), five.Select(s => (s.Example, s.Timestep)));
        for (int i = 0; i < one.Count; i++) Assert.True(Math.Abs(one[i].Norm - five[i].Norm) <= 1e-4f * (1 + one[i].Norm), $"{one[i]} vs {five[i]}");
        Assert.NotEqual(one.Select(s => s.Timestep), other.Select(s => s.Timestep));
        Assert.All(one.Where(s => s.Example == 2), s => Assert.InRange(s.Norm, 0f, 1e-4f)); // the empty caption
        Assert.All(one.Where(s => s.Example != 2), s => Assert.True(s.Norm > 0.01f, $"{s}"));
        Assert.Throws<ArgumentException>(() => Survey(0, 0));
    }
}
