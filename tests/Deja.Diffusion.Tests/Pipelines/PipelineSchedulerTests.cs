using Deja.Diffusion.IO;
using Deja.Diffusion.Pipelines;
using Deja.Diffusion.Schedulers;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.Pipelines;

/// <summary>scheduler_config.json → DDIM, against the goldens and diffusers' rules.</summary>
public class PipelineSchedulerTests
{
    [Theory]
    [InlineData("sd1", PredictionType.Epsilon)]
    [InlineData("sd2", PredictionType.VPrediction)]
    public void TinyConfigsGiveTheGoldenSchedule(string model, PredictionType prediction)
    {
        var ddim = PipelineScheduler.Create(DdimSchedulerConfig.Load(TestData.Golden($"tiny-{model}", "scheduler", "scheduler_config.json")));
        using var f = SafeTensorsFile.Open(TestData.Golden("golden", $"{model}_scheduler.safetensors"));
        Assert.Equal(prediction, ddim.Prediction);
        // bit for bit: torch's AVX2 linspace kernel and its double-accumulating cumprod are reproduced exactly
        Assert.Equal(f.ReadTensor("betas").ToArray(), ddim.Schedule.Betas);
        Assert.Equal(f.ReadTensor("alphas_cumprod").ToArray(), ddim.Schedule.AlphasCumprod);
        Assert.Equal(ddim.Schedule.AlphasCumprod, Ddim.StableDiffusion(prediction).Schedule.AlphasCumprod);
        Assert.Equal(f.ReadTensor("final_alpha_cumprod").Item(), ddim.FinalAlphaCumprod);
        foreach (var n in new[] { 50, 25, 10, 1 })
            Assert.Equal(f.ReadInt64($"timesteps_{n}").Data.Select(v => (int)v), ddim.Timesteps(n));
    }

    static DdimSchedulerConfig Parse(string json) => DdimSchedulerConfig.Parse(json);

    /// <summary>
    /// Fuzzing (scheduler-config, seed 1, inputs 56 and 71): with 7 training timesteps and steps_offset 1, a
    /// 7-step run starts at timestep 7, past the schedule; the refusal must name the config file.
    /// </summary>
    [Fact]
    public void StepsOffsetPastTheScheduleNamesTheConfig()
    {
        var ddim = PipelineScheduler.Create(DdimSchedulerConfig.Parse(
            """{"clip_sample": false, "num_train_timesteps": 7, "steps_offset": 1}""", "my/scheduler_config.json"));
        Assert.Equal([4, 1], ddim.Timesteps(2));
        var e = Assert.Throws<DejaException>(() => ddim.Timesteps(7));
        Assert.Contains("my/scheduler_config.json: steps_offset 1 puts the first of 7 timesteps at 7, past the 7 training timesteps", e.Message);
    }

    [Fact]
    public void ConfigSettingsReachTheSampler()
    {
        var ddim = PipelineScheduler.Create(Parse("""
            {"_class_name": "DDIMScheduler", "beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02, "clip_sample": false,
             "set_alpha_to_one": true, "steps_offset": 0, "prediction_type": "v_prediction", "timestep_spacing": "trailing"}
            """));
        Assert.Equal(PredictionType.VPrediction, ddim.Prediction);
        Assert.Equal(1f, ddim.FinalAlphaCumprod);
        Assert.Equal([999, 799, 599, 399, 199], ddim.Timesteps(5));
        Assert.Equal(0.0001f, ddim.Schedule.Betas[0]);
        Assert.Equal(0.02f, ddim.Schedule.Betas[^1]);

        // SD1.x repositories ship PNDM settings; diffusers runs them as DDIM with DDIM's defaults for missing keys
        var pndm = PipelineScheduler.Create(Parse("""
            {"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
             "clip_sample": false, "num_train_timesteps": 1000, "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1, "trained_betas": null}
            """));
        var sd = Ddim.StableDiffusion();
        Assert.Equal(sd.Schedule.Betas, pndm.Schedule.Betas);
        Assert.Equal(sd.Timesteps(50), pndm.Timesteps(50));
        Assert.Equal(sd.FinalAlphaCumprod, pndm.FinalAlphaCumprod);
    }

    [Fact]
    public void CosineAndTrainedBetas()
    {
        var cosine = PipelineScheduler.Create(Parse("""{"beta_schedule": "squaredcos_cap_v2", "clip_sample": false}""")).Schedule;
        Assert.Equal(1000, cosine.TrainTimesteps);
        Assert.Equal(0.999f, cosine.Betas[^1]); // capped
        // β_0 = 1 − ᾱ(1/T)/ᾱ(0) of the cosine ᾱ
        double A(double s) => Math.Pow(Math.Cos((s + 0.008) / 1.008 * Math.PI / 2), 2);
        Assert.Equal((float)(1 - A(0.001) / A(0)), cosine.Betas[0]);
        for (int i = 1; i < 1000; i++) Assert.True(cosine.AlphasCumprod[i] <= cosine.AlphasCumprod[i - 1]);

        var trained = PipelineScheduler.Create(Parse("""{"num_train_timesteps": 3, "trained_betas": [0.1, 0.2, 0.3], "clip_sample": false}""")).Schedule;
        Assert.Equal([0.1f, 0.2f, 0.3f], trained.Betas);
    }

    [Theory]
    [InlineData("""{"clip_sample": true}""", "clip_sample true is not supported")]
    [InlineData("""{"clip_sample": false, "rescale_betas_zero_snr": true}""", "rescale_betas_zero_snr")]
    [InlineData("""{"clip_sample": false, "prediction_type": "sample"}""", "prediction_type 'sample' is not supported")]
    [InlineData("""{"clip_sample": false, "timestep_spacing": "karras"}""", "timestep_spacing 'karras'")]
    [InlineData("""{"clip_sample": false, "beta_schedule": "sigmoid"}""", "beta_schedule 'sigmoid'")]
    public void UnsupportedSettingsAreRefused(string json, string message)
    {
        var e = Assert.Throws<DejaException>(() => PipelineScheduler.Create(Parse(json)));
        Assert.Contains(message, e.Message);
    }
}
