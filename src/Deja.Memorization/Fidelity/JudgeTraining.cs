using System.Diagnostics;
using Deja.Tensors;
using Deja.Tensors.Optim;

namespace Deja.Memorization.Fidelity;

/// <summary>`deja judge train` options.</summary>
public sealed record JudgeTrainingOptions
{
    public int Steps { get; init; } = 4000;
    public int BatchSize { get; init; } = 64;
    /// <summary>Adam's peak learning rate, reached after <see cref="WarmupSteps"/> and decayed to zero on a cosine.</summary>
    public double LearningRate { get; init; } = 2e-3;
    public int WarmupSteps { get; init; } = 100;
    public ulong Seed { get; init; }
    public JudgeDataOptions Data { get; init; } = JudgeDataOptions.Training;

    public void Validate()
    {
        if (Steps < 1) throw new DejaException($"judge train: --steps must be at least 1, got {Steps}");
        if (BatchSize < 1) throw new DejaException($"judge train: --batch must be at least 1, got {BatchSize}");
        if (!(LearningRate > 0)) throw new DejaException($"judge train: --lr must be positive, got {LearningRate}");
        if (WarmupSteps < 0) throw new DejaException($"judge train: --warmup must not be negative, got {WarmupSteps}");
    }

    public double LearningRateAt(int step) => step <= WarmupSteps
        ? LearningRate * step / Math.Max(1, WarmupSteps)
        : LearningRate * 0.5 * (1 + Math.Cos(Math.PI * (step - WarmupSteps) / Math.Max(1, Steps - WarmupSteps)));
}

/// <summary>One step's record: the mean loss per image and the time since the run started.</summary>
public sealed record JudgeTrainingStep(int Step, double Loss, double LearningRate, TimeSpan Elapsed);

/// <summary>
/// Trains the judge on images drawn afresh for every step (<see cref="JudgeData"/>): there is no dataset
/// to overfit, and the held-out evaluation draws from another seed. The initialization and every batch
/// come from <see cref="JudgeTrainingOptions.Seed"/>, so a seed gives the same weights. Adam (no weight
/// decay), linear warm-up then cosine decay; the loss is the sum of the heads' cross-entropies.
/// </summary>
public static class JudgeTraining
{
    public static JudgeNetwork Train(JudgeConfig config, JudgeTrainingOptions options, Action<JudgeTrainingStep>? onStep = null, CancellationToken cancel = default)
    {
        options.Validate();
        var g = new Generator(options.Seed);
        var network = new JudgeNetwork(config, g.Fork());
        var optimizer = new Adam(network.NamedParameters(), options.LearningRate);
        var clock = Stopwatch.StartNew();
        for (int step = 1; step <= options.Steps; step++)
        {
            cancel.ThrowIfCancellationRequested();
            var batch = JudgeData.Draw(g, options.BatchSize, config.ImageSize, options.Data);
            double lr = options.LearningRateAt(step);
            optimizer.LearningRate = lr;
            double value;
            using (TensorScope.Enter())
            {
                using var images = Tensor.FromArray(batch.Pixels, batch.Count, 3, config.ImageSize, config.ImageSize);
                var (cells, background) = network.Forward(images);
                var loss = Loss(cells, background, batch);
                value = loss.Item();
                optimizer.ZeroGrad();
                loss.Backward();
                optimizer.Step();
            }
            onStep?.Invoke(new JudgeTrainingStep(step, value, lr, clock.Elapsed));
        }
        network.Eval();
        return network;
    }

    /// <summary>
    /// Σ over the heads of the cross-entropy of the labelled entries, divided by the number of images: the
    /// background's colour and texture for every image, a cell's presence unless a logo hides it, its
    /// colour, shape and size where it holds a visible object.
    /// </summary>
    public static Tensor Loss(Tensor cells, Tensor background, JudgeBatch batch)
    {
        int n = batch.Count;
        int nc = JudgeConfig.Colours.Length, ns = JudgeConfig.Shapes.Length, nz = JudgeConfig.Sizes.Length, nt = JudgeConfig.Textures.Length;
        var terms = new List<Tensor>
        {
            Picked(Ops.Narrow(cells, 1, 0, 2), batch.Present),
            Picked(Ops.Narrow(cells, 1, 2, nc), batch.Colour),
            Picked(Ops.Narrow(cells, 1, 2 + nc, ns), batch.Shape),
            Picked(Ops.Narrow(cells, 1, 2 + nc + ns, nz), batch.Size),
            Picked(Ops.Narrow(background, 1, 0, nc), batch.Background),
            Picked(Ops.Narrow(background, 1, nc, nt), batch.Texture),
        };
        var total = terms.Aggregate((a, b) => a + b);
        return total * (-1f / n);
    }

    /// <summary>Σ over rows with a label of log softmax(logits)[row, label]; label −1 rows add nothing.</summary>
    static Tensor Picked(Tensor logits, int[] labels)
    {
        int rows = logits.Shape[0], k = logits.Shape[1];
        var onehot = new float[rows * k];
        for (int r = 0; r < rows; r++)
            if (labels[r] >= 0) onehot[r * k + labels[r]] = 1;
        using var weights = Tensor.FromArray(onehot, rows, k);
        return Ops.Sum(Ops.LogSoftmax(logits, 1) * weights);
    }
}
