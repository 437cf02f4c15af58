using Deja.Diffusion.Models.Clip;
using Deja.Tensors;
using static Deja.Diffusion.Tests.Clip.ClipTestData;

namespace Deja.Diffusion.Tests.Clip;

/// <summary>ClipTextModel against transformers' CLIPTextModel (golden sdN_text_encoder.safetensors, README §6).</summary>
public class ClipTextModelParityTests
{
    const double Tolerance = 1e-5;

    [Theory]
    [InlineData("sd1")]
    [InlineData("sd2")]
    public void LastHiddenStateAndPoolerMatchTransformers(string model)
    {
        using var g = Goldens(model);
        var m = Encoder(model).Model;
        var ids = Rows(g.ReadInt64("input_ids"));
        using var _ = GradMode.NoGrad();
        using var output = m.Forward(ids, new ClipTextOptions { OutputPooler = true });
        Near(g.ReadTensor("last_hidden_state"), output.LastHiddenState, Tolerance, "last_hidden_state");
        Near(g.ReadTensor("last_hidden_state.f64ref"), output.LastHiddenState, Tolerance, "last_hidden_state vs f64ref");
        Near(g.ReadTensor("pooler_output"), output.PoolerOutput!, Tolerance, "pooler_output");
    }

    [Theory]
    [InlineData("sd1")]
    [InlineData("sd2")]
    public void EveryHiddenStateOfPromptOneMatches(string model)
    {
        using var g = Goldens(model);
        var m = Encoder(model).Model;
        var ids = Rows(g.ReadInt64("input_ids"));
        var expected = g.ReadTensor("hidden_states_prompt1");
        Assert.Equal(m.NumLayers + 1, expected.Shape[0]);
        using var _ = GradMode.NoGrad();
        // In the batch of four (row 1) and alone: batching must not change a row.
        using var batch = m.Forward(ids, new ClipTextOptions { OutputHiddenStates = true });
        using var single = m.Forward([ids[1]], new ClipTextOptions { OutputHiddenStates = true });
        Assert.Equal(m.NumLayers + 1, batch.HiddenStates!.Count);
        for (int i = 0; i <= m.NumLayers; i++)
        {
            using var want = Ops.Select(expected, i);
            using var row = Ops.Select(batch.HiddenStates[i], 1);
            using var alone = Ops.Select(single.HiddenStates![i], 0);
            Near(want, row, Tolerance, $"hidden_states[{i}] (batch row 1)");
            Near(want, alone, Tolerance, $"hidden_states[{i}] (alone)");
        }
    }

    /// <summary>diffusers' clip_skip k: final_layer_norm(hidden_states[−(k+1)]); here checked against the golden hidden states.</summary>
    [Theory]
    [InlineData("sd1", 1)]
    [InlineData("sd1", 2)]
    [InlineData("sd2", 1)]
    [InlineData("sd2", 3)]
    public void ClipSkipIsFinalLayerNormOfAnEarlierLayer(string model, int clipSkip)
    {
        using var g = Goldens(model);
        var m = Encoder(model).Model;
        var ids = Rows(g.ReadInt64("input_ids"));
        var hidden = g.ReadTensor("hidden_states_prompt1");
        using var source = Ops.Select(hidden, m.NumLayers - clipSkip);
        var ln = m.TextModel.FinalLayerNorm;
        var expected = LayerNormDouble(source.ToArray(), ln.Weight!.ToArray(), ln.Bias!.ToArray(), m.HiddenSize, m.Config.LayerNormEps);

        using var _ = GradMode.NoGrad();
        using var skipped = m.Forward([ids[1]], clipSkip);
        NearDoubles(expected, skipped.ReadOnlySpan, Tolerance, $"clip_skip {clipSkip}");
        using var withStates = m.Forward([ids[1]], new ClipTextOptions { ClipSkip = clipSkip, OutputHiddenStates = true });
        Assert.Equal(m.NumLayers - clipSkip + 1, withStates.HiddenStates!.Count);
        Near(skipped, withStates.LastHiddenState, 0, "clip skip with hidden states");
    }

    [Fact]
    public void ClipSkipZeroIsThePlainModel()
    {
        var m = Encoder("sd1").Model;
        using var g = Goldens("sd1");
        var ids = Rows(g.ReadInt64("input_ids"));
        using var _ = GradMode.NoGrad();
        using var plain = m.Forward(ids);
        using var zero = m.Forward(ids, new ClipTextOptions { ClipSkip = 0 });
        Near(plain, zero.LastHiddenState, 0, "clip_skip 0");
    }

    [Theory]
    [InlineData("sd1")]
    [InlineData("sd2")]
    public void IdsAsTensorAndAsRowsAgree(string model)
    {
        using var g = Goldens(model);
        var m = Encoder(model).Model;
        var raw = g.ReadInt64("input_ids");
        using var idsTensor = Tensor.FromArray(raw.Data.Select(v => (float)v).ToArray(), raw.Shape);
        using var _ = GradMode.NoGrad();
        using var fromTensor = m.Forward(idsTensor);
        Near(g.ReadTensor("last_hidden_state"), fromTensor, Tolerance, "ids tensor");
    }

    [Fact]
    public void ShorterSequencesUseTheFirstPositions()
    {
        // Causal attention: the first n outputs of a 77-id row equal the outputs of its first n ids.
        var m = Encoder("sd1").Model;
        using var g = Goldens("sd1");
        var ids = Rows(g.ReadInt64("input_ids"))[1];
        using var _ = GradMode.NoGrad();
        using var full = m.Forward([ids]);
        using var shortOut = m.Forward([ids[..12]]);
        using var head = Ops.Narrow(full, 1, 0, 12);
        Near(head, shortOut, Tolerance, "prefix");
    }

    static double[] LayerNormDouble(float[] x, float[] w, float[] b, int d, double eps)
    {
        var o = new double[x.Length];
        for (int r = 0; r < x.Length / d; r++)
        {
            double mean = 0, var = 0;
            for (int i = 0; i < d; i++) mean += x[r * d + i];
            mean /= d;
            for (int i = 0; i < d; i++) var += (x[r * d + i] - mean) * (x[r * d + i] - mean);
            var /= d;
            double rstd = 1 / Math.Sqrt(var + eps);
            for (int i = 0; i < d; i++) o[r * d + i] = (x[r * d + i] - mean) * rstd * w[i] + b[i];
        }
        return o;
    }

    static void NearDoubles(double[] expected, ReadOnlySpan<float> actual, double atol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= atol, $"{what}: element {i}: expected {expected[i]:G9}, got {actual[i]:G9}");
    }
}
