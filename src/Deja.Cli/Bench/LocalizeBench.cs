using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Deja.Diffusion.Models.UNet;
using Deja.Diffusion.Schedulers;
using Deja.Memorization.Localization;
using Deja.Memorization.Models;
using Deja.Tensors;
using Deja.Tensors.Kernels;

namespace Deja.Cli;

/// <summary>
/// `deja bench localize`: one `cov` map (Kim &amp; Lee §4.2, K Hutchinson probes) on a full-size,
/// randomly initialised UNet at the map's point (t = 1): the conditional and unconditional forwards,
/// recorded once, and K backwards through each. The 49-step trajectory before it is K-independent
/// (49 CFG forwards, see `deja bench unet`) and not included. Wall time and peak RSS.
/// </summary>
static class LocalizeBench
{
    public static Command Command()
    {
        var config = new Option<string>("--config") { Description = "sd1 or sd2", DefaultValueFactory = _ => "sd1" };
        var probes = new Option<int>("--probes") { Description = "Hutchinson probes K", DefaultValueFactory = _ => 16 };
        var json = new Option<bool>("--json") { Description = "One JSON row on stdout" };
        var cmd = new Command("localize", "Benchmark one cov map (Hutchinson, K probes) at full Stable Diffusion size\n\nExample: deja bench localize --config sd1 --probes 16") { config, probes, json };
        cmd.SetAction(pr => Run(pr.GetValue(config)!, pr.GetValue(probes), pr.GetValue(json)));
        return cmd;
    }

    /// <summary>A bare UNet as a model view: random text states stand in for the encoder.</summary>
    sealed class BareUNetView(UNet2DConditionModel unet, int size) : IDiffusionModelView
    {
        public string Name => "bench";
        public string Id => "bench";
        public ModelFamily Family => ModelFamily.SD1;
        public Ddim Scheduler { get; } = Ddim.StableDiffusion();
        public int[] LatentShape => [unet.Config.InChannels, size, size];
        public EncodedConditions Encode(IReadOnlyList<string> prompts) => throw new NotSupportedException();
        public Tensor NullCondition() => Tensor.RandN(new Generator(2), 1, 77, unet.Config.CrossAttentionDim[0]);
        public Tensor Forward(Tensor latents, int t, Tensor conditions) => unet.Forward(latents, t, conditions);
    }

    static int Run(string which, int probes, bool json)
    {
        var config = which switch
        {
            "sd1" => UNetPresets.StableDiffusion1(),
            "sd2" => UNetPresets.StableDiffusion2(),
            _ => throw new ArgumentException($"bench localize: --config must be sd1 or sd2, got '{which}'"),
        };
        if (probes < 1) throw new ArgumentException($"bench localize: --probes must be at least 1, got {probes}");
        int size = config.SampleSize ?? 64;
        BenchTimer.Isolate();
        var g = new Generator(1);
        var unet = new UNet2DConditionModel(config, g);
        unet.Eval();
        unet.SetRequiresGrad(false);
        var view = new BareUNetView(unet, size);
        using var z = Tensor.RandN(g, 1, config.InChannels, size, size);
        using var cond = Tensor.RandN(g, 1, 77, config.CrossAttentionDim[0]);
        using var nul = view.NullCondition();
        var method = new CurvatureMaps { Probes = probes };
        Console.Error.WriteLine($"{which} UNet ({unet.ParameterCount() / 1e6:F1} M parameters), {size}x{size} latents, K = {probes}, threads {Threading.Threads}; RSS {BenchTimer.RssMb():F0} MB");
        var sw = Stopwatch.StartNew();
        var maps = method.Compute(view, null, z, 1, cond, nul, [0], [MapNames.Cov]);
        double seconds = sw.Elapsed.TotalSeconds, peak = BenchTimer.PeakRssMb();
        if (maps[MapNames.Cov][0].Length != size * size) throw new InvalidOperationException("bench localize: wrong map size");
        string name = $"localize_{which}_cov";
        if (json)
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["name"] = name, ["seconds"] = Math.Round(seconds, 3), ["peak_rss_mb"] = Math.Round(peak, 0), ["probes"] = probes, ["latent"] = $"{size}x{size}",
            }));
        else
            Console.WriteLine($"{name}: one cov map, K = {probes}, {size}x{size} latents: {seconds:F1} s ({seconds / probes:F2} s per probe incl. the two recorded forwards), peak RSS {peak:F0} MB (weights included)");
        return 0;
    }
}
