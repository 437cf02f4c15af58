using Deja.Diffusion.IO;
using Deja.Diffusion.Pipelines;
using Deja.Memorization.Detection;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Detection;

/// <summary>
/// golden/sd1_detection.safetensors (diffusers on the tiny SD1 pipeline) reproduced through the real
/// detector code: Wen's first-step metric 1.57985 / 1.76776 / 2.26351 and Asthana's cosine means.
/// </summary>
public class GoldenDetectionTests
{
    static readonly string[] Prompts = ["The No Limits Business Woman Podcast", "Mothers influence on her young hippo", "a photograph of an astronaut riding a horse"];

    static (StableDiffusionView View, PromptBatch Batch, SafeTensorsFile Golden) Load()
    {
        var view = new StableDiffusionView(StableDiffusionPipeline.Load(TestData.Golden("tiny-sd1")));
        var golden = SafeTensorsFile.Open(TestData.Golden("golden", "sd1_detection.safetensors"));
        var xT = golden.ReadTensor("x_T");
        var latents = Enumerable.Range(0, Prompts.Length).Select(p => Ops.Narrow(xT, 0, p, 1)).ToArray();
        var conditions = view.Encode(Prompts).Conditions;
        return (view, new PromptBatch(conditions, view.NullCondition(), latents), golden);
    }

    [Fact]
    public void AnisotropyAndMagnitudeReproduceTheGolden()
    {
        var (view, batch, golden) = Load();
        using (golden)
        {
            Assert.Equal(ModelFamily.SD1, view.Family);
            Assert.Equal((981, 41), new AnisotropyDetector().Timesteps(view));
            var wen = golden.ReadTensor("wen_metric").ToArray();
            var cos = golden.ReadTensor("aniso_cos_mean").ToArray();
            Assert.Equal([1.57985, 1.76776, 2.26351], wen.Select(v => Math.Round(v, 5)));
            var aniso = new AnisotropyDetector().Score(view, batch);
            var magnitude = new MagnitudeDetector().Score(view, batch);
            for (int p = 0; p < Prompts.Length; p++)
            {
                Assert.True(Math.Abs(wen[p] - aniso[p]["anisotropy_norm"]) < 1e-4, $"N[{p}] {aniso[p]["anisotropy_norm"]} vs {wen[p]}");
                Assert.True(Math.Abs(wen[p] - magnitude[p]["magnitude"]) < 1e-4, $"magnitude[{p}] {magnitude[p]["magnitude"]} vs {wen[p]}");
                // ε_c − ε_u is tiny at t = 41 (see the diffusion parity test): 2e-5 on the mean.
                Assert.True(Math.Abs(cos[p] - aniso[p]["anisotropy_cosine"]) < 2e-5, $"C[{p}] {aniso[p]["anisotropy_cosine"]} vs {cos[p]}");
                Assert.Equal(wen[p] + 2 * cos[p], aniso[p]["anisotropy"], 4);
            }
        }
    }

    [Fact]
    public void SharpnessRunsOnTheUNetByFiniteDifferences()
    {
        var (view, batch, golden) = Load();
        golden.Dispose();
        var coarse = new SharpnessDetector { Step = 2e-2 }.Score(view, batch);
        var fine = new SharpnessDetector { Step = 5e-3 }.Score(view, batch);
        for (int p = 0; p < Prompts.Length; p++)
        {
            double a = coarse[p]["sharpness"], b = fine[p]["sharpness"];
            Assert.True(a > 0 && double.IsFinite(a));
            Assert.True(Math.Abs(a - b) <= 1e-2 * a, $"sharpness[{p}] depends on the step: {a} vs {b}");
        }
        var e = Assert.Throws<ArgumentException>(() => new SharpnessDetector { Jvp = JvpMethod.Autograd }.Score(view, batch));
        Assert.Contains("finite-difference", e.Message);
    }
}
