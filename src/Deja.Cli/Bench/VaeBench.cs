using System.CommandLine;
using System.Diagnostics;
using Deja.Diffusion.IO;
using Deja.Diffusion.Models.Vae;
using Deja.Tensors;
using Deja.Tensors.Kernels;

namespace Deja.Cli;

/// <summary>
/// `deja bench vae`: the full-size Stable Diffusion 1.x VAE (random weights, no files) decoding one
/// latent to an image, and encoding one image, under NoGrad — the time and peak memory of the VAE
/// step of a pipeline.
/// </summary>
public static class VaeBench
{
    public static Command Command()
    {
        var json = new Option<bool>("--json") { Description = "One JSON object per line instead of a table" };
        var size = new Option<int>("--latent") { Description = "Latent side (64 → a 512×512 image)", DefaultValueFactory = _ => 64 };
        var runs = new Option<int>("--runs") { Description = "Timed runs per entry (median reported), after one warm-up", DefaultValueFactory = _ => 3 };
        var encode = new Option<bool>("--encode") { Description = "Also benchmark encoding an image of the same size" };
        var backward = new Option<bool>("--backward") { Description = "Also benchmark decode plus the gradient with respect to the latents (weights frozen)" };
        var cmd = new Command("vae", "Benchmark the SD1 VAE decode (and encode) at full size with random weights\n\nExample: deja bench vae") { json, size, runs, encode, backward };
        cmd.SetAction(pr => Run(pr.GetValue(json), pr.GetValue(size), Math.Max(1, pr.GetValue(runs)), pr.GetValue(encode), pr.GetValue(backward)));
        return cmd;
    }

    /// <summary>Stable Diffusion 1.x's vae/config.json.</summary>
    public static AutoencoderKLConfig Sd1Config() => AutoencoderKLConfig.Parse(
        ("{'block_out_channels': [128, 256, 512, 512], 'layers_per_block': 2, 'norm_num_groups': 32, 'latent_channels': 4, " +
         "'down_block_types': ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'], " +
         "'up_block_types': ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'], " +
         "'sample_size': 512, 'scaling_factor': 0.18215}").Replace('\'', '"'), "SD1 vae config");

    static int Run(bool json, int latent, int runs, bool encode, bool backward)
    {
        Console.Error.WriteLine($"threads {Threading.Threads}; building the SD1 VAE with random weights ...");
        BenchTimer.Isolate();
        var config = Sd1Config();
        var vae = new AutoencoderKL(config, new Generator(1));
        double modelMb = BenchTimer.RssMb();
        int side = latent * config.DownsampleFactor;
        var results = new List<BenchResult>
        {
            Measure($"vae_decode_sd1_{side}", DecodeFlops(config, latent), runs, modelMb, () =>
            {
                using var z = Tensor.RandN(new Generator(2), 1, config.LatentChannels, latent, latent);
                using var image = vae.Decode(z);
            }),
        };
        if (encode)
            results.Add(Measure($"vae_encode_sd1_{side}", EncodeFlops(config, side), runs, modelMb, () =>
            {
                using var x = Tensor.Uniform(new Generator(3), -1, 1, 1, config.InChannels, side, side);
                using var posterior = vae.Encode(x);
            }));
        if (backward)
        {
            vae.SetRequiresGrad(false);
            // input gradient only: about twice the forward's FLOPs (no weight gradients)
            results.Add(Measure($"vae_decode_grad_sd1_{side}", 2 * DecodeFlops(config, latent), runs, modelMb, () =>
            {
                using var step = TensorScope.Enter();
                var z = Tensor.RandN(new Generator(2), 1, config.LatentChannels, latent, latent).RequireGrad();
                var image = vae.Decode(z);
                var gradient = Tensor.RandN(new Generator(4), image.Shape);
                Autograd.Grad([image], [z], [gradient]);
            }, recordGraph: true));
        }
        BenchReport.Print(results, json);
        return 0;
    }

    static BenchResult Measure(string name, double flops, int runs, double modelMb, Action body, bool recordGraph = false)
    {
        using var _ = GradMode.Set(recordGraph);
        BenchTimer.Isolate();
        var secs = BenchTimer.Median(() =>
        {
            var sw = Stopwatch.StartNew();
            body();
            Console.Error.WriteLine($"  {name}: {sw.Elapsed.TotalSeconds:F2} s");
        }, warmup: 1, runs: runs);
        double peak = BenchTimer.PeakRssMb();
        return new BenchResult(name, secs, flops / secs / 1e9, peak, $"weights+runtime {modelMb:F0} MB before; {flops / 1e12:F2} TFLOP");
    }

    // ------------------------------------------------------------------ FLOP counts (multiply-add = 2)

    static double Conv(int cin, int cout, int k, long pixels) => 2.0 * cin * cout * k * k * pixels;

    static double Resnet(int cin, int cout, long pixels) =>
        Conv(cin, cout, 3, pixels) + Conv(cout, cout, 3, pixels) + (cin != cout ? Conv(cin, cout, 1, pixels) : 0);

    static double Mid(int c, long pixels) => 2 * Resnet(c, c, pixels) + 4 * 2.0 * pixels * c * c + 2 * 2.0 * pixels * pixels * c;

    /// <summary>post_quant_conv, decoder convolutions and the mid attention for one latent of side <paramref name="h"/>.</summary>
    public static double DecodeFlops(AutoencoderKLConfig c, int h)
    {
        int n = c.BlockOutChannels.Length, last = c.BlockOutChannels[^1];
        long pixels = (long)h * h;
        double f = Conv(c.LatentChannels, c.LatentChannels, 1, pixels) + Conv(c.LatentChannels, last, 3, pixels) + Mid(last, pixels);
        int previous = last;
        for (int i = 0; i < n; i++)
        {
            int output = c.BlockOutChannels[n - 1 - i];
            for (int j = 0; j <= c.LayersPerBlock; j++) f += Resnet(j == 0 ? previous : output, output, pixels);
            if (i < n - 1) { pixels *= 4; f += Conv(output, output, 3, pixels); }
            previous = output;
        }
        return f + Conv(c.BlockOutChannels[0], c.OutChannels, 3, pixels);
    }

    /// <summary>Encoder convolutions, mid attention and quant_conv for one image of side <paramref name="side"/>.</summary>
    public static double EncodeFlops(AutoencoderKLConfig c, int side)
    {
        int n = c.BlockOutChannels.Length, last = c.BlockOutChannels[^1];
        long pixels = (long)side * side;
        double f = Conv(c.InChannels, c.BlockOutChannels[0], 3, pixels);
        for (int i = 0; i < n; i++)
        {
            int input = i == 0 ? c.BlockOutChannels[0] : c.BlockOutChannels[i - 1], output = c.BlockOutChannels[i];
            for (int j = 0; j < c.LayersPerBlock; j++) f += Resnet(j == 0 ? input : output, output, pixels);
            if (i < n - 1) { pixels /= 4; f += Conv(output, output, 3, pixels); }
        }
        return f + Mid(last, pixels) + Conv(last, 2 * c.LatentChannels, 3, pixels) + Conv(2 * c.LatentChannels, 2 * c.LatentChannels, 1, pixels);
    }
}
