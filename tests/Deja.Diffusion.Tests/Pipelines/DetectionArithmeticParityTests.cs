using Deja.Diffusion.IO;
using Deja.Diffusion.Pipelines;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.Pipelines;

/// <summary>
/// The detection arithmetic of golden/sd1_detection.safetensors reproduced with our text encoder and
/// UNet: ε at t = 981 and t = 41 on the same pure noise, Wen et al.'s ‖ε_c − ε_u‖ and the per-pixel
/// channel cosine between ε_u and ε_c − ε_u (METHODS.md §1.1, §3.1).
/// </summary>
public class DetectionArithmeticParityTests
{
    static void Near(Tensor expected, Tensor actual, double tol, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.ReadOnlySpan; var a = actual.ReadOnlySpan;
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= tol, $"{what}[{i}]: expected {e[i]:G7}, got {a[i]:G7}");
    }

    [Fact]
    public void WenMetricAndAnisotropyCosineMatchGolden()
    {
        var pipe = StableDiffusionPipeline.Load(TestData.Golden("tiny-sd1"));
        using var f = SafeTensorsFile.Open(TestData.Golden("golden", "sd1_detection.safetensors"));
        var xT = f.ReadTensor("x_T");
        var prompts = new[] { "The No Limits Business Woman Podcast", "Mothers influence on her young hippo", "a photograph of an astronaut riding a horse" };
        using var cond = pipe.TextEncoder.EncodePrompts(prompts);
        using var uncond = pipe.TextEncoder.EncodeUnconditional();
        Near(f.ReadTensor("cond_embeds"), cond.Embeddings, 1e-5, "cond_embeds");
        Near(f.ReadTensor("uncond_embed"), uncond, 1e-5, "uncond_embed");

        using var _ = GradMode.NoGrad();
        int n = prompts.Length;
        var uncondN = Ops.Concat(Enumerable.Repeat(uncond, n).ToArray(), 0);
        var embeds = Ops.Concat([uncondN, cond.Embeddings], 0);      // [∅ × n ; c_i]
        var latents = Ops.Concat([xT, xT], 0);
        foreach (var (t, suffix) in new[] { (981, "first"), (41, "aniso") })
        {
            var outs = Ops.Chunk(pipe.UNet.Forward(latents, t, embeds), 2, 0);
            Near(f.ReadTensor($"eps_uncond_{suffix}"), outs[0], 1e-5, $"eps_uncond_{suffix}");
            Near(f.ReadTensor($"eps_cond_{suffix}"), outs[1], 1e-5, $"eps_cond_{suffix}");
            var diff = outs[1] - outs[0];
            if (t == 981)
            {
                var norms = Ops.Norm(diff, [1, 2, 3]);
                Near(f.ReadTensor("wen_metric"), norms, 1e-5, "wen_metric");
                Assert.Equal(1.57985, norms[0], 4);
                Assert.Equal(2.26351, norms[2], 4);
            }
            else
            {
                // The arithmetic itself, on the golden ε: exact to rounding.
                var gu = f.ReadTensor("eps_uncond_aniso");
                var gc = f.ReadTensor("eps_cond_aniso");
                var exact = Ops.CosineSimilarity(gu, gc - gu, dim: 1);
                Near(f.ReadTensor("aniso_cos_map"), exact, 1e-6, "aniso_cos_map (golden ε)");
                Near(f.ReadTensor("aniso_cos_mean"), Ops.Mean(exact, [1, 2]), 1e-6, "aniso_cos_mean (golden ε)");
                // Through our UNet: ε_c − ε_u is small at t = 41, so ε's 1e-6 rounding moves a
                // 4-channel cosine by up to ~1e-4.
                var cos = Ops.CosineSimilarity(outs[0], diff, dim: 1);
                Near(f.ReadTensor("aniso_cos_map"), cos, 2e-4, "aniso_cos_map");
                Near(f.ReadTensor("aniso_cos_mean"), Ops.Mean(cos, [1, 2]), 2e-5, "aniso_cos_mean");
            }
        }
    }
}
