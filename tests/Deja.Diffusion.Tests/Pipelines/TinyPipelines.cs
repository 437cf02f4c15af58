using Deja.Diffusion.IO;
using Deja.Diffusion.Pipelines;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.Pipelines;

/// <summary>The tiny golden pipelines (tiny-sd1, tiny-sd2) loaded once, their goldens, and comparisons.</summary>
internal static class TinyPipelines
{
    static readonly Dictionary<string, StableDiffusionPipeline> Loaded = [];
    static readonly object Gate = new();

    public const string Prompt = "a photograph of an astronaut riding a horse";

    public static string Directory(string model) => TestData.Golden($"tiny-{model}");

    /// <summary>The loaded pipeline (shared: generation does not change it).</summary>
    public static StableDiffusionPipeline Load(string model)
    {
        lock (Gate)
        {
            if (Loaded.TryGetValue(model, out var p)) return p;
            return Loaded[model] = StableDiffusionPipeline.Load(Directory(model));
        }
    }

    public static string GoldenPath(string model) => TestData.Golden("golden", $"{model}_pipeline.safetensors");
    public static SafeTensorsFile Golden(string model) => SafeTensorsFile.Open(GoldenPath(model));

    /// <summary>|expected − actual| ≤ atol + rtol·|expected| everywhere; returns the max abs difference.</summary>
    public static double Near(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double atol, double rtol, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} values, expected {expected.Length}");
        double max = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs((double)expected[i] - actual[i]);
            max = Math.Max(max, d);
            Assert.True(d <= atol + rtol * Math.Abs(expected[i]), $"{what}[{i}]: expected {expected[i]:G9}, got {actual[i]:G9}");
        }
        return max;
    }

    public static double Near(Tensor expected, Tensor actual, double atol, double rtol, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        return Near(expected.ReadOnlySpan, actual.ReadOnlySpan, atol, rtol, what);
    }
}
