using System.CommandLine;
using Deja.Tensors;
using Deja.Tensors.Kernels;

namespace Deja.Cli;

/// <summary>`deja bench ops`: the engine's kernels at Stable Diffusion shapes.</summary>
public static class OpsBench
{
    public static Command Command()
    {
        var json = new Option<bool>("--json") { Description = "One JSON object per line instead of a table" };
        var cmd = new Command("ops", "Benchmark GEMM, conv2d, attention and group_norm at SD shapes\n\nExample: deja bench ops --json") { json };
        cmd.SetAction(pr => Run(pr.GetValue(json)));
        return cmd;
    }

    static int Run(bool json)
    {
        Console.Error.WriteLine($"threads {Threading.Threads}, BLAS {(Blas.Available ? Blas.LibraryPath : "none")}, kernels {Blas.CoreName}");
        var g = new Generator(1);
        // Each entry starts from a clean slate (BenchTimer.Isolate), so its peak RSS is its own.
        var entries = new List<Func<BenchResult>>
        {
            () => Sgemm("sgemm_1024", 1024, 1024, 1024, g),
            () => Sgemm("sgemm_4096x2880x320", 4096, 2880, 320, g),
            () => Sgemm("sgemm_4096x320x4096", 4096, 320, 4096, g),
            () => Sgemm("sgemm_4096x40x4096", 4096, 40, 4096, g),
            () => AttentionBench.SelfAttentionSd(g),
            () => AttentionBench.CrossAttentionSd(g),
            () => AttentionBench.SelfAttentionSdForwardBackward(g),
            () => NormBench.GroupNormSd(g),
            () => ConvBench.Forward(g),
            () => ConvBench.ForwardBackward(g),
        };
        var results = new List<BenchResult>();
        foreach (var entry in entries)
        {
            BenchTimer.Isolate();
            var r = entry();
            results.Add(r);
            if (!json) Console.Error.WriteLine($"  {r.Name}: {r.Seconds:F4} s");
        }
        BenchReport.Print(results, json);
        return 0;
    }

    internal static BenchResult Sgemm(string name, int m, int k, int n, Generator g)
    {
        using var a = Tensor.RandN(g, m, k);
        using var b = Tensor.RandN(g, k, n);
        var secs = BenchTimer.Median(() => { using var c = Ops.MatMul(a, b); }, warmup: 1, runs: 5);
        return new BenchResult(name, secs, 2.0 * m * n * k / secs / 1e9, BenchTimer.PeakRssMb());
    }
}
