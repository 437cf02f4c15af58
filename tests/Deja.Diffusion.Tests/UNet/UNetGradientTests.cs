using Deja.Tensors;

namespace Deja.Diffusion.Tests.UNet;

/// <summary>
/// Gradients through the whole tiny-sd1 UNet against central finite differences of
/// L = Σ unet(latents, t, context)·r. The float32 forward has ~1e-5 of noise in L, so single
/// elements use a wide step (ε = 3e-2, noise ≈ 2e-4 in the quotient) and a directional derivative
/// (every input moved at once: a large, precise signal) checks the whole gradient tightly.
/// </summary>
public class UNetGradientTests
{
    const float T = 501;

    [Fact]
    public void InputGradientsMatchFiniteDifferences()
    {
        var unet = TinyUNet.Load("sd1");
        using var g = TinyUNet.Golden("sd1");
        using var scope = TensorScope.Enter();
        var latents = g.ReadTensor("latents").RequireGrad();
        var context = g.ReadTensor("encoder_hidden_states").RequireGrad();
        var r = Tensor.RandN(new Generator(7), latents.Shape);

        var output = unet.Forward(latents, T, context);
        var grads = Autograd.Grad([Ops.Sum(output * r)], [latents, context]);
        var dLatents = grads[0]!.ToArray();
        var dContext = grads[1]!.ToArray();

        var lat = Tensor.FromArray(latents.ReadOnlySpan, latents.Shape);
        var ctx = Tensor.FromArray(context.ReadOnlySpan, context.Shape);
        double L() => Loss(unet, lat, ctx, r);
        var problems = new List<string>();
        void Check(string what, double autograd, double fd, double atol, double rtol)
        {
            if (Math.Abs(fd - autograd) > atol + rtol * Math.Abs(fd)) problems.Add($"{what}: autograd {autograd:G6}, finite differences {fd:G6}");
        }

        // elements of both batch entries (corners and interior), context rows of both prompts
        foreach (var i in new[] { 0, 300, 1023, 1024 + 517, 2047 })
            Check($"d/dlatents[{i}]", dLatents[i], CentralElement(lat, i, 3e-2f, L), 5e-4, 1e-2);
        foreach (var i in new[] { 5, 32 * 40 + 7, 77 * 32 + 3, 77 * 32 + 32 * 76 + 31 })
            Check($"d/dcontext[{i}]", dContext[i], CentralElement(ctx, i, 3e-2f, L), 5e-4, 1e-2);

        // the whole gradient along random directions of latents and context together
        var gen = new Generator(8);
        var vLat = Tensor.RandN(gen, lat.Shape).ToArray();
        var vCtx = Tensor.RandN(gen, ctx.Shape).ToArray();
        double expected = Dot(dLatents, vLat) + Dot(dContext, vCtx);
        double Along(float s)
        {
            using var s1 = TensorScope.Enter();
            var l2 = Tensor.FromArray(lat.ReadOnlySpan, lat.Shape);
            var c2 = Tensor.FromArray(ctx.ReadOnlySpan, ctx.Shape);
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(vLat, s, l2.Span, l2.Span);
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(vCtx, s, c2.Span, c2.Span);
            return Loss(unet, l2, c2, r);
        }
        const float eps = 1e-2f;
        Check("directional derivative", expected, (Along(eps) - Along(-eps)) / (2 * eps), 0, 2e-3);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    /// <summary>Parameter gradients (training path) against finite differences, on a private copy of the model.</summary>
    [Fact]
    public void ParameterGradientsMatchFiniteDifferences()
    {
        var unet = new Deja.Diffusion.Models.UNet.UNet2DConditionModel(TinyUNet.Config("sd1"));
        using (var f = Deja.Diffusion.IO.SafeTensorsFile.Open(TinyUNet.WeightsPath("sd1"))) f.LoadModule(unet);
        using var g = TinyUNet.Golden("sd1");
        using var scope = TensorScope.Enter();
        var latents = g.ReadTensor("latents");
        var context = g.ReadTensor("encoder_hidden_states");
        var r = Tensor.RandN(new Generator(9), latents.Shape);
        unet.ZeroGrad();
        Ops.Sum(unet.Forward(latents, T, context) * r).Backward();

        var state = unet.StateDict();
        var problems = new List<string>();
        foreach (var (name, index) in new[]
        {
            ("down_blocks.0.attentions.0.proj_in.weight", 37), // 1×1 conv weight used as a matrix
            ("mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight", 100),
            ("up_blocks.1.attentions.2.transformer_blocks.0.ff.net.0.proj.bias", 200), // gate half
            ("up_blocks.1.resnets.0.time_emb_proj.bias", 3),
            ("conv_in.weight", 50),
        })
        {
            var p = state[name];
            double autograd = p.Grad!.ReadOnlySpan[index];
            double fd = CentralElement(p, index, 3e-2f, () => Loss(unet, latents, context, r));
            if (Math.Abs(fd - autograd) > 5e-4 + 1e-2 * Math.Abs(fd)) problems.Add($"d/d{name}[{index}]: autograd {autograd:G6}, finite differences {fd:G6}");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    /// <summary>L in double, under NoGrad.</summary>
    static double Loss(Deja.Diffusion.Models.UNet.UNet2DConditionModel unet, Tensor latents, Tensor context, Tensor r)
    {
        using var s = TensorScope.Enter();
        using var _ = GradMode.NoGrad();
        var o = unet.Forward(latents, T, context).ReadOnlySpan;
        var w = r.ReadOnlySpan;
        double sum = 0;
        for (int i = 0; i < o.Length; i++) sum += (double)o[i] * w[i];
        return sum;
    }

    static double CentralElement(Tensor target, int index, float eps, Func<double> loss)
    {
        var span = target.Span;
        float keep = span[index];
        span[index] = keep + eps;
        double plus = loss();
        span[index] = keep - eps;
        double minus = loss();
        span[index] = keep;
        return (plus - minus) / (2 * eps);
    }

    static double Dot(float[] a, float[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += (double)a[i] * b[i];
        return s;
    }

    /// <summary>
    /// Regression: with linear projections (SD2's use_linear_projection) the recorded path reshaped the
    /// [O, C] proj_in/proj_out weights to [O, C] — Reshape hands back the same tensor — and disposed the
    /// "view", releasing the model's weights; the next forward failed with use-after-dispose.
    /// </summary>
    [Fact]
    public void RecordedForwardKeepsLinearProjectionWeights()
    {
        var unet = TinyUNet.Load("sd2");
        var sample = Tensor.RandN(new Generator(3), 1, unet.Config.InChannels, 8, 8);
        var context = Tensor.RandN(new Generator(4), 1, 77, unet.Config.CrossAttentionDim[0]);
        float[] first;
        using (GradMode.Set(true))
        {
            var leaf = context.Detach();
            leaf.RequiresGrad = true;
            var y = unet.Forward(sample, 981f, leaf);
            first = y.ToArray();
            Assert.NotNull(Autograd.Grad(y, leaf, Tensor.Ones(y.Shape)));
        }
        using (GradMode.NoGrad())
        {
            var again = unet.Forward(sample, 981f, context).ToArray();
            Assert.Equal(first.Length, again.Length);
            for (int i = 0; i < first.Length; i++) Assert.True(Math.Abs(first[i] - again[i]) <= 1e-4 * (1 + Math.Abs(first[i])), $"[{i}] {first[i]} vs {again[i]}");
        }
    }
}
