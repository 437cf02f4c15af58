using Deja.Diffusion.IO;
using Deja.Diffusion.Models.UNet;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.UNet;

/// <summary>The tiny golden UNets (tiny-sd1, tiny-sd2) with their weights loaded, and their golden files.</summary>
internal static class TinyUNet
{
    static readonly Dictionary<string, UNet2DConditionModel> Models = [];
    static readonly object Gate = new();

    public static UNet2DConditionConfig Config(string model) => UNet2DConditionConfig.Load(TestData.Golden($"tiny-{model}", "unet", "config.json"));

    public static string WeightsPath(string model) => TestData.Golden($"tiny-{model}", "unet", "diffusion_pytorch_model.safetensors");

    /// <summary>The loaded model (shared by the tests: forwards do not change it).</summary>
    public static UNet2DConditionModel Load(string model)
    {
        lock (Gate)
        {
            if (Models.TryGetValue(model, out var m)) return m;
            m = new UNet2DConditionModel(Config(model));
            using (var f = SafeTensorsFile.Open(WeightsPath(model))) f.LoadModule(m);
            m.Eval();
            return Models[model] = m;
        }
    }

    public static SafeTensorsFile Golden(string model) => SafeTensorsFile.Open(TestData.Golden("golden", $"{model}_unet.safetensors"));

    /// <summary>Max |a − b| over all elements, after checking the shapes agree.</summary>
    public static double MaxAbsDiff(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.ReadOnlySpan; var a = actual.ReadOnlySpan;
        double m = 0;
        for (int i = 0; i < e.Length; i++) m = Math.Max(m, Math.Abs((double)e[i] - a[i]));
        return m;
    }

    public static void Near(Tensor expected, Tensor actual, double atol, string what)
    {
        double d = MaxAbsDiff(expected, actual);
        Assert.True(d <= atol, $"{what}: max |diff| {d:G3} > {atol:G3}");
    }
}
