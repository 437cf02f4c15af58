using System.CommandLine;
using System.Diagnostics;
using Deja.Tensors;
using Deja.Tensors.Kernels;

namespace Deja.Cli;

/// <summary>
/// `deja bench panels`: Deja's shape-determined GEMM panels (single-threaded OpenBLAS per panel, the
/// default, thread-count invariant) against OpenBLAS's own threading, at the UNet's and text encoder's
/// product shapes. The two are timed alternately, many times, in one process, so that a busy or
/// throttled machine slows both alike and the ratio stays meaningful.
/// </summary>
public static class PanelsBench
{
    public static Command Command()
    {
        var rounds = new Option<int>("--rounds") { Description = "Alternations per shape (the median of each side is reported)", DefaultValueFactory = _ => 15 };
        var cmd = new Command("panels", "Deja's GEMM panels vs OpenBLAS's own threads, timed alternately\n\nExample: deja bench panels") { rounds };
        cmd.SetAction(pr => Run(pr.GetValue(rounds)));
        return cmd;
    }

    static readonly (string Name, int M, int N, int K)[] Shapes =
    [
        ("conv3x3 320ch 64² (fwd)", 320, 8192, 2880),
        ("conv3x3 1280ch 8² (fwd)", 1280, 128, 11520),
        ("linear 320→320 ×8192", 8192, 320, 320),
        ("geglu 320→2560 ×8192", 8192, 2560, 320),
        ("linear 1280→1280 ×128", 128, 1280, 1280),
        ("text 768→768 ×154", 154, 768, 768),
        ("sgemm 1024³", 1024, 1024, 1024),
    ];

    static int Run(int rounds)
    {
        if (!Blas.Available) throw new ArgumentException("bench panels: OpenBLAS is not loaded; nothing to compare");
        if (rounds < 1) throw new ArgumentException($"bench panels: --rounds must be at least 1, got {rounds}");
        Console.Error.WriteLine(EnvironmentReport.Describe());
        bool saved = Gemm.DejaPartitions;
        var g = new Generator(3);
        Console.WriteLine($"{"shape (m × n × k)",-40} {"panels GFLOPS",14} {"BLAS threads",13} {"ratio",7}");
        try
        {
            foreach (var (name, m, n, k) in Shapes)
            {
                using var a = Tensor.RandN(g, m, k);
                using var b = Tensor.RandN(g, k, n);
                double flops = 2.0 * m * n * k;
                int inner = (int)Math.Clamp(2e9 / flops, 1, 200); // ~10 ms of work per timing
                double Time(bool panels)
                {
                    Gemm.DejaPartitions = panels;
                    using (Ops.MatMul(a, b)) { } // warm
                    var sw = Stopwatch.StartNew();
                    for (int i = 0; i < inner; i++) using (Ops.MatMul(a, b)) { }
                    return sw.Elapsed.TotalSeconds / inner;
                }
                var p = new List<double>(); var o = new List<double>();
                for (int r = 0; r < rounds; r++) { p.Add(Time(true)); o.Add(Time(false)); }
                double tp = p.Order().ElementAt(rounds / 2), to = o.Order().ElementAt(rounds / 2);
                Console.WriteLine($"{$"{name} ({m}×{n}×{k})",-40} {flops / tp / 1e9,14:F0} {flops / to / 1e9,13:F0} {to / tp,7:F2}");
            }
        }
        finally { Gemm.DejaPartitions = saved; }
        return 0;
    }
}
