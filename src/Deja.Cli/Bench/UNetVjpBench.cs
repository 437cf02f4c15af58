using System.Diagnostics;
using System.Text.Json;
using Deja.Diffusion.Models.UNet;
using Deja.Tensors;

namespace Deja.Cli;

/// <summary>
/// `deja bench unet --vjp`: one forward plus one vector-Jacobian product with respect to the latents and
/// the text states (no weight gradients) — the reverse pass that token significance (`deja explain`),
/// localization and prompt mitigation take through the UNet. Median wall time and peak RSS.
/// </summary>
static class UNetVjpBench
{
    public static int Run(UNet2DConditionModel unet, string which, int batch, int size, int context, int runs, bool json, Generator g)
    {
        unet.SetRequiresGrad(false);
        using var sample = Tensor.RandN(g, batch, unet.Config.InChannels, size, size);
        using var text = Tensor.RandN(g, batch, 77, context);
        using var probe = Tensor.RandN(g, batch, unet.Config.OutChannels, size, size);

        double Once()
        {
            long before = BufferPool.OutstandingBytes;
            BufferPool.ResetPeak();
            var sw = Stopwatch.StartNew();
            using var scope = TensorScope.Enter();
            using var grad = GradMode.Set(true);
            var x = sample.Detach(); x.RequiresGrad = true;
            var c = text.Detach(); c.RequiresGrad = true;
            var y = unet.Forward(x, 981f, c);
            var grads = Autograd.Grad([y], [x, c], [probe]);
            if (grads[0] is null || grads[1] is null) throw new InvalidOperationException("bench unet --vjp: a gradient is missing");
            var seconds = sw.Elapsed.TotalSeconds;
            Console.Error.WriteLine($"  live tensor memory: {before / 1048576.0:F0} MB before, peak {BufferPool.PeakOutstandingBytes / 1048576.0:F0} MB, pool idle {BufferPool.RetainedBytes / 1048576.0:F0} MB");
            return seconds;
        }

        BenchTimer.Isolate();
        var warm = Once();
        Console.Error.WriteLine($"warm-up forward + VJP {warm:F2} s");
        var times = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            times.Add(Once());
            Console.Error.WriteLine($"  forward + VJP {i + 1}: {times[^1]:F3} s");
        }
        double median = times.Order().ElementAt(runs / 2), peak = BenchTimer.PeakRssMb();
        string name = $"unet_{which}_vjp";
        if (json)
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["name"] = name, ["seconds"] = Math.Round(median, 4), ["peak_rss_mb"] = Math.Round(peak, 0),
                ["batch"] = batch, ["latent"] = $"{size}x{size}", ["wrt"] = "latents,text", ["runs"] = runs,
            }));
        else
            Console.WriteLine($"{name}: batch {batch}, {size}x{size} latents: forward + VJP (latents and text states, no weight gradients) " +
                $"median of {runs}: {median:F3} s, peak RSS {peak:F0} MB (weights included)");
        return 0;
    }
}
