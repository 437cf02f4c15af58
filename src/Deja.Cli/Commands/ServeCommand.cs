using System.CommandLine;
using System.Diagnostics;
using Deja.Memorization.Detection;
using Deja.Memorization.Models;
using Deja.Server;
using Deja.Tensors;
using Microsoft.Extensions.Hosting;

namespace Deja.Cli;

/// <summary>
/// `deja serve`: the prompt-screening service (Deja.Server). Parses the options — the detector options are
/// detect's own (<see cref="DetectOptions"/>), so a calibration made with `deja calibrate` fits — loads the
/// model once, and serves until SIGINT/SIGTERM.
/// </summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var defaults = new ServerSettings();
        var model = new Option<string?>("--model") { Description = "Pipeline folder (diffusers layout), or analytic[:SEED] (default: the bundled deja-mini)" };
        var calibration = new Option<string?>("--calibration") { Description = "Threshold from deja calibrate (same model, method and detector options; refused otherwise)" };
        var threshold = new Option<double?>("--threshold") { Description = "Threshold given as a number instead of --calibration (flagged ⇔ score > T)" };
        var thresholdColumn = new Option<string?>("--threshold-column") { Description = "Score column --threshold applies to (default: the method's decision score)" };
        var host = new Option<string>("--host") { Description = "Address to bind (0.0.0.0 for every interface)", DefaultValueFactory = _ => defaults.Host };
        var port = new Option<int>("--port") { Description = "Port to listen on", DefaultValueFactory = _ => defaults.Port };
        var maxBody = new Option<int>("--max-body-bytes") { Description = "Largest request body (413 above)", DefaultValueFactory = _ => defaults.MaxBodyBytes };
        var maxPrompts = new Option<int>("--max-prompts") { Description = "Prompts per request (400 above)", DefaultValueFactory = _ => defaults.MaxPrompts };
        var maxChars = new Option<int>("--max-prompt-chars") { Description = "Characters per prompt (400 above)", DefaultValueFactory = _ => defaults.MaxPromptChars };
        var timeout = new Option<double>("--request-timeout") { Description = "Seconds a request may wait and run (503 after)", DefaultValueFactory = _ => defaults.RequestTimeoutSeconds };
        var queue = new Option<int>("--queue-length") { Description = "Prompts waiting for the model at most (429 beyond)", DefaultValueFactory = _ => defaults.QueueLength };
        var maxBatch = new Option<int>("--max-batch") { Description = "Prompts per detector call, gathered from concurrent requests", DefaultValueFactory = _ => defaults.MaxBatch };
        var maxWait = new Option<double>("--max-wait-ms") { Description = "Milliseconds to wait for more prompts once one arrives (0: batch only what is already waiting)", DefaultValueFactory = _ => defaults.MaxWaitMs };
        var maxSteps = new Option<int>("--max-steps") { Description = "Largest step count of /v1/generate (also its default)", DefaultValueFactory = _ => defaults.MaxSteps };
        var apiKeyFile = new Option<string?>("--api-key-file") { Description = "File holding the API key: /v1/* and /metrics then need 'Authorization: Bearer KEY' (health probes and the page do not)" };
        var logPrompts = new Option<bool>("--log-prompts") { Description = "Write prompt text into the request log (off: counts only)" };
        var options = new DetectOptions();
        var cmd = new Command("serve", "Serve prompt screening over HTTP: /v1/screen (dynamically batched), /v1/explain, /v1/generate, a web page at /, /healthz, /readyz, /metrics, /openapi.json\n\n" +
            "Example: deja serve --model data/models/deja-mini --calibration calibration.json --port 8080")
        {
            model, calibration, threshold, thresholdColumn, host, port, maxBody, maxPrompts, maxChars, timeout, queue, maxBatch, maxWait, maxSteps, apiKeyFile, logPrompts,
        };
        options.AddTo(cmd);
        // Detect's file and batching options mean nothing to a service: hidden from --help, refused if given.
        string[] notForServe = ["--latents", "--latents-per-prompt", "--limit", "--batch"];
        foreach (var o in cmd.Options.Where(o => notForServe.Contains(o.Name))) o.Hidden = true;
        cmd.SetAction(pr =>
        {
            var notHere = options.Given(pr).Where(notForServe.Contains).ToList();
            if (notHere.Count > 0)
                throw new DejaException($"serve: {string.Join(", ", notHere)} do not apply to a service (its batches are formed by --max-batch; its noise comes from --seed and --seed-policy)");
            var settings = new ServerSettings
            {
                Host = pr.GetValue(host)!, Port = pr.GetValue(port), MaxBodyBytes = pr.GetValue(maxBody), MaxPrompts = pr.GetValue(maxPrompts),
                MaxPromptChars = pr.GetValue(maxChars), RequestTimeoutSeconds = pr.GetValue(timeout), QueueLength = pr.GetValue(queue),
                MaxBatch = pr.GetValue(maxBatch), MaxWaitMs = pr.GetValue(maxWait), MaxSteps = pr.GetValue(maxSteps), LogPrompts = pr.GetValue(logPrompts),
                ApiKey = pr.GetValue(apiKeyFile) is { } f ? ServerSettings.ReadApiKey(f) : null,
            };
            return Run(pr.GetValue(model), options.Read(pr), settings, pr.GetValue(calibration), pr.GetValue(threshold), pr.GetValue(thresholdColumn));
        });
        return cmd;
    }

    static int Run(string? modelSpec, DetectSettings detect, ServerSettings settings, string? calibrationPath, double? threshold, string? column)
    {
        settings.Validate();
        detect.Validate();
        if (calibrationPath is not null && threshold is not null) throw new DejaException("serve: give one threshold: --calibration FILE or --threshold T, not both");
        // Read before anything starts: a missing or corrupt calibration stops the service at once.
        var calibration = calibrationPath is null ? null : Calibration.Load(calibrationPath);
        modelSpec ??= DetectCommand.DataFolder(Path.Combine("models", "deja-mini"))
            ?? throw new DejaException("serve: the bundled model data/models/deja-mini was not found; give --model DIR");

        var service = new ScreeningService(settings);
        using var interruption = new Interruption("deja serve", "finishing the requests in flight");
        using var app = DejaServer.CreateHostBuilder(service).Build();
        // Listen first, load second: /healthz answers at once and /readyz says when the model is in.
        app.StartAsync().GetAwaiter().GetResult();
        Console.Error.WriteLine($"deja serve: listening on {DejaServer.Address(app)} (web page at /, API at /v1, /openapi.json); loading {modelSpec}");
        int code = ExitCodes.Ok;
        try
        {
            var clock = Stopwatch.StartNew();
            var view = DetectCommand.OpenModel(modelSpec, detect.Family, detect.ImageSize);
            var noise = InitialNoise.Seeded(view.LatentShape, detect.N, detect.Seed, detect.Policy);
            var run = new DetectionRun { Model = view, Detectors = detect.Detectors, Noise = noise, BatchSize = settings.MaxBatch };
            var screener = Screener.Create(run, calibration, threshold, column);
            service.Attach(screener);
            string rule = screener.Threshold is { } t ? $"flagging {screener.ThresholdColumn} > {DetectCommand.Number(t)}" + (calibrationPath is null ? "" : $" ({calibrationPath})") : "no threshold: scores only";
            Console.Error.WriteLine($"deja serve: ready: {view.Name} ({view.Family.Name()}, id {view.Id}), {run.Method}, {rule}, n = {noise.Generations}, " +
                $"batches of ≤ {settings.MaxBatch} within {settings.MaxWaitMs} ms, loaded in {clock.Elapsed.TotalSeconds:F1} s" +
                (settings.ApiKey is null ? "" : "; API key required"));
            interruption.Token.WaitHandle.WaitOne();
            code = interruption.ExitCode;
        }
        finally
        {
            app.StopAsync(TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
            service.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        Console.Error.WriteLine($"deja serve: stopped ({interruption.SignalName})");
        return code;
    }
}
