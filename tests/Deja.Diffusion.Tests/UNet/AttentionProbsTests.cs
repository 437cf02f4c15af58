using Deja.Diffusion.Models.UNet;
using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Tests.UNet;

/// <summary>
/// The hook's "{attn2}.attention_probs": each cross-attention layer's post-softmax probabilities, averaged
/// over the heads, against softmax(q·kᵀ/√d) recomputed in double from the layer's own input (the
/// transformer's proj_in plus the attn1 output, through norm2) and its to_q/to_k weights.
/// </summary>
public class AttentionProbsTests
{
    static IEnumerable<CrossAttention> Attentions(Module m)
    {
        if (m is CrossAttention a) yield return a;
        foreach (var (_, child) in m.NamedChildren())
            foreach (var x in Attentions(child)) yield return x;
    }

    [Theory]
    [InlineData("sd1")]
    [InlineData("sd2")]
    public void CrossAttentionProbabilitiesMatchAManualSoftmax(string model)
    {
        var unet = TinyUNet.Load(model);
        using var g = TinyUNet.Golden(model);
        using var scope = TensorScope.Enter();
        var latents = g.ReadTensor("latents");
        var context = g.ReadTensor("encoder_hidden_states");
        var seen = new Dictionary<string, (float[] Data, int[] Shape)>();
        var order = new List<string>();
        using (GradMode.NoGrad())
            unet.Forward(latents, 981, context, (path, t) =>
            {
                Assert.False(seen.ContainsKey(path), $"{path} reported twice");
                seen[path] = (t.ToArray(), (int[])t.Shape.Clone());
                order.Add(path);
            });

        var cross = Attentions(unet).Where(a => a.Path.EndsWith(".attn2", StringComparison.Ordinal)).ToList();
        Assert.Equal(6, cross.Count); // down_blocks.0: 2, mid: 1, up_blocks.1: 3
        var reported = seen.Keys.Where(k => k.EndsWith(".attention_probs", StringComparison.Ordinal)).OrderBy(k => k).ToList();
        Assert.Equal(cross.Select(a => a.Path + ".attention_probs").OrderBy(k => k), reported); // no self-attention (attn1) probs
        Assert.Contains("down_blocks.0.attentions.0.transformer_blocks.0.attn2.attention_probs", reported);

        var parameters = unet.NamedParameters().ToDictionary(p => p.Name, p => p.Value.ToArray());
        int b = latents.Shape[0], lk = context.Shape[1], cdim = context.Shape[2];
        var ctx = context.ToArray();
        foreach (var attn in cross)
        {
            var (probs, shape) = seen[attn.Path + ".attention_probs"];
            // reported just before the layer's own output
            Assert.Equal(order.IndexOf(attn.Path) - 1, order.IndexOf(attn.Path + ".attention_probs"));
            var block = attn.Path[..^".attn2".Length];                     // X.transformer_blocks.0
            var transformer = block[..block.LastIndexOf(".transformer_blocks.", StringComparison.Ordinal)];
            var (projIn, projShape) = seen[transformer + ".proj_in"];
            var (attn1, attn1Shape) = seen[block + ".attn1"];
            int lq = attn1Shape[1], c = attn1Shape[2];
            Assert.Equal([b, lq, lk], shape);

            // the block's input tokens: proj_in is [B,C,H,W] pixels for a conv (SD1), [B,L,C] tokens for a Linear (SD2)
            var h = new double[b * lq * c];
            for (int i = 0; i < b; i++)
                for (int q = 0; q < lq; q++)
                    for (int ch = 0; ch < c; ch++)
                    {
                        double x0 = projShape.Length == 4 ? projIn[(i * c + ch) * lq + q] : projIn[(i * lq + q) * c + ch];
                        h[(i * lq + q) * c + ch] = x0 + attn1[(i * lq + q) * c + ch];
                    }
            var gamma = parameters[block + ".norm2.weight"]; var beta = parameters[block + ".norm2.bias"];
            var wq = parameters[attn.Path + ".to_q.weight"]; var wk = parameters[attn.Path + ".to_k.weight"];
            int inner = attn.Heads * attn.HeadDim, d = attn.HeadDim;
            double scale = 1 / Math.Sqrt(d);
            var keys = new double[b * lk * inner];
            for (int i = 0; i < b * lk; i++)
                for (int o = 0; o < inner; o++)
                {
                    double s = 0;
                    for (int e = 0; e < cdim; e++) s += (double)ctx[i * cdim + e] * wk[o * cdim + e];
                    keys[i * inner + o] = s;
                }
            double maxDiff = 0;
            var normed = new double[c]; var query = new double[inner]; var logits = new double[lk]; var mean = new double[lk];
            for (int i = 0; i < b; i++)
                for (int q = 0; q < lq; q++)
                {
                    var row = h.AsSpan((i * lq + q) * c, c);
                    double mu = 0, v = 0;
                    foreach (var x in row) mu += x;
                    mu /= c;
                    foreach (var x in row) v += (x - mu) * (x - mu);
                    v /= c;
                    for (int ch = 0; ch < c; ch++) normed[ch] = (row[ch] - mu) / Math.Sqrt(v + 1e-5) * gamma[ch] + beta[ch];
                    for (int o = 0; o < inner; o++)
                    {
                        double s = 0;
                        for (int ch = 0; ch < c; ch++) s += normed[ch] * wq[o * c + ch];
                        query[o] = s;
                    }
                    Array.Clear(mean);
                    for (int head = 0; head < attn.Heads; head++)
                    {
                        double max = double.NegativeInfinity;
                        for (int j = 0; j < lk; j++)
                        {
                            double s = 0;
                            for (int e = 0; e < d; e++) s += query[head * d + e] * keys[(i * lk + j) * inner + head * d + e];
                            logits[j] = s * scale;
                            max = Math.Max(max, logits[j]);
                        }
                        double z = 0;
                        for (int j = 0; j < lk; j++) z += Math.Exp(logits[j] - max);
                        for (int j = 0; j < lk; j++) mean[j] += Math.Exp(logits[j] - max) / z / attn.Heads;
                    }
                    double rowSum = 0;
                    for (int j = 0; j < lk; j++)
                    {
                        float got = probs[(i * lq + q) * lk + j];
                        rowSum += got;
                        maxDiff = Math.Max(maxDiff, Math.Abs(got - mean[j]));
                    }
                    Assert.True(Math.Abs(rowSum - 1) < 1e-5, $"{attn.Path} row ({i}, {q}) sums to {rowSum}");
                }
            Assert.True(maxDiff < 2e-6, $"{model} {attn.Path}: max |probs − reference| {maxDiff:G3}");
        }
    }

    [Fact]
    public void ProbabilitiesAreReportedUnderAutogradToo()
    {
        var unet = TinyUNet.Load("sd1");
        using var g = TinyUNet.Golden("sd1");
        using var scope = TensorScope.Enter();
        var latents = g.ReadTensor("latents");
        var context = g.ReadTensor("encoder_hidden_states");
        const string path = "down_blocks.0.attentions.1.transformer_blocks.0.attn2.attention_probs";
        float[]? inference = null, recorded = null;
        using (GradMode.NoGrad()) unet.Forward(latents, 501, context, (p, t) => { if (p == path) inference = t.ToArray(); });
        unet.Forward(latents, 501, context, (p, t) => { if (p == path) recorded = t.ToArray(); });
        Assert.NotNull(inference); Assert.NotNull(recorded);
        for (int i = 0; i < inference!.Length; i++) Assert.Equal(inference[i], recorded![i], 1e-6);
    }
}
