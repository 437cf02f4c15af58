using Deja.Tensors;

namespace Deja.Cli;

/// <summary>
/// Attention at SD 1.x's 64×64-latent shapes (8 heads of 40 dims): self-attention over 4096 tokens
/// and cross-attention to 77 text tokens. FLOPs count both products, 4·B·H·Lq·Lk·D for the forward;
/// the backward adds five more (P recomputed, dV, dP, dQ, dK), 14·B·H·Lq·Lk·D in all.
/// Extra memory is the growth of peak RSS over the process's RSS once the inputs exist (the peak is
/// reset first through /proc/self/clear_refs where Linux allows it).
/// </summary>
public static class AttentionBench
{
    public static BenchResult SelfAttentionSd(Generator g) => Forward("self_attention_sd", 2, 8, 4096, 4096, 40, g);
    public static BenchResult CrossAttentionSd(Generator g) => Forward("cross_attention_sd", 2, 8, 4096, 77, 40, g);

    static BenchResult Forward(string name, int b, int h, int lq, int lk, int d, Generator g)
    {
        using var q = Tensor.RandN(g, b, h, lq, d);
        using var k = Tensor.RandN(g, b, h, lk, d);
        using var v = Tensor.RandN(g, b, h, lk, d);
        double extra = ExtraPeakMb(() => { using var o = Ops.ScaledDotProductAttention(q, k, v); });
        // Short calls get more runs: the median of many is steadier on a shared machine.
        int runs = lk < 1024 ? 21 : 5;
        var secs = BenchTimer.Median(() => { using var o = Ops.ScaledDotProductAttention(q, k, v); }, warmup: 2, runs: runs);
        double flops = 4.0 * b * h * lq * lk * d;
        return new BenchResult(name, secs, flops / secs / 1e9, BenchTimer.PeakRssMb(),
            $"B{b} H{h} Lq{lq} Lk{lk} D{d}; extra peak RSS {extra:F0} MB (output {OutputMb(b, h, lq, d):F1} MB)");
    }

    public static BenchResult SelfAttentionSdForwardBackward(Generator g)
    {
        const int b = 2, h = 8, l = 4096, d = 40;
        using var q = Tensor.RandN(g, b, h, l, d).RequireGrad();
        using var k = Tensor.RandN(g, b, h, l, d).RequireGrad();
        using var v = Tensor.RandN(g, b, h, l, d).RequireGrad();
        using var dO = Tensor.RandN(g, b, h, l, d);
        void Step()
        {
            using var o = Ops.ScaledDotProductAttention(q, k, v);
            var grads = Autograd.Grad([o], [q, k, v], [dO]);
            foreach (var t in grads) t?.Dispose();
        }
        double extra = ExtraPeakMb(Step);
        var secs = BenchTimer.Median(Step, warmup: 1, runs: 3);
        double flops = 14.0 * b * h * l * l * d;
        return new BenchResult("self_attention_sd_fwdbwd", secs, flops / secs / 1e9, BenchTimer.PeakRssMb(),
            $"B{b} H{h} L{l} D{d} forward+backward; extra peak RSS {extra:F0} MB (output + 3 grads {4 * OutputMb(b, h, l, d):F1} MB)");
    }

    static double OutputMb(int b, int h, int l, int d) => 4.0 * b * h * l * d / 1048576.0;

    /// <summary>Peak RSS growth of one call over the RSS before it, in MB (NaN when the peak cannot be reset).</summary>
    static double ExtraPeakMb(Action body)
    {
        GC.Collect();
        try { File.WriteAllText("/proc/self/clear_refs", "5"); } // 5: reset the peak RSS to the current RSS
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return double.NaN; }
        double before = BenchTimer.RssMb();
        if (BenchTimer.PeakRssMb() > before + 1) return double.NaN;
        body();
        return BenchTimer.PeakRssMb() - before;
    }
}
