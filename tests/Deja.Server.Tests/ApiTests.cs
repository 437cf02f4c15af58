using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Deja.Diffusion.Images;
using Deja.Memorization.Detection;
using Deja.Memorization.Explanation;
using Deja.Memorization.Mitigation;
using Deja.Server.Tests.Support;

// One model instance is shared by the test classes and the service owns it while it runs: one test at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Deja.Server.Tests;

/// <summary>/v1/screen, /v1/explain and /v1/generate against the library entry points `deja detect`, `deja explain` and `deja generate` call.</summary>
public class ApiTests
{
    static readonly string[] Prompts =
    [
        "a large red circle at the top on a dotted purple background",
        "a small green triangle in the middle",
        "<script>alert(1)</script>",
        "a photograph of an astronaut riding a horse",
        "two blue squares, left and right, on a striped background",
    ];

    static async Task<JsonObject> Body(HttpResponseMessage r) => JsonNode.Parse(await r.Content.ReadAsStringAsync())!.AsObject();

    /// <summary>The reference: the scores `deja detect` writes (DetectionRun.Run over the list, batches of 8).</summary>
    static IReadOnlyList<DetectionRow> Detect(IReadOnlyList<string> prompts, SeedPolicy policy = SeedPolicy.Same) =>
        Models.Run(Models.TinySd1, policy).Run(prompts).SelectMany(b => b).ToList();

    [Fact]
    public async Task Screen_scores_equal_detect_and_the_verdict_is_score_above_threshold()
    {
        var reference = Detect(Prompts);
        // A threshold between the scores: some prompts flagged, some not.
        var sorted = reference.Select(r => r.Scores["anisotropy"]).Order().ToArray();
        double threshold = (sorted[2] + sorted[3]) / 2;
        using var factory = ServerFactory.Tiny(threshold: threshold);
        using var client = factory.CreateClient();
        var response = await client.PostAsync("/v1/screen", Http.Json(new JsonObject { ["prompts"] = new JsonArray([.. Prompts.Select(p => (JsonNode)p)]) }.ToJsonString()));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await Body(response);
        var results = body["results"]!.AsArray();
        Assert.Equal(Prompts.Length, results.Count);
        int flagged = 0;
        for (int i = 0; i < Prompts.Length; i++)
        {
            var r = results[i]!.AsObject();
            Assert.Equal(Prompts[i], (string)r["prompt"]!);
            foreach (var (column, expected) in reference[i].Scores)
            {
                double got = (double)r["scores"]![column]!;
                Assert.True(DeterminismContract.Agree(column, expected, got), $"{column} of prompt {i}: detect {expected}, service {got}");
            }
            Assert.Equal(reference[i].Scores["anisotropy"] > threshold, (bool)r["flagged"]!);
            Assert.Equal(threshold, (double)r["threshold"]!);
            Assert.Equal("anisotropy", (string)r["threshold_column"]!);
            Assert.Equal(reference[i].Tokens, (int)r["tokens"]!);
            Assert.False((bool)r["truncated"]!);
            if ((bool)r["flagged"]!) flagged++;
        }
        Assert.Equal(2, flagged); // 5 prompts, threshold between the 3rd and 4th smallest
        Assert.Equal("anisotropy", (string)body["method"]!);
        Assert.Equal(Models.TinySd1.Id, (string)body["model"]!["id"]!);
        Assert.Equal(51, (long)body["params"]!["noise"]!["seed"]!);
        var metrics = await client.GetStringAsync("/metrics");
        Assert.Contains("deja_prompts_flagged_total 2\n", metrics);
        Assert.Contains("deja_prompts_screened_total 5\n", metrics);
    }

    [Fact]
    public async Task With_the_index_seed_policy_a_request_scores_as_detect_on_a_file_of_its_prompts()
    {
        // Noise index = position in the request: prompt i of a request gets seed 51 + i, as line i of a prompt file does.
        var reference = Detect(Prompts, SeedPolicy.Index);
        var shifted = Detect([Prompts[1], Prompts[0]], SeedPolicy.Index); // the same prompt at another position: other noise
        Assert.NotEqual(reference[0].Scores["anisotropy"], shifted[1].Scores["anisotropy"]);
        using var factory = ServerFactory.Tiny(policy: SeedPolicy.Index);
        using var client = factory.CreateClient();
        // Two requests at once, so their prompts share batches: positions are per request, not per batch.
        var a = client.PostAsync("/v1/screen", Http.Json(new JsonObject { ["prompts"] = new JsonArray([.. Prompts.Select(p => (JsonNode)p)]) }.ToJsonString()));
        var b = client.PostAsync("/v1/screen", Http.Json($"{{\"prompts\": [{JsonSerializer.Serialize(Prompts[1])}, {JsonSerializer.Serialize(Prompts[0])}]}}"));
        var ra = (await Body(await a))["results"]!.AsArray();
        var rb = (await Body(await b))["results"]!.AsArray();
        for (int i = 0; i < Prompts.Length; i++)
            Assert.True(DeterminismContract.Agree("anisotropy", reference[i].Scores["anisotropy"], (double)ra[i]!["scores"]!["anisotropy"]!), $"prompt {i}");
        for (int i = 0; i < 2; i++)
            Assert.True(DeterminismContract.Agree("anisotropy", shifted[i].Scores["anisotropy"], (double)rb[i]!["scores"]!["anisotropy"]!), $"second request, prompt {i}");
    }

