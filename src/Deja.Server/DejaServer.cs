using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Deja.Diffusion.Images;
using Deja.Memorization.Detection;
using Deja.Memorization.Explanation;
using Deja.Memorization.Mitigation;
using Deja.Memorization.Models;
using Deja.Tensors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Deja.Server;

/// <summary>
/// `deja serve`: the prompt-screening service. The host is a plain generic host with Kestrel (no
/// configuration files, no logging providers: one JSON line per request is written by
/// <see cref="RequestLog"/>), so what runs is exactly what the tests run through WebApplicationFactory.
/// </summary>
public static class DejaServer
{
    /// <summary>The host of <paramref name="service"/>, bound to its --host/--port (tests replace the server).</summary>
    public static IHostBuilder CreateHostBuilder(ScreeningService service) => new HostBuilder()
        .ConfigureWebHost(web => web
            .UseKestrel(k =>
            {
                k.AddServerHeader = false;
                k.Limits.MaxRequestBodySize = service.Settings.MaxBodyBytes;
                // Slow clients: a body must arrive at ≥ 240 bytes/s after 5 s of grace, headers within 10 s.
                k.Limits.MinRequestBodyDataRate = new Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate(240, TimeSpan.FromSeconds(5));
                k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
            })
            .UseUrls($"http://{(service.Settings.Host.Contains(':') ? $"[{service.Settings.Host}]" : service.Settings.Host)}:{service.Settings.Port}")
            .ConfigureServices(s => s.AddRouting().AddSingleton(service).AddSingleton<IHostLifetime, CallerLifetime>())
            .Configure(app => Configure(app, service)));

    /// <summary>The address Kestrel bound (with --port 0, the port it chose).</summary>
    public static string Address(IHost host) =>
        host.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features
            .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? "(unknown)";

    /// <summary>
    /// The caller owns the process's signals (`deja serve` turns SIGINT/SIGTERM into a graceful stop and exit
    /// code 130/143, as every deja command): the host installs no signal handlers of its own.
    /// </summary>
    sealed class CallerLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    static void Configure(IApplicationBuilder app, ScreeningService service)
    {
        app.Use((context, next) => Outermost(context, next, service));
        app.UseRouting();
        app.Use((context, next) => Authorize(context, next, service.Settings.ApiKey));
        app.UseEndpoints(e => Map(e, service));
    }

    /// <summary>Public routes: the health probes and the page (its API calls carry the key the user types).</summary>
    static readonly HashSet<string> Public = ["/healthz", "/readyz", "/", "/app.js", "/app.css"];

    static void Map(IEndpointRouteBuilder e, ScreeningService service)
    {
        e.MapGet("/", () => Asset("index.html", "text/html; charset=utf-8"));
        e.MapGet("/app.js", () => Asset("app.js", "text/javascript; charset=utf-8"));
        e.MapGet("/app.css", () => Asset("app.css", "text/css; charset=utf-8"));
        e.MapGet("/healthz", () => Json(200, new JsonObject { ["status"] = "ok" }));
        e.MapGet("/readyz", () => service.Current is { } l
            ? Json(200, new JsonObject { ["status"] = "ready", ["model"] = l.Model.DeepClone() })
            : Json(503, new JsonObject { ["status"] = "loading" }));
        e.MapGet("/metrics", () => Results.Text(service.Metrics.Render(), "text/plain; version=0.0.4; charset=utf-8"));
        e.MapGet("/openapi.json", () => Results.Text(OpenApiDocument.Json, "application/json; charset=utf-8"));
        e.MapGet("/v1/info", () => Info(service));
        e.MapPost("/v1/screen", (Func<HttpContext, Task<IResult>>)(c => Screen(c, service)));
        e.MapPost("/v1/explain", (Func<HttpContext, Task<IResult>>)(c => Explain(c, service)));
        e.MapPost("/v1/generate", (Func<HttpContext, Task<IResult>>)(c => Generate(c, service)));
    }

    // ---- endpoints ----

    static IResult Info(ScreeningService service)
    {
        var l = Require(service);
        var s = l.Screener;
        return Json(200, new JsonObject
        {
            ["model"] = l.Model.DeepClone(), ["method"] = s.Run.Method, ["params"] = l.Params.DeepClone(),
            ["threshold"] = s.Threshold, ["threshold_column"] = s.ThresholdColumn,
            ["calibration"] = s.Calibration is { } c ? new JsonObject { ["target_fpr"] = c.TargetFpr, ["achieved_fpr"] = c.AchievedFpr, ["negatives"] = c.Negatives } : null,
            ["generate_guard"] = l.GuardUnavailable is null ? "available" : l.GuardUnavailable,
            ["limits"] = new JsonObject
            {
                ["max_body_bytes"] = service.Settings.MaxBodyBytes, ["max_prompts"] = service.Settings.MaxPrompts,
                ["max_prompt_chars"] = service.Settings.MaxPromptChars, ["max_steps"] = service.Settings.MaxSteps,
            },
        });
    }

