using Deja.Diffusion.Pipelines;
using Deja.Tensors;

namespace Deja.Memorization.Replication;

/// <summary>
/// What `deja replicate` compares with the training images: the n generations of one caption (seeds
/// seed + j, all n in one batched guided DDIM run) as images [C, H, W] in [0, 1]. One place, so that
/// whoever re-checks a benchmark row generates exactly what the benchmark was made from.
/// </summary>
public static class CaptionGenerations
{
    public static float[][] Generate(StableDiffusionPipeline pipe, string caption, int n, long seed, int steps, double guidance, int size)
    {
        using var scope = TensorScope.Enter();
        using var embeds = pipe.EncodePrompts(caption);
        var latents = Ops.Concat([.. Enumerable.Range(0, n).Select(j => Tensor.RandN(new Generator(seed + j), pipe.LatentShape(size, size)))], 0);
        var all = ToUnitRange(pipe.Decode(pipe.DenoiseBatch(embeds.Embeddings, latents, steps, guidance)).ToArray());
        int per = all.Length / n;
        return [.. Enumerable.Range(0, n).Select(j => all[(j * per)..((j + 1) * per)])];
    }

    /// <summary>Pixels in [−1, 1] (a pixel-space model's samples, a training image) mapped to [0, 1], clamped.</summary>
    public static float[] ToUnitRange(float[] signed) => [.. signed.Select(v => Math.Clamp((v + 1) / 2, 0f, 1f))];
}
