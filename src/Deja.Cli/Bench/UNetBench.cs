using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Deja.Diffusion.Models.UNet;
using Deja.Tensors;
using Deja.Tensors.Kernels;

namespace Deja.Cli;

/// <summary>
/// `deja bench unet`: one full-size SD UNet forward (random weights, no files) under NoGrad at the
/// model's native latent size: median wall time, analytic GFLOP, peak RSS (weights included) and where
/// the time goes by kind of operation. Each forward is preceded by the reference sgemm — the faster of
/// `deja bench ops`' 1024³ and (4096, 320, 4096) products, with OpenBLAS's own threading (its best,
/// not Deja's panels) — so the UNet's share of this CPU's sgemm throughput (the engine's goal: ≥ 85 %)
/// is measured back to back, under the same load, even on a busy machine.
/// </summary>
public static class UNetBench
{
    public static Command Command()
    {
        var config = new Option<string>("--config") { Description = "sd1 (v1.4: 64x64 latents, context 768) or sd2 (2.1: 96x96, context 1024)", DefaultValueFactory = _ => "sd1" };
        var batch = new Option<int>("--batch") { Description = "Batch size (2 = one classifier-free guidance step)", DefaultValueFactory = _ => 2 };
        var runs = new Option<int>("--runs") { Description = "Timed forwards (the median is reported)", DefaultValueFactory = _ => 3 };
        var json = new Option<bool>("--json") { Description = "One JSON object instead of a table" };
        var vjp = new Option<bool>("--vjp") { Description = "Forward plus one VJP with respect to the latents and the text states (no weight gradients)" };
        var cmd = new Command("unet", "Benchmark a full-size Stable Diffusion UNet forward\n\nExample: deja bench unet --config sd1 --batch 2") { config, batch, runs, json, vjp };
        cmd.SetAction(pr => Run(pr.GetValue(config)!, pr.GetValue(batch), pr.GetValue(runs), pr.GetValue(json), pr.GetValue(vjp)));
        return cmd;
    }

    /// <summary>GFLOPS of the faster of two `deja bench ops` products, timed as that bench times them, with
    /// OpenBLAS's own threads.</summary>
    static double ReferenceSgemm(Generator g)
    {
        bool panels = Gemm.DejaPartitions;
        try
        {
            if (Blas.Available) Gemm.DejaPartitions = false;
            return Math.Max(OpsBench.Sgemm("sgemm_1024", 1024, 1024, 1024, g).Gflops, OpsBench.Sgemm("sgemm_4096x320x4096", 4096, 320, 4096, g).Gflops);
        }
        finally { Gemm.DejaPartitions = panels; }
    }

