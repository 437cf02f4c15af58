using Deja.Diffusion.Pipelines;
using Deja.Tensors;
using Xunit.Abstractions;

namespace Deja.Diffusion.Tests.Pipelines;

/// <summary>
/// The CFG/DDIM text-to-image loop against diffusers 0.25.1 (golden sdN_pipeline.safetensors): the
/// astronaut prompt, negative "", 10 steps, guidance 7.5, from the stored x_T.
/// </summary>
public class PipelineParityTests(ITestOutputHelper log)
{
    // README §8: ~1e-4 abs + 1e-4 rel for the pipeline and the VAE (sd1 latents reach |x| ≈ 31)
    const double Atol = 1e-4, Rtol = 1e-4;

    [Theory]
    [InlineData("sd1")]
    [InlineData("sd2")]
    public void TenStepGuidedRunMatchesDiffusersStepByStep(string model)
    {
        var pipe = TinyPipelines.Load(model);
        using var g = TinyPipelines.Golden(model);
        using var scope = TensorScope.Enter();
        var xT = g.ReadTensor("x_T");

        using (var embeds = pipe.EncodePrompts(TinyPipelines.Prompt, ""))
            TinyPipelines.Near(g.ReadTensor("prompt_embeds_cfg"), embeds.Embeddings, 1e-5, 0, $"{model} prompt_embeds_cfg");

        var uncond = new List<float>(); var cond = new List<float>(); var latents = new List<float>();
        var totals = new List<(int Completed, int Total)>();
        using var result = pipe.Generate(new GenerationOptions
        {
            Prompt = TinyPipelines.Prompt, NegativePrompt = "", Steps = 10, Guidance = 7.5, InitialLatents = xT,
        }, step =>
        {
            uncond.AddRange(step.UNetUncond.ToArray());
            cond.AddRange(step.UNetCond.ToArray());
            latents.AddRange(step.Latents.ToArray());
            totals.Add((step.Completed, step.Total));
        });

        Assert.Equal(g.ReadInt64("timesteps").Data.Select(v => (int)v), result.Timesteps);
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (i, 10)), totals);
        var diffs = new Dictionary<string, double>
        {
            ["unet_out_uncond_per_step"] = TinyPipelines.Near(g.ReadTensor("unet_out_uncond_per_step").ReadOnlySpan, uncond.ToArray(), Atol, Rtol, $"{model} unet uncond"),
            ["unet_out_cond_per_step"] = TinyPipelines.Near(g.ReadTensor("unet_out_cond_per_step").ReadOnlySpan, cond.ToArray(), Atol, Rtol, $"{model} unet cond"),
            ["latents_per_step"] = TinyPipelines.Near(g.ReadTensor("latents_per_step").ReadOnlySpan, latents.ToArray(), Atol, Rtol, $"{model} latents per step"),
            ["text_noise_norm_per_step"] = TinyPipelines.Near(g.ReadTensor("text_noise_norm_per_step").ReadOnlySpan,
                result.TextNoiseNorms.Select(v => (float)v).ToArray(), Atol, Rtol, $"{model} text noise norm"),
            ["final_latents"] = TinyPipelines.Near(g.ReadTensor("final_latents"), result.FinalLatents, Atol, Rtol, $"{model} final latents"),
            ["final_latents.f64ref"] = TinyPipelines.Near(g.ReadTensor("final_latents.f64ref"), result.FinalLatents, Atol, Rtol, $"{model} final latents vs f64"),
            ["decoded"] = TinyPipelines.Near(g.ReadTensor("decoded"), result.Decoded!, Atol, Rtol, $"{model} decoded"),
            ["image_0_1"] = TinyPipelines.Near(g.ReadTensor("image_0_1"), result.Image01!, Atol, Rtol, $"{model} image_0_1"),
        };
        Assert.Equal(xT.ToArray(), result.InitialLatents.ToArray());
        foreach (var (name, d) in diffs) log.WriteLine($"{model} {name}: max |diff| {d:G3}");
    }

    [Fact]
    public void EncodePromptsPutsTheNegativePromptFirst()
    {
        var pipe = TinyPipelines.Load("sd1");
        using var scope = TensorScope.Enter();
        using var both = pipe.EncodePrompts("a cat", "a dog");
        using var cat = pipe.TextEncoder.EncodePrompts(["a cat"]);
        using var dog = pipe.TextEncoder.EncodePrompts(["a dog"]);
        Assert.Equal([2, 77, 32], both.Embeddings.Shape);
        // Encoding two prompts in one batch changes the products' row blocking, so the rows agree within
        // the determinism contract's batch tolerance (README), not bit for bit: measured 1.0e-6 at |x| ≈ 0.5
        // with OpenBLAS's AVX2 kernels, 0 with its AVX-512 ones.
        TinyPipelines.Near(dog.Embeddings, Ops.Narrow(both.Embeddings, 0, 0, 1), 1e-5, 0, "negative row");
        TinyPipelines.Near(cat.Embeddings, Ops.Narrow(both.Embeddings, 0, 1, 1), 1e-5, 0, "prompt row");
    }
}
