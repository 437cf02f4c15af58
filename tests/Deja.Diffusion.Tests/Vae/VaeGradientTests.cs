using Deja.Diffusion.Models.Vae;
using Deja.Tensors;
using static Deja.Diffusion.Tests.Vae.VaeTestSupport;

namespace Deja.Diffusion.Tests.Vae;

/// <summary>Gradients through the VAE and its padding op against central finite differences.</summary>
public class VaeGradientTests
{
    /// <summary>
    /// Checks d(Σ f(x)⊙r)/dx at <paramref name="count"/> random elements of x against central differences
    /// (the loss summed in double so float rounding of the sum does not swamp the difference).
    /// </summary>
    static void CheckGradient(Func<Tensor, Tensor> f, Tensor x, int count, double eps = 1e-2, double rtol = 5e-3, double atol = 3e-4)
    {
        var rng = new Generator(17);
        float[] r;
        using (GradMode.NoGrad())
        using (var probe = f(x))
        {
            r = new float[probe.Length];
            for (int i = 0; i < r.Length; i++) r[i] = (float)rng.NextNormal();
        }
        x.RequiresGrad = true;
        x.ZeroGrad();
        using (var output = f(x))
        using (var weights = Tensor.FromArray(r, output.Shape))
        using (var product = output * weights)
        using (var loss = Ops.Sum(product))
            loss.Backward();
        var grad = x.Grad!.ToArray();

        double Loss()
        {
            using var _ = GradMode.NoGrad();
            using var o = f(x);
            var s = o.ReadOnlySpan;
            double sum = 0;
            for (int i = 0; i < s.Length; i++) sum += s[i] * (double)r[i];
            return sum;
        }

        for (int k = 0; k < count; k++)
        {
            int i = rng.NextInt(x.Length);
            float original = x.Span[i];
            x.Span[i] = original + (float)eps; double plus = Loss();
            x.Span[i] = original - (float)eps; double minus = Loss();
            x.Span[i] = original;
            double fd = (plus - minus) / (2 * eps), a = grad[i];
            double tol = atol + rtol * Math.Max(Math.Abs(a), Math.Abs(fd));
            Assert.True(Math.Abs(a - fd) <= tol, $"element {i}: autograd {a:G6}, finite difference {fd:G6} (tol {tol:G3})");
        }
    }

    [Fact]
    public void DecodeGradientWithRespectToLatentsMatchesFiniteDifferences()
    {
        var vae = new AutoencoderKL(Micro(), new Generator(3));
        vae.SetRequiresGrad(false); // only the latents need a gradient, as in mitigation
        var z = Tensor.RandN(new Generator(4), 1, 4, 4, 4);
        CheckGradient(x => vae.Decode(x), z, count: 12);
    }

    [Fact]
    public void ScaledDecodeToUnitRangeGradientMatchesFiniteDifferences()
    {
        var vae = new AutoencoderKL(Micro(), new Generator(5));
        var latents = Tensor.RandN(new Generator(6), 1, 4, 4, 4) * 0.5f;
        CheckGradient(vae.DecodeScaledToUnitRange, latents, count: 8, eps: 5e-3);
    }

    [Fact]
    public void EncodeGradientWithRespectToTheImageMatchesFiniteDifferences()
    {
        var vae = new AutoencoderKL(Micro(), new Generator(7));
        var image = Tensor.Uniform(new Generator(8), -1, 1, 1, 3, 8, 8);
        using var noise = Tensor.RandN(new Generator(9), 1, 4, 4, 4);
        CheckGradient(x => vae.EncodeScaled(x, noise), image, count: 12);
    }

    [Fact]
    public void ParameterGradientsReachEveryWeight()
    {
        var vae = new AutoencoderKL(Micro(), new Generator(10));
        using var z = Tensor.RandN(new Generator(11), 1, 4, 4, 4);
        using var image = vae.Decode(z);
        using var loss = Ops.Sum(image.Square());
        loss.Backward();
        foreach (var (name, p) in vae.Decoder.NamedParameters("decoder."))
            Assert.True(p.Grad is not null, $"{name} got no gradient");
        foreach (var (name, p) in vae.PostQuantConv.NamedParameters("post_quant_conv."))
            Assert.True(p.Grad is not null, $"{name} got no gradient");
        Assert.Null(vae.QuantConv.Weight.Grad);
    }
}