    static int Run(string which, int batch, int runs, bool json, bool vjp)
    {
        var config = which switch
        {
            "sd1" => UNetPresets.StableDiffusion1(),
            "sd2" => UNetPresets.StableDiffusion2(),
            _ => throw new ArgumentException($"bench unet: --config must be sd1 or sd2, got '{which}'"),
        };
        if (batch < 1) throw new ArgumentException($"bench unet: --batch must be at least 1, got {batch}");
        if (runs < 1) throw new ArgumentException($"bench unet: --runs must be at least 1, got {runs}");
        int size = config.SampleSize ?? 64, context = config.CrossAttentionDim[0];
        Console.Error.WriteLine($"threads {Threading.Threads}, BLAS {(Blas.Available ? Blas.LibraryPath : "none")}, kernels {Blas.CoreName}");

        BenchTimer.Isolate();
        var g = new Generator(1);
        var build = Stopwatch.StartNew();
        var unet = new UNet2DConditionModel(config, g);
        unet.Eval();
        Console.Error.WriteLine($"built {which} UNet ({unet.ParameterCount() / 1e6:F1} M parameters) in {build.Elapsed.TotalSeconds:F1} s, RSS {BenchTimer.RssMb():F0} MB");
        if (vjp) return UNetVjpBench.Run(unet, which, batch, size, context, runs, json, g);
        using var sample = Tensor.RandN(g, batch, config.InChannels, size, size);
        using var text = Tensor.RandN(g, batch, 77, context);

        using var noGrad = GradMode.NoGrad();
        void Forward() { using var y = unet.Forward(sample, 981f, text); }
        var warm = Stopwatch.StartNew();
        Forward();
        Console.Error.WriteLine($"warm-up forward {warm.Elapsed.TotalSeconds:F2} s");

        // each run gets its own profile; the one of the median run is reported, so it adds up to the reported time
        var measured = new List<(double Seconds, UNetProfile Profile, double Cpu)>();
        var ratios = new List<double>();
        var sgemmRates = new List<double>();
        var flops = UNetFlops.Count(config, batch, size, size);
        var process = Process.GetCurrentProcess();
        for (int i = 0; i < runs; i++)
        {
            double sgemm = ReferenceSgemm(g);
            var profile = unet.Profile = new UNetProfile();
            process.Refresh();
            var cpu0 = process.TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            Forward();
            double wall = sw.Elapsed.TotalSeconds;
            process.Refresh();
            // CPU time well below threads × wall time means other processes took the cores
            double cpu = (process.TotalProcessorTime - cpu0).TotalSeconds;
            double ratio = flops.Total / wall / 1e9 / sgemm;
            Console.Error.WriteLine($"  forward {i + 1}: {wall:F3} s, CPU {cpu:F1} s ({cpu / wall / Threading.Threads:P0} of {Threading.Threads} threads); reference sgemm just before: {sgemm:F0} GFLOPS, UNet at {ratio:P0} of it");
            measured.Add((wall, profile, cpu));
            ratios.Add(ratio);
            sgemmRates.Add(sgemm);
        }
        unet.Profile = null;
        var (seconds, median, medianCpu) = measured.OrderBy(m => m.Seconds).ElementAt(runs / 2);
        double utilization = medianCpu / seconds / Threading.Threads;
        double peak = BenchTimer.PeakRssMb();
        double medianRatio = ratios.Order().ElementAt(runs / 2), medianSgemm = sgemmRates.Order().ElementAt(runs / 2);
        var perKind = Enum.GetValues<UNetOpKind>().Select(k => (Name: UNetProfile.Name(k), Seconds: median.Seconds(k)))
            .Append((Name: "other", Seconds: seconds - median.TotalSeconds)).ToList();

        string name = $"unet_{which}";
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["name"] = name, ["seconds"] = Math.Round(seconds, 4), ["gflops"] = Math.Round(flops.Total / seconds / 1e9, 1),
                ["gflop_per_forward"] = Math.Round(flops.Total / 1e9, 1), ["peak_rss_mb"] = Math.Round(peak, 0),
                ["batch"] = batch, ["latent"] = $"{size}x{size}", ["threads"] = Threading.Threads, ["cpu_utilization"] = Math.Round(utilization, 3),
                ["sgemm_gflops"] = Math.Round(medianSgemm, 1), ["share_of_sgemm"] = Math.Round(medianRatio, 3),
                ["simd"] = Simd.Best.ToString(), ["blas_kernels"] = Blas.CoreName,
                ["profile_seconds"] = perKind.ToDictionary(p => p.Name, p => Math.Round(p.Seconds, 4)),
            }));
            return 0;
        }
        Console.WriteLine($"{name}: batch {batch}, {size}x{size} latents, {Threading.Threads} threads (median run used {utilization:P0} of them)");
        Console.WriteLine($"  median of {runs}: {seconds:F3} s   {flops.Total / 1e9:F1} GFLOP (conv {flops.Conv / 1e9:F1}, linear {flops.Linear / 1e9:F1}, attention {flops.Attention / 1e9:F1})   {flops.Total / seconds / 1e9:F1} GFLOPS   peak RSS {peak:F0} MB");
        Console.WriteLine($"  reference sgemm (best of 1024³ and 4096×320×4096, OpenBLAS threads) before each run: median {medianSgemm:F0} GFLOPS; the UNet ran at {medianRatio:P0} of it (median over runs; {Simd.Best} kernels, BLAS {Blas.CoreName})");
        Console.WriteLine($"  {"op",-12} {"seconds",9} {"share",7} {"GFLOPS",8}");
        foreach (var (kind, secs) in perKind)
        {
            double kindFlops = kind switch { "conv" => flops.Conv, "linear" => flops.Linear, "attention" => flops.Attention, _ => 0 };
            Console.WriteLine($"  {kind,-12} {secs,9:F3} {secs / seconds,7:P1} {(kindFlops > 0 ? $"{kindFlops / secs / 1e9,8:F1}" : ""),8}");
        }
        return 0;
    }
}
