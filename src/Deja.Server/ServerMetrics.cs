using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Deja.Server;

/// <summary>
/// The counters /metrics serves, in the Prometheus text exposition format (version 0.0.4), written by
/// hand: requests by route and status, request latency and batch-size histograms, the queue length, and
/// prompts screened and flagged. Thread-safe: requests and the batcher update it concurrently.
/// </summary>
public sealed class ServerMetrics
{
    /// <summary>Latency bucket bounds in seconds (cumulative "le" buckets; +Inf is implied).</summary>
    public static readonly double[] LatencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    sealed class Histogram(double[] bounds)
    {
        public readonly double[] Bounds = bounds;
        public readonly long[] Counts = new long[bounds.Length + 1];
        public double Sum;
        public long Count;

        public void Observe(double value)
        {
            lock (this)
            {
                int i = 0;
                while (i < Bounds.Length && value > Bounds[i]) i++;
                Counts[i]++;
                Sum += value;
                Count++;
            }
        }
    }

    readonly ConcurrentDictionary<(string Route, int Status), long> requests = new();
    readonly ConcurrentDictionary<string, Histogram> latency = new();
    readonly Histogram batches;
    long screened, flagged;

    public ServerMetrics(int maxBatch)
    {
        // One bucket per batch size up to the largest the batcher forms.
        batches = new Histogram([.. Enumerable.Range(1, maxBatch).Select(b => (double)b)]);
    }

    public Func<int> QueueLength { get; set; } = () => 0;
    public Func<bool> Ready { get; set; } = () => false;

    public void Request(string route, int status, double seconds)
    {
        requests.AddOrUpdate((route, status), 1, (_, c) => c + 1);
        latency.GetOrAdd(route, _ => new Histogram(LatencyBuckets)).Observe(seconds);
    }

    public void Batch(int size) => batches.Observe(size);

    public void Screened(int prompts, int flaggedPrompts)
    {
        Interlocked.Add(ref screened, prompts);
        Interlocked.Add(ref flagged, flaggedPrompts);
    }

    public long BatchCount { get { lock (batches) return batches.Count; } }
    public long FlaggedCount => Interlocked.Read(ref flagged);

    public string Render()
    {
        var sb = new StringBuilder();
        sb.Append("# HELP deja_requests_total HTTP requests answered, by route and status.\n# TYPE deja_requests_total counter\n");
        foreach (var ((route, status), count) in requests.OrderBy(k => k.Key.Route, StringComparer.Ordinal).ThenBy(k => k.Key.Status))
            sb.Append($"deja_requests_total{{route=\"{Escape(route)}\",status=\"{status}\"}} {count}\n");
        sb.Append("# HELP deja_request_duration_seconds Time from the request's arrival to its answer.\n# TYPE deja_request_duration_seconds histogram\n");
        foreach (var (route, h) in latency.OrderBy(k => k.Key, StringComparer.Ordinal))
            Write(sb, "deja_request_duration_seconds", $"route=\"{Escape(route)}\",", h);
        sb.Append("# HELP deja_batch_size Prompts per detector call (dynamic batching).\n# TYPE deja_batch_size histogram\n");
        Write(sb, "deja_batch_size", "", batches);
        sb.Append($"# HELP deja_queue_length Prompts waiting for the model.\n# TYPE deja_queue_length gauge\ndeja_queue_length {QueueLength()}\n");
        sb.Append($"# HELP deja_prompts_screened_total Prompts scored by /v1/screen.\n# TYPE deja_prompts_screened_total counter\ndeja_prompts_screened_total {Interlocked.Read(ref screened)}\n");
        sb.Append($"# HELP deja_prompts_flagged_total Prompts whose score was above the threshold.\n# TYPE deja_prompts_flagged_total counter\ndeja_prompts_flagged_total {Interlocked.Read(ref flagged)}\n");
        sb.Append($"# HELP deja_model_ready Whether the model is loaded (1) or not (0).\n# TYPE deja_model_ready gauge\ndeja_model_ready {(Ready() ? 1 : 0)}\n");
        return sb.ToString();
    }

    static void Write(StringBuilder sb, string name, string labels, Histogram h)
    {
        lock (h)
        {
            long cumulative = 0;
            for (int i = 0; i < h.Bounds.Length; i++)
            {
                cumulative += h.Counts[i];
                sb.Append($"{name}_bucket{{{labels}le=\"{Number(h.Bounds[i])}\"}} {cumulative}\n");
            }
            cumulative += h.Counts[^1];
            sb.Append($"{name}_bucket{{{labels}le=\"+Inf\"}} {cumulative}\n");
            string bare = labels.TrimEnd(',');
            string braces = bare.Length > 0 ? $"{{{bare}}}" : "";
            sb.Append($"{name}_sum{braces} {Number(h.Sum)}\n{name}_count{braces} {h.Count}\n");
        }
    }

    static string Number(double x) => x.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Label values escape backslash, quote and newline (the format's rule).</summary>
    static string Escape(string s) => s.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");
}
