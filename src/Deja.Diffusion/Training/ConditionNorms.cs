using Deja.Diffusion.Models.Clip;
using Deja.Diffusion.Models.UNet;
using Deja.Diffusion.Schedulers;
using Deja.Diffusion.Text;
using Deja.Tensors;

namespace Deja.Diffusion.Training;

/// <summary>One measured sample of <see cref="ConditionNorms.Survey"/>: which example, at which t, and its r.</summary>
public sealed record ConditionNormSample(int Example, int Timestep, float Norm);

/// <summary>
/// r_b = ‖ε̂(x_t, t, e_c) − ε̂(x_t, t, e_∅)‖₂ over a sample's whole tensor: the quantity Wen et al.'s
/// training-time filter (METHODS.md §1.4, `deja train --filter-threshold τ`) compares with τ. The
/// trainer calls <see cref="Of"/> inside each step; <see cref="Survey"/> measures the same quantity on a
/// trained model over a dataset (`deja filter-norms`), drawing x_t exactly as a training step does, so
/// that τ can be chosen from the measured distribution instead of borrowed from SD1's latents.
/// </summary>
public static class ConditionNorms
{
    /// <summary>r per sample, given the conditional prediction already made (no gradient flows through it).</summary>
    public static float[] Of(UNet2DConditionModel unet, ClipTextModel text, ClipTokenizer tokenizer, Tensor xt, float[] timesteps, Tensor conditional)
    {
        using var _ = GradMode.NoGrad();
        int b = xt.Shape[0];
        var nullIds = Enumerable.Repeat(tokenizer.EncodePadded("").Ids, b).ToArray();
        var unconditional = unet.Forward(xt, timesteps, text.Forward(nullIds));
        return Ops.Norm(conditional.Detach() - unconditional, [1, 2, 3]).ToArray();
    }

    /// <summary>
    /// Measures r on every example <paramref name="perExample"/> times (each with its own t ~ U{0..T−1},
    /// noise and offset noise, as a training step draws them; the caption never dropped), in batches.
    /// Draws come from a generator per (seed, example, draw), so the result does not depend on the batch size.
    /// </summary>
    public static List<ConditionNormSample> Survey(UNet2DConditionModel unet, ClipTextModel text, ClipTokenizer tokenizer, NoiseSchedule schedule,
        IReadOnlyList<TrainingExample> examples, int channels, int size, int perExample = 4, ulong seed = 0, double offsetNoise = 0.1,
        int batchSize = 32, Action<int, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(examples);
        if (perExample < 1) throw new ArgumentException($"filter-norms: draws per example must be at least 1, got {perExample}");
        if (batchSize < 1) throw new ArgumentException($"filter-norms: batch size must be at least 1, got {batchSize}");
        using var _ = GradMode.NoGrad();
        var jobs = new List<(int Example, int Draw)>();
        for (int e = 0; e < examples.Count; e++) for (int d = 0; d < perExample; d++) jobs.Add((e, d));
        int n = channels * size * size;
        var result = new List<ConditionNormSample>(jobs.Count);
        for (int start = 0; start < jobs.Count; start += batchSize)
        {
            int b = Math.Min(batchSize, jobs.Count - start);
            var x = new float[b * n]; var t = new float[b];
            var ids = new int[b][];
            for (int i = 0; i < b; i++)
            {
                var (e, d) = jobs[start + i];
                var example = examples[e];
                if (example.Pixels.Length != n) throw new ArgumentException($"filter-norms: an image of {example.Pixels.Length} values, the model needs {channels}×{size}×{size}");
                var g = new Generator(unchecked(seed * 0x9E3779B97F4A7C15UL + (ulong)e * 0xD1B54A32D192ED03UL + (ulong)d + 1));
                int step = g.NextInt(schedule.TrainTimesteps);
                float a = MathF.Sqrt(schedule.AlphaBar(step)), sigma = schedule.Sigma(step);
                using (TensorScope.Enter())
                {
                    var noise = Tensor.RandN(g, 1, channels, size, size);
                    if (offsetNoise > 0) noise = noise + Tensor.RandN(g, 1, channels, 1, 1) * (float)offsetNoise;
                    var eps = noise.ToArray();
                    for (int j = 0; j < n; j++) x[i * n + j] = a * example.Pixels[j] + sigma * eps[j];
                }
                t[i] = step;
                ids[i] = tokenizer.EncodePadded(example.Caption).Ids;
            }
            using (TensorScope.Enter())
            {
                var xt = Tensor.FromArray(x, b, channels, size, size);
                var conditional = unet.Forward(xt, t, text.Forward(ids));
                var norms = Of(unet, text, tokenizer, xt, t, conditional);
                for (int i = 0; i < b; i++) result.Add(new ConditionNormSample(jobs[start + i].Example, (int)t[i], norms[i]));
            }
            progress?.Invoke(Math.Min(start + b, jobs.Count), jobs.Count);
        }
        return result;
    }
}
