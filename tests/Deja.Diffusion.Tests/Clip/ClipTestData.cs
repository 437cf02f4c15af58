using System.Text.Json;
using Deja.Diffusion.IO;
using Deja.Diffusion.Models.Clip;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.Clip;

/// <summary>The tiny pipelines' text encoders and their goldens (testdata/golden/golden/sdN_text_encoder.safetensors).</summary>
public static class ClipTestData
{
    static readonly Dictionary<string, Lazy<TextEncoder>> encoders = new()
    {
        ["sd1"] = new(() => TextEncoder.Load(TestData.Golden("tiny-sd1"))),
        ["sd2"] = new(() => TextEncoder.Load(TestData.Golden("tiny-sd2"))),
    };

    /// <summary>The loaded tokenizer + text encoder of tiny-sd1 / tiny-sd2 (shared; tests must not change it).</summary>
    public static TextEncoder Encoder(string model) => encoders[model].Value;

    public static SafeTensorsFile Goldens(string model) => SafeTensorsFile.Open(TestData.Golden("golden", $"{model}_text_encoder.safetensors"));

    public static int[][] Rows(Int64Tensor ids)
    {
        int b = ids.Shape[0], l = ids.Shape[1];
        return [.. Enumerable.Range(0, b).Select(i => ids.Data.Skip(i * l).Take(l).Select(v => checked((int)v)).ToArray())];
    }

    /// <summary>The texts of the text-encoder goldens (golden README §6): "", the astronaut prompt, "Hello, world! How's it going?", the 90-token prompt.</summary>
    public static string[] GoldenPrompts()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(TestData.Golden("golden", "tokenizer.json")));
        var prompts = doc.RootElement.GetProperty("prompts").EnumerateArray().Select(p => p.GetProperty("prompt").GetString()!).ToArray();
        Assert.Equal("a photograph of an astronaut riding a horse", prompts[0]);
        Assert.Equal("Hello, world! How's it going?", prompts[3]);
        Assert.StartsWith("a highly detailed matte painting", prompts[19], StringComparison.Ordinal);
        return ["", prompts[0], prompts[3], prompts[19]];
    }

    /// <summary>max |e − a| ≤ atol, with the worst element in the message.</summary>
    public static void Near(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double atol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        int worst = 0; double worstError = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs((double)expected[i] - actual[i]);
            if (double.IsNaN(err)) err = double.PositiveInfinity;
            if (err > worstError) { worst = i; worstError = err; }
        }
        Assert.True(worstError <= atol, $"{what}: element {worst}: expected {expected[worst]:G9}, got {actual[worst]:G9} (|diff| {worstError:G3} > {atol})");
    }

    public static void Near(Tensor expected, Tensor actual, double atol, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        Near(expected.ReadOnlySpan, actual.ReadOnlySpan, atol, what);
    }
}
