using System.Diagnostics;
using Deja.Diffusion.IO;
using Deja.Diffusion.Models.Clip;
using Deja.Tensors;

namespace Deja.Cli;

/// <summary>
/// The CLIP text encoder at full size with random weights (no checkpoint needed), inference
/// (NoGrad) over 77-token prompts. FLOPs: the linears, 2·(4H² + 2·H·I) per token and layer, plus the
/// attention products counted over the full L×L square, 4·L·H per token and layer (the causal mask skips
/// about half of that work).
/// </summary>
public static class ClipBench
{
    /// <summary>SD 1.x: OpenAI CLIP ViT-L/14's text tower.</summary>
    public static ClipTextConfig Sd1Config() => ClipTextConfig.Parse(
        """{"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12, "hidden_act": "quick_gelu", "projection_dim": 768}""",
        "SD1 text encoder (built in)");

    /// <summary>SD 2.x: OpenCLIP ViT-H/14's text tower, last layer dropped (23 of 24 layers), exact GELU.</summary>
    public static ClipTextConfig Sd2Config() => ClipTextConfig.Parse(
        """{"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 23, "num_attention_heads": 16, "hidden_act": "gelu", "projection_dim": 512}""",
        "SD2 text encoder (built in)");

    public static BenchResult Sd1Batch8() => Encode("clip_text_sd1_b8", Sd1Config(), 8);
    public static BenchResult Sd1Batch1() => Encode("clip_text_sd1_b1", Sd1Config(), 1);
    public static BenchResult Sd2Batch8() => Encode("clip_text_sd2_b8", Sd2Config(), 8);
    public static BenchResult Sd2Batch1() => Encode("clip_text_sd2_b1", Sd2Config(), 1);

    static BenchResult Encode(string name, ClipTextConfig c, int batch)
    {
        var build = Stopwatch.StartNew();
        var model = new ClipTextModel(c, new Generator(1));
        model.SetRequiresGrad(false);
        double buildSeconds = build.Elapsed.TotalSeconds;

        const int length = 77;
        var g = new Generator(2);
        var ids = new int[batch][];
        for (int b = 0; b < batch; b++)
        {
            // A prompt of 10 + 5b tokens between BOS and EOS, padded with EOS like SD1's tokenizer.
            ids[b] = new int[length];
            int tokens = Math.Min(10 + 5 * b, length - 2);
            ids[b][0] = 49406;
            for (int i = 1; i <= tokens; i++) ids[b][i] = g.NextInt(49406);
            ids[b].AsSpan(tokens + 1).Fill(49407);
        }
        using var _ = GradMode.NoGrad();
        var secs = BenchTimer.Median(() => { using var o = model.Forward(ids); }, warmup: 1, runs: batch == 1 ? 11 : 5);
        int h = c.HiddenSize;
        double flops = (double)batch * length * c.NumHiddenLayers * (2.0 * (4.0 * h * h + 2.0 * h * c.IntermediateSize) + 4.0 * length * h);
        return new BenchResult(name, secs, flops / secs / 1e9, BenchTimer.PeakRssMb(),
            $"B{batch} L{length} H{h} layers {c.NumHiddenLayers}; {model.ParameterCount() / 1e6:F1} M parameters, random init {buildSeconds:F2} s");
    }
}

/// <summary>`deja bench text`: the full-size text encoders.</summary>
public static class TextBench
{
    public static System.CommandLine.Command Command()
    {
        var json = new System.CommandLine.Option<bool>("--json") { Description = "One JSON object per line instead of a table" };
        var cmd = new System.CommandLine.Command("text", "Benchmark the full-size SD1/SD2 CLIP text encoders (random weights)\n\nExample: deja bench text --json") { json };
        cmd.SetAction(pr =>
        {
            var results = new List<BenchResult>();
            foreach (var entry in new Func<BenchResult>[] { ClipBench.Sd1Batch8, ClipBench.Sd1Batch1, ClipBench.Sd2Batch8, ClipBench.Sd2Batch1 })
            {
                BenchTimer.Isolate();
                results.Add(entry());
            }
            BenchReport.Print(results, pr.GetValue(json));
            return 0;
        });
        return cmd;
    }
}