    static async Task<IResult> Screen(HttpContext context, ScreeningService service)
    {
        var l = Require(service);
        using var timeout = Timeout(context, service);
        var body = await ApiRequests.ReadBody(context.Request, service.Settings.MaxBodyBytes, timeout.Token);
        var prompts = ApiRequests.Screen(body, service.Settings, l.Screener.Run.Method);
        RequestLog.Note(context, prompts);
        IReadOnlyList<ScreeningResult> results;
        try { results = await l.Queue.Screen(prompts, timeout.Token).WaitAsync(timeout.Token); }
        catch (QueueFullException e) { throw new ApiError(429, "prompts", e.Message); }
        if (results.FirstOrDefault(r => r.Error is not null) is { } bad)
            throw new ApiError(500, $"prompts[{bad.Row.Index}]", bad.Error!);
        int flagged = results.Count(r => r.Flagged == true);
        service.Metrics.Screened(results.Count, flagged);
        context.Items[RequestLog.FlaggedKey] = flagged;
        return Json(200, new JsonObject
        {
            ["results"] = new JsonArray([.. results.Select(r => (JsonNode)new JsonObject
            {
                ["prompt"] = r.Row.Prompt,
                ["scores"] = new JsonObject([.. r.Row.Scores.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))]),
                ["flagged"] = r.Flagged, ["threshold"] = r.Threshold, ["threshold_column"] = r.ThresholdColumn,
                ["tokens"] = r.Row.Tokens, ["truncated"] = r.Row.Truncated,
            })]),
            ["method"] = l.Screener.Run.Method, ["model"] = l.Model.DeepClone(), ["params"] = l.Params.DeepClone(),
        });
    }

    static async Task<IResult> Explain(HttpContext context, ScreeningService service)
    {
        var l = Require(service);
        using var timeout = Timeout(context, service);
        var body = await ApiRequests.ReadBody(context.Request, service.Settings.MaxBodyBytes, timeout.Token);
        var prompts = ApiRequests.Explain(body, service.Settings);
        RequestLog.Note(context, prompts);
        // Token significance (Wen et al.) at deja explain's defaults, on the service's noise.
        var run = new ExplainRun { Model = l.Screener.Run.Model, Method = new TokenSignificance(), Noise = l.Screener.Run.Noise, BatchSize = service.Settings.MaxBatch };
        var rows = await OnModel(service, timeout.Token, () => run.Run(prompts).SelectMany(b => b).ToList());
        return Json(200, new JsonObject
        {
            ["results"] = new JsonArray([.. rows.Select(r => (JsonNode)r.ToJson())]),
            ["model"] = l.Model.DeepClone(),
        });
    }

    static async Task<IResult> Generate(HttpContext context, ScreeningService service)
    {
        var l = Require(service);
        using var timeout = Timeout(context, service);
        var body = await ApiRequests.ReadBody(context.Request, service.Settings.MaxBodyBytes, timeout.Token);
        var request = ApiRequests.Generate(body, service.Settings);
        RequestLog.Note(context, [request.Prompt]);
        if (l.Screener.Run.Model is not StableDiffusionView view)
            throw new ApiError(400, "body", "this model cannot generate images (not a Stable Diffusion pipeline)");
        if (request.Guard && l.GuardThreshold is null) throw new ApiError(400, "guard", $"guarded generation is not available: {l.GuardUnavailable}");
        MitigationMethod method;
        try { method = request.Mitigate is { } m ? MitigationRun.ParseMethod(m) : request.Guard ? MitigationMethod.Prompt : MitigationMethod.None; }
        catch (Exception e) when (e is DejaException or ArgumentException) { throw new ApiError(400, "mitigate", e.Message); }
        var guarded = new GuardedGeneration
        {
            Mitigation = GuardedGeneration.ForGeneration(view, method, request.Seed, 1, request.Steps, request.Guidance),
            Threshold = request.Guard ? l.GuardThreshold : null, Detector = l.Screener.Run.Detectors[0],
        };
        var (decision, result) = await OnModel(service, timeout.Token, () => guarded.Generate(request.Prompt));
        using var png = new MemoryStream();
        Png.Write(png, GuardedGeneration.ToImage(result, 0));
        var h = context.Response.Headers;
        h["X-Deja-Seed"] = request.Seed.ToString(CultureInfo.InvariantCulture);
        h["X-Deja-Mitigation"] = decision is { Flagged: false } ? "none" : MitigationRun.MethodName(method);
        if (decision is not null)
        {
            h["X-Deja-Flagged"] = decision.Flagged ? "true" : "false";
            h["X-Deja-Score"] = decision.Score.ToString("R", CultureInfo.InvariantCulture);
            h["X-Deja-Threshold"] = decision.Threshold.ToString("R", CultureInfo.InvariantCulture);
            if (decision.Flagged) context.Items[RequestLog.FlaggedKey] = 1;
        }
        return Results.Bytes(png.ToArray(), "image/png");
    }

    // ---- plumbing ----

    static ScreeningService.Loaded Require(ScreeningService service) =>
        service.Current ?? throw new ApiError(503, "model", "the model is still loading; retry when /readyz answers 200");

    /// <summary>The request's deadline (--request-timeout), also cancelled when the client goes away.</summary>
    static CancellationTokenSource Timeout(HttpContext context, ScreeningService service)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        cts.CancelAfter(TimeSpan.FromSeconds(service.Settings.RequestTimeoutSeconds));
        return cts;
    }

    /// <summary>Runs model work when it is the model's turn (the batcher and the other endpoints take turns).</summary>
    static async Task<T> OnModel<T>(ScreeningService service, CancellationToken cancel, Func<T> work)
    {
        await service.Model.Lock.WaitAsync(cancel);
        try { return await Task.Run(work, CancellationToken.None); }
        finally { service.Model.Lock.Release(); }
    }

    static IResult Json(int status, JsonObject body) => Results.Text(body.ToJsonString(), "application/json; charset=utf-8", Encoding.UTF8, status);

    static IResult Asset(string name, string type)
    {
        using var stream = typeof(DejaServer).Assembly.GetManifestResourceStream("wwwroot/" + name)
            ?? throw new InvalidOperationException($"embedded asset {name} is missing");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return Results.Bytes(copy.ToArray(), type);
    }

    /// <summary>Bearer authentication for everything but the public routes; the comparison takes the same time for every wrong key.</summary>
    static Task Authorize(HttpContext context, RequestDelegate next, string? key)
    {
        if (key is null || Public.Contains(context.Request.Path.Value ?? "")) return next(context);
        string header = context.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        bool ok = header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) &&
            CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim())), SHA256.HashData(Encoding.UTF8.GetBytes(key)));
        if (ok) return next(context);
        context.Response.Headers.WWWAuthenticate = "Bearer";
        throw new ApiError(401, "Authorization", "send the API key as 'Authorization: Bearer KEY'");
    }

    /// <summary>
    /// Around every request: security headers, ApiError → its status with {"error": {"field", "message"}},
    /// any other failure → 500 with the same shape (never a stack trace), then the metrics and the log line.
    /// </summary>
    static async Task Outermost(HttpContext context, RequestDelegate next, ScreeningService service)
    {
        var clock = Stopwatch.StartNew();
        var h = context.Response.Headers;
        h.XContentTypeOptions = "nosniff";
        h["Content-Security-Policy"] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
        h["Referrer-Policy"] = "no-referrer";
        h.CacheControl = "no-store";
        try { await next(context); }
        catch (Exception e) when (!context.Response.HasStarted)
        {
            bool gone = context.RequestAborted.IsCancellationRequested;
            var (status, field, message) = e switch
            {
                ApiError a => (a.Status, a.Field, a.Message),
                OperationCanceledException when gone => (499, "body", "the client closed the request"),
                OperationCanceledException => (503, "body", $"not answered within {service.Settings.RequestTimeoutSeconds} s (--request-timeout); retry later"),
                Microsoft.AspNetCore.Http.BadHttpRequestException b => (b.StatusCode, "body", b.Message),
                _ => (500, "body", "internal error: " + e.GetType().Name),
            };
            if (status == 500) context.Items[RequestLog.ErrorKey] = e.ToString();
            context.Response.Clear();
            context.Response.StatusCode = status;
            if (status == 401) context.Response.Headers.WWWAuthenticate = "Bearer";
            if (status == 429) context.Response.Headers.RetryAfter = "1";
            if (!gone)
            {
                context.Response.ContentType = "application/json; charset=utf-8";
                await context.Response.WriteAsync(new JsonObject { ["error"] = new JsonObject { ["field"] = field, ["message"] = message } }.ToJsonString());
            }
            context.Items[RequestLog.FieldKey] = field;
        }
        finally
        {
            string route = context.GetEndpoint() is RouteEndpoint r ? r.RoutePattern.RawText ?? "other" : "other";
            service.Metrics.Request(route, context.Response.StatusCode, clock.Elapsed.TotalSeconds);
            RequestLog.Write(service.Settings, context, route, clock.Elapsed);
        }
    }
}
