using Deja.Diffusion.IO;
using Deja.Diffusion.Models.Vae;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.Vae;

internal static class VaeTestSupport
{
    public static string ConfigPath(string model) => TestData.Golden($"tiny-{model}", "vae", "config.json");
    public static string WeightsPath(string model) => TestData.Golden($"tiny-{model}", "vae", "diffusion_pytorch_model.safetensors");

    public static AutoencoderKL LoadTiny(string model) => AutoencoderKL.Load(AutoencoderKLConfig.Load(ConfigPath(model)), WeightsPath(model));

    /// <summary>|expected − actual| ≤ atol + rtol·|expected| elementwise (golden README §8 for the VAE: 1e-4 + 1e-4).</summary>
    public static void Near(Tensor expected, Tensor actual, string what, double atol = 1e-4, double rtol = 1e-4)
    {
        Assert.True(Shapes.Equal(expected.Shape, actual.Shape), $"{what}: expected shape {Shapes.Str(expected.Shape)}, got {Shapes.Str(actual.Shape)}");
        var e = expected.ReadOnlySpan; var a = actual.ReadOnlySpan;
        double worst = 0; int at = -1;
        for (int i = 0; i < e.Length; i++)
        {
            double excess = Math.Abs(e[i] - a[i]) - (atol + rtol * Math.Abs(e[i]));
            if (!(excess <= worst)) { worst = double.IsNaN(excess) ? double.PositiveInfinity : excess; at = i; }
        }
        Assert.True(at < 0, at < 0 ? "" : $"{what}[{at}]: expected {e[at]:G9}, got {a[at]:G9} (max |diff| {MaxAbsDiff(expected, actual):G3})");
    }

    public static double MaxAbsDiff(Tensor expected, Tensor actual)
    {
        var e = expected.ReadOnlySpan; var a = actual.ReadOnlySpan;
        double m = 0;
        for (int i = 0; i < e.Length; i++) m = Math.Max(m, Math.Abs(e[i] - a[i]));
        return m;
    }

    /// <summary>A VAE small enough for finite differences: 2 blocks of 4 and 8 channels, 2 groups.</summary>
    public static AutoencoderKLConfig Micro(int layersPerBlock = 1) => AutoencoderKLConfig.Parse(
        ("{'block_out_channels': [4, 8], 'down_block_types': ['DownEncoderBlock2D', 'DownEncoderBlock2D'], " +
         "'up_block_types': ['UpDecoderBlock2D', 'UpDecoderBlock2D'], 'norm_num_groups': 2, 'latent_channels': 4, " +
         $"'layers_per_block': {layersPerBlock}}}").Replace('\'', '"'), "micro vae config");
}
