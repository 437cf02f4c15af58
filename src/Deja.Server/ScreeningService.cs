using System.Text.Json.Nodes;
using Deja.Memorization.Detection;
using Deja.Memorization.Mitigation;
using Deja.Memorization.Models;

namespace Deja.Server;

/// <summary>
/// The state behind the endpoints: the settings, the metrics, and — once <see cref="Attach"/> has been
/// called with the loaded model — the screener, its batching queue and the generation guard. The host can
/// start (and answer /healthz) before the model is loaded; /readyz and the /v1 endpoints answer 503 until then.
/// </summary>
public sealed class ScreeningService : IAsyncDisposable
{
    /// <summary>What exists once the model is loaded.</summary>
    public sealed record Loaded(Screener Screener, ScreeningQueue Queue, JsonNode Model, JsonNode Params, double? GuardThreshold, string? GuardUnavailable);

    volatile Loaded? loaded;

    public ServerSettings Settings { get; }
    public ServerMetrics Metrics { get; }
    public ModelLock Model { get; } = new();

    public ScreeningService(ServerSettings settings)
    {
        settings.Validate();
        Settings = settings;
        Metrics = new ServerMetrics(settings.MaxBatch) { Ready = () => loaded is not null };
    }

    public Loaded? Current => loaded;

    /// <summary>
    /// Puts the loaded model in service. The guard of /v1/generate uses the first detector and the
    /// screener's threshold where it applies to that detector's decision score (a calibration must also
    /// match n = 1, as `deja generate --guard` checks); otherwise guarded generation is refused with the reason.
    /// </summary>
    public void Attach(Screener screener)
    {
        if (loaded is not null) throw new InvalidOperationException("the service already has a model");
        var queue = new ScreeningQueue(screener, Model, Metrics, Settings.MaxBatch, TimeSpan.FromMilliseconds(Settings.MaxWaitMs), Settings.QueueLength);
        Metrics.QueueLength = () => queue.Queued;
        var detector = screener.Run.Detectors[0];
        double? guard = null;
        string? why = null;
        if (screener.Run.Model is not StableDiffusionView view) why = "this model cannot generate images (not a Stable Diffusion pipeline)";
        else if (screener.Calibration is { } calibration)
        {
            try { guard = GuardedGeneration.CalibratedThreshold(calibration, view, detector, 1); }
            catch (Deja.Tensors.DejaException e) { why = e.Message; }
        }
        else if (screener.Threshold is { } t && screener.ThresholdColumn == detector.ScoreNames[0]) guard = t;
        else why = screener.Threshold is null ? "the service has no threshold (start it with --calibration FILE or --threshold T)"
            : $"the threshold applies to {screener.ThresholdColumn}, the guard scores {detector.ScoreNames[0]}";
        loaded = new Loaded(screener, queue, JsonNode.Parse(screener.ModelJson)!, JsonNode.Parse(screener.ParamsJson)!, guard, why);
    }

    public async ValueTask DisposeAsync()
    {
        if (loaded is { } l) await l.Queue.DisposeAsync();
    }
}
