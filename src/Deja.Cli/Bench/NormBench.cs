using Deja.Tensors;
using Deja.Tensors.Kernels;

namespace Deja.Cli;

/// <summary>Normalization benchmarks at Stable Diffusion shapes.</summary>
public static class NormBench
{
    /// <summary>
    /// GroupNorm(32) forward on [2,320,64,64], the first ResNet block of SD's UNet at 512². The op is
    /// memory-bound (10.5 MB read, 10.5 MB written), so the note gives the bandwidth and, for scale, a
    /// parallel copy of the same bytes. The GFLOPS column uses a nominal 8 FLOPs per element (the two
    /// statistics passes and the normalize pass, FMA counted as 2).
    /// </summary>
    public static BenchResult GroupNormSd(Generator g)
    {
        using var x = Tensor.RandN(g, 2, 320, 64, 64);
        using var w = Tensor.RandN(g, 320);
        using var b = Tensor.RandN(g, 320);
        var secs = BenchTimer.Median(() => { using var y = Ops.GroupNorm(x, 32, w, b); }, warmup: 2, runs: 9);
        using var dst = Tensor.Empty(x.Shape);
        var copySecs = BenchTimer.Median(() => ParallelCopy(x, dst), warmup: 2, runs: 9);
        double bytes = 2.0 * x.Length * sizeof(float);
        return new BenchResult("group_norm_sd", secs, 8.0 * x.Length / secs / 1e9, BenchTimer.PeakRssMb(),
            $"{bytes / secs / 1e9:F1} GB/s (copy of the same bytes: {bytes / copySecs / 1e9:F1} GB/s)");
    }

    static void ParallelCopy(Tensor src, Tensor dst)
    {
        Threading.Chunks(src.Length, 1 << 16, (start, end) => src.ReadOnlySpan[start..end].CopyTo(dst.Span[start..end]));
    }
}
