using System.Net;
using System.Text.Json.Nodes;
using Deja.Memorization.Detection;
using Deja.Memorization.Models;
using Deja.Server.Tests.Support;

namespace Deja.Server.Tests;

/// <summary>--calibration: the threshold of a deja calibrate file, checked against the served run, for screening and for the generation guard.</summary>
public class CalibrationTests
{
    static Calibration For(DetectionRun run, double threshold, Func<JsonObject, JsonObject>? editParams = null, string? modelId = null)
    {
        var model = run.Model.Identity();
        if (modelId is not null) model["id"] = modelId;
        return new Calibration
        {
            Threshold = threshold, Column = "anisotropy", Method = "anisotropy", Negatives = 100, FlaggedNegatives = 1, TargetFpr = 0.01,
            ParamsJson = (editParams ?? (p => p))(run.Parameters()).ToJsonString(), ModelJson = model.ToJsonString(), Path = "calibration.json",
        };
    }

    [Fact]
    public async Task A_matching_calibration_sets_the_threshold_of_screening_and_of_the_guard()
    {
        var run = Models.Run(Models.TinySd1);
        var screener = Screener.Create(run, For(run, -1e9));
        Assert.Equal(-1e9, screener.Threshold);
        using var factory = new ServerFactory(new ServerSettings(), screener);
        Assert.Equal(-1e9, factory.Service.Current!.GuardThreshold);
        using var client = factory.CreateClient();
        var screen = JsonNode.Parse(await client.GetStringAsync("/v1/info"))!;
        Assert.Equal(0.01, (double)screen["calibration"]!["target_fpr"]!);
        var response = await client.PostAsync("/v1/generate", Http.Json("""{"prompt": "a red circle", "steps": 2, "guard": true, "mitigate": "random-tokens"}"""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("true", response.Headers.GetValues("X-Deja-Flagged").Single());
    }

    [Fact]
    public void A_calibration_of_another_model_or_parameters_is_refused_naming_the_difference()
    {
        var run = Models.Run(Models.TinySd1);
        var e = Assert.Throws<Deja.Tensors.DejaException>(() => Screener.Create(run, For(run, 1, modelId: "0123")));
        Assert.Contains("id 0123", e.Message);
        e = Assert.Throws<Deja.Tensors.DejaException>(() => Screener.Create(run, For(run, 1, p => { p["noise"]!["seed"] = 3; return p; })));
        Assert.Contains("noise.seed", e.Message);
    }

    [Fact]
    public async Task A_calibration_with_n_other_than_one_screens_but_does_not_guard_generation()
    {
        var view = Models.TinySd1;
        var run = new DetectionRun { Model = view, Detectors = [new AnisotropyDetector()], Noise = InitialNoise.Seeded(view.LatentShape, 2, 51, SeedPolicy.Same) };
        using var factory = new ServerFactory(new ServerSettings(), Screener.Create(run, For(run, 0.5)));
        Assert.Null(factory.Service.Current!.GuardThreshold);
        Assert.Contains("n = 2", factory.Service.Current!.GuardUnavailable);
        using var client = factory.CreateClient();
        var refused = await client.PostAsync("/v1/generate", Http.Json("""{"prompt": "a red circle", "steps": 2, "guard": true}"""));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var screened = await client.PostAsync("/v1/screen", Http.Json("""{"prompts": ["a red circle"]}"""));
        Assert.Equal(HttpStatusCode.OK, screened.StatusCode);
    }
}