    [Fact]
    public async Task Explain_equals_the_explain_run()
    {
        var view = Models.TinySd1;
        var expected = new ExplainRun { Model = view, Method = new TokenSignificance(), Noise = InitialNoise.Seeded(view.LatentShape, 1, 51, SeedPolicy.Same) }
            .Run([Prompts[0]]).Single().Single();
        using var factory = ServerFactory.Tiny();
        using var client = factory.CreateClient();
        var response = await client.PostAsync("/v1/explain", Http.Json($"{{\"prompts\": [{JsonSerializer.Serialize(Prompts[0])}]}}"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var tokens = (await Body(response))["results"]![0]!["tokens"]!.AsArray();
        Assert.Equal(expected.Tokens.Count, tokens.Count);
        Assert.True(tokens.Count >= 10); // "a large red circle at the top on a dotted purple background": 11 words
        for (int i = 0; i < tokens.Count; i++)
        {
            Assert.Equal(expected.Tokens[i].Token, (string)tokens[i]!["token"]!);
            Assert.Equal(expected.Tokens[i].Significance, (double)tokens[i]!["significance"]!, 1e-9);
        }
    }

    [Fact]
    public async Task Generate_returns_a_png_and_the_guard_verdict_in_headers()
    {
        // Threshold 0: every prompt is flagged (anisotropy norms are positive) and mitigated by random tokens (cheap).
        using var factory = ServerFactory.Tiny(threshold: -1e9);
        using var client = factory.CreateClient();
        var response = await client.PostAsync("/v1/generate", Http.Json("""{"prompt": "a small green triangle", "seed": 3, "steps": 2, "guard": true, "mitigate": "random-tokens"}"""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/png", response.Content.Headers.ContentType!.MediaType);
        var image = Png.Decode(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(64, image.Width); // the tiny pipeline's default size
        Assert.Equal(64, image.Height);
        Assert.Equal("true", response.Headers.GetValues("X-Deja-Flagged").Single());
        Assert.Equal("random-tokens", response.Headers.GetValues("X-Deja-Mitigation").Single());
        Assert.Equal("3", response.Headers.GetValues("X-Deja-Seed").Single());
        // Unguarded, unmitigated: no verdict headers, and the pixels of `deja generate --mitigate`'s library path with the same seed.
        var plain = await client.PostAsync("/v1/generate", Http.Json("""{"prompt": "a small green triangle", "seed": 5, "steps": 2}"""));
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        Assert.False(plain.Headers.Contains("X-Deja-Flagged"));
        Assert.Equal("none", plain.Headers.GetValues("X-Deja-Mitigation").Single());
        var served = Png.Decode(await plain.Content.ReadAsByteArrayAsync());
        var direct = new GuardedGeneration { Mitigation = GuardedGeneration.ForGeneration(Models.TinySd1, MitigationMethod.None, 5, 1, 2, 7.5) }.Generate("a small green triangle");
        var expected = GuardedGeneration.ToImage(direct.Result, 0);
        Assert.Equal(expected.Pixels, served.Pixels);
    }

    [Fact]
    public async Task Generate_with_guard_but_no_threshold_is_refused_naming_guard()
    {
        using var factory = ServerFactory.Tiny();
        using var client = factory.CreateClient();
        var response = await client.PostAsync("/v1/generate", Http.Json("""{"prompt": "a small green triangle", "steps": 2, "guard": true}"""));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await Body(response))["error"]!;
        Assert.Equal("guard", (string)error["field"]!);
        Assert.Contains("no threshold", (string)error["message"]!);
        var steps = await client.PostAsync("/v1/generate", Http.Json("""{"prompt": "x", "steps": 51}"""));
        Assert.Equal("steps", (string)(await Body(steps))["error"]!["field"]!);
    }
}
