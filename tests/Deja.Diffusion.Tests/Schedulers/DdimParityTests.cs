using Deja.Diffusion.IO;
using Deja.Diffusion.Schedulers;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.Schedulers;

/// <summary>DDIM against diffusers' DDIMScheduler (golden sdN_scheduler.safetensors).</summary>
public class DdimParityTests
{
    static void Near(Tensor expected, Tensor actual, double tol, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.ReadOnlySpan; var a = actual.ReadOnlySpan;
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= tol * (1 + Math.Abs(e[i])), $"{what}[{i}]: expected {e[i]:G9}, got {a[i]:G9}");
    }

    [Theory]
    [InlineData("sd1", PredictionType.Epsilon)]
    [InlineData("sd2", PredictionType.VPrediction)]
    public void ScheduleTimestepsStepsAndConversionsMatchDiffusers(string model, PredictionType prediction)
    {
        using var f = SafeTensorsFile.Open(TestData.Golden("golden", $"{model}_scheduler.safetensors"));
        var ddim = Ddim.StableDiffusion(prediction);

        Near(f.ReadTensor("betas"), Tensor.FromArray(ddim.Schedule.Betas, 1000), 1e-7, "betas");
        Near(f.ReadTensor("alphas_cumprod"), Tensor.FromArray(ddim.Schedule.AlphasCumprod, 1000), 1e-6, "alphas_cumprod");
        Assert.Equal(f.ReadTensor("final_alpha_cumprod").Item(), ddim.FinalAlphaCumprod);
        foreach (var n in new[] { 50, 25, 10, 1 })
            Assert.Equal(f.ReadInt64($"timesteps_{n}").Data.Select(v => (int)v), ddim.Timesteps(n));

        var sample = f.ReadTensor("step_sample");
        var output = f.ReadTensor("step_model_output");
        var noise = f.ReadTensor("step_variance_noise");
        foreach (var t in new[] { 981, 481, 1 })
        {
            var (prev, x0) = ddim.Step(output, t, sample, 50);
            Near(f.ReadTensor($"step_t{t}_prev_sample"), prev, 2e-6, $"prev t={t}");
            Near(f.ReadTensor($"step_t{t}_pred_original_sample"), x0, 2e-6, $"x0 t={t}");
            var (prevEta, _) = ddim.Step(output, t, sample, 50, eta: 1f, varianceNoise: noise);
            Near(f.ReadTensor($"step_t{t}_eta1_prev_sample"), prevEta, 2e-6, $"eta=1 prev t={t}");
            Near(f.ReadTensor($"conv_t{t}_score"), ddim.Score(output, sample, t) , 2e-6, $"score t={t}");
            if (prediction == PredictionType.VPrediction)
            {
                var (x0v, eps) = ddim.Decompose(output, sample, t);
                Near(f.ReadTensor($"conv_t{t}_eps_from_v"), eps, 2e-6, $"eps from v t={t}");
                Near(f.ReadTensor($"conv_t{t}_x0_from_v"), x0v, 2e-6, $"x0 from v t={t}");
            }
        }
    }

    [Fact]
    public void FiftyStepTimestepsAndAlphaBarsMatchMethodsTable()
    {
        var ddim = Ddim.StableDiffusion();
        var ts = ddim.Timesteps(50);
        Assert.Equal(981, ts[0]);
        Assert.Equal(41, ts[^3]);
        Assert.Equal(1, ts[^1]);
        Assert.Equal(0.005775, ddim.Schedule.AlphaBar(981), 5);
        Assert.Equal(0.960873, ddim.Schedule.AlphaBar(41), 5);
        Assert.Equal(0.999150, ddim.FinalAlphaCumprod, 5);
    }
}
