using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Deja.Diffusion.Text;
using Deja.Memorization.Detection;
using Deja.Memorization.Models;
using Deja.Server;
using Deja.Tensors;
using Deja.Tensors.Kernels;
using Microsoft.Extensions.Hosting;

namespace Deja.Cli;

/// <summary>
/// `deja bench serve`: the screening service under load, over real HTTP on loopback (Kestrel on a free
/// port, clients in the same process): p50/p99 latency and throughput of one-prompt /v1/screen requests at
/// each concurrency, with dynamic batching (--max-batch, --max-wait-ms) and one request at a time
/// (--max-batch 1); then rounds of 100 concurrent clients with the resident memory after each (it must not
/// grow), and optionally N malformed bodies (--fuzz), none of which may get a 500. Every answer is checked:
/// its prompt must be the one sent.
/// </summary>
public static class ServeBench
{
    public static Command Command()
    {
        var model = new Option<string?>("--model") { Description = "Pipeline folder or analytic[:SEED] (default: the bundled deja-mini)" };
        var prompts = new Option<string?>("--prompts") { Description = "Prompt file to draw requests from (default: deja-mini's benchmark captions)" };
        var clients = new Option<string>("--clients") { Description = "Comma-separated concurrent clients to measure", DefaultValueFactory = _ => "1,8,64" };
        var requests = new Option<int>("--requests") { Description = "Requests per measurement (at least 4 per client are sent)", DefaultValueFactory = _ => 128 };
        var maxBatch = new Option<int>("--max-batch") { Description = "The batched service's --max-batch", DefaultValueFactory = _ => 8 };
        var maxWait = new Option<double>("--max-wait-ms") { Description = "The batched service's --max-wait-ms", DefaultValueFactory = _ => 5 };
        var rounds = new Option<int>("--rounds") { Description = "Rounds of --round-clients concurrent clients after the table (memory growth check); 0: none", DefaultValueFactory = _ => 10 };
        var roundClients = new Option<int>("--round-clients") { Description = "Clients per round", DefaultValueFactory = _ => 100 };
        var fuzz = new Option<int>("--fuzz") { Description = "Malformed request bodies to send at the end (0: none); any 500 fails the bench", DefaultValueFactory = _ => 0 };
        var cmd = new Command("serve", "Benchmark deja serve: latency and throughput at several concurrencies, dynamic batching vs one request at a time, memory over rounds, fuzzed requests\n\n" +
            "Example: deja bench serve --model data/models/deja-mini --clients 1,8,64 --fuzz 10000")
        {
            model, prompts, clients, requests, maxBatch, maxWait, rounds, roundClients, fuzz,
        };
        cmd.SetAction(pr => Run(pr.GetValue(model), pr.GetValue(prompts), pr.GetValue(clients)!, pr.GetValue(requests), pr.GetValue(maxBatch),
            pr.GetValue(maxWait), pr.GetValue(rounds), pr.GetValue(roundClients), pr.GetValue(fuzz)).GetAwaiter().GetResult());
        return cmd;
    }

    sealed record Level(int Clients, string Mode, int Requests, double P50, double P99, double PerSecond, double MeanBatch);

    static async Task<int> Run(string? modelSpec, string? promptPath, string clientList, int requests, int maxBatch, double maxWait, int rounds, int roundClients, int fuzz)
    {
        var levels = clientList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(c => int.TryParse(c, out int v) && v >= 1 ? v : throw new DejaException($"bench serve: --clients: bad count '{c}'")).ToArray();
        if (requests < 1) throw new DejaException($"bench serve: --requests must be at least 1, got {requests}");
        if (rounds < 0 || roundClients < 1) throw new DejaException("bench serve: --rounds must be ≥ 0 and --round-clients ≥ 1");
        if (fuzz < 0) throw new DejaException($"bench serve: --fuzz must be ≥ 0, got {fuzz}");
        modelSpec ??= DetectCommand.DataFolder(Path.Combine("models", "deja-mini")) ?? throw new DejaException("bench serve: the bundled deja-mini was not found; give --model");
        string[] pool;
        if (promptPath is not null) pool = [.. PromptFile.Read(promptPath).Prompts.Select(p => p.Text)];
        else
        {
            var bench = DetectCommand.DataFolder(Path.Combine("benchmarks", "deja-mini")) ?? throw new DejaException("bench serve: give --prompts FILE");
            pool = [.. new[] { "memorized.txt", "nonmemorized.txt" }.SelectMany(f => PromptFile.Read(Path.Combine(bench, f)).Prompts.Select(p => p.Text))];
        }
        var view = DetectCommand.OpenModel(modelSpec, null, null);
        var detectors = new IMemorizationDetector[] { new AnisotropyDetector() };
        Console.Error.WriteLine($"deja bench serve: {view.Name} (id {view.Id}), anisotropy, one-prompt requests over loopback HTTP, {pool.Length} distinct prompts, " +
            $"threads {Threading.Threads}, RSS {BenchTimer.RssMb():F0} MB");

        var results = new List<Level>();
        foreach (var (mode, batch, wait) in new[] { ("batched", maxBatch, maxWait), ("one-at-a-time", 1, 0.0) })
        {
            await using var server = await Server.Start(view, detectors, new ServerSettings { Port = 0, MaxBatch = batch, MaxWaitMs = wait, Log = null });
            await Load(server.Client, pool, 8, 16); // warm-up: JIT, first-touch pages, connections
            foreach (int c in levels)
            {
                long batchesBefore = server.Service.Metrics.BatchCount;
                int n = Math.Max(requests, 4 * c);
                var (latencies, seconds) = await Load(server.Client, pool, c, n);
                Array.Sort(latencies);
                var level = new Level(c, mode, n, Percentile(latencies, 0.5), Percentile(latencies, 0.99), n / seconds,
                    (double)n / (server.Service.Metrics.BatchCount - batchesBefore));
                results.Add(level);
                Console.Error.WriteLine($"  {mode}, {c} clients: p50 {level.P50:F1} ms, p99 {level.P99:F1} ms, {level.PerSecond:F1} req/s");
            }
        }
        Console.WriteLine($"{"clients",7} {"mode",-14} {"requests",8} {"p50 ms",8} {"p99 ms",8} {"req/s",7} {"batch",6}");
        foreach (var l in results)
            Console.WriteLine($"{l.Clients,7} {l.Mode,-14} {l.Requests,8} {l.P50,8:F1} {l.P99,8:F1} {l.PerSecond,7:F1} {l.MeanBatch,6:F2}");
        foreach (int c in levels)
        {
            var b = results.First(r => r.Clients == c && r.Mode == "batched");
            var o = results.First(r => r.Clients == c && r.Mode == "one-at-a-time");
            Console.WriteLine($"  {c} clients: dynamic batching {b.PerSecond / o.PerSecond:F2}× the throughput of one request at a time");
        }

        int failures = 0;
        if (rounds > 0 || fuzz > 0)
        {
            await using var server = await Server.Start(view, detectors, new ServerSettings { Port = 0, MaxBatch = maxBatch, MaxWaitMs = maxWait, Log = null });
            var rss = new List<double>();
            for (int r = 0; r < rounds; r++)
            {
                await Load(server.Client, pool, roundClients, roundClients);
                rss.Add(BenchTimer.RssMb());
            }
            if (rounds > 0)
                Console.WriteLine($"{rounds} rounds of {roundClients} concurrent clients, every answer checked: RSS after each round {string.Join(" ", rss.Select(x => x.ToString("F0", CultureInfo.InvariantCulture)))} MB " +
                    $"(last − first {rss[^1] - rss[0]:+0;-0} MB), peak RSS {BenchTimer.PeakRssMb():F0} MB (server and clients in one process)");
            if (fuzz > 0) failures = await Fuzz(server.Client, fuzz);
        }
        Console.WriteLine($"peak RSS {BenchTimer.PeakRssMb():F0} MB");
        return failures > 0 ? ExitCodes.BadInput : ExitCodes.Ok;
    }

    /// <summary>Sends <paramref name="count"/> one-prompt requests from <paramref name="clients"/> concurrent clients; each answer must carry its own prompt.</summary>
    static async Task<(double[] LatenciesMs, double Seconds)> Load(HttpClient client, string[] pool, int clients, int count)
    {
        var latencies = new double[count];
        int next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                string prompt = pool[(i * 7919) % pool.Length];
                var body = new JsonObject { ["prompts"] = new JsonArray(prompt) }.ToJsonString();
                var t = Stopwatch.StartNew();
                using var response = await client.PostAsync("/v1/screen", new StringContent(body, Encoding.UTF8, "application/json"));
                string text = await response.Content.ReadAsStringAsync();
                latencies[i] = t.Elapsed.TotalMilliseconds;
                if (!response.IsSuccessStatusCode) throw new DejaException($"bench serve: request {i} answered {(int)response.StatusCode}: {text}");
                if ((string?)JsonNode.Parse(text)?["results"]?[0]?["prompt"] != prompt) throw new DejaException($"bench serve: request {i} got another prompt's row: {text}");
            }
        }));
        return (latencies, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Malformed bodies (<see cref="RequestFuzz"/>) from 8 clients: each must be answered 200, 400 or 413 with JSON, never 500.</summary>
    static async Task<int> Fuzz(HttpClient client, int count)
    {
        var statuses = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
        var bad = new System.Collections.Concurrent.ConcurrentBag<string>();
        double before = BenchTimer.RssMb();
        long heapBefore = GC.GetTotalMemory(forceFullCollection: true), poolBefore = BufferPool.RetainedBytes;
        var checkpoints = new System.Collections.Concurrent.ConcurrentQueue<string>();
        int next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var content = new ByteArrayContent(RequestFuzz.Body(seed: 1, index: i));
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using var response = await client.PostAsync("/v1/screen", content);
                int status = (int)response.StatusCode;
                statuses.AddOrUpdate(status, 1, (_, c) => c + 1);
                string text = await response.Content.ReadAsStringAsync();
                bool json = JsonNode.Parse(text) is JsonObject;
                if (status is not (200 or 400 or 413) || !json) bad.Add($"input {i} (deja bench serve --fuzz: RequestFuzz.Body(1, {i})): {status} {text}");
                // at each quarter: RSS, and what a full collection leaves (live managed memory, of it the pool's idle buffers),
                // so garbage not yet collected is not mistaken for a leak
                if ((i + 1) % Math.Max(1, count / 4) == 0)
                    checkpoints.Enqueue($"{i + 1}: {BenchTimer.RssMb():F0} (live {GC.GetTotalMemory(forceFullCollection: true) / 1e6:F0}, pool {BufferPool.RetainedBytes / 1e6:F0})");
            }
        }));
        Console.WriteLine($"{count} malformed requests in {clock.Elapsed.TotalSeconds:F1} s: " +
            string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Value} × {s.Key}")) +
            $"; RSS {before:F0} → {BenchTimer.RssMb():F0} MB (after request N: RSS (live managed after a full collection, idle pool) {string.Join(", ", checkpoints)} MB); " +
            $"managed heap after a full collection {heapBefore / 1e6:F1} → {GC.GetTotalMemory(forceFullCollection: true) / 1e6:F1} MB, " +
            $"of it idle in the tensor buffer pool {poolBefore / 1e6:F1} → {BufferPool.RetainedBytes / 1e6:F1} MB; {bad.Count} unexpected");
        foreach (var b in bad.Take(5)) Console.Error.WriteLine("deja bench serve: " + b);
        return bad.Count;
    }

    static double Percentile(double[] sorted, double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];

    /// <summary>A service on a free loopback port with its own client (one connection per concurrent request).</summary>
    sealed class Server : IAsyncDisposable
    {
        public required ScreeningService Service { get; init; }
        public required IHost Host { get; init; }
        public required HttpClient Client { get; init; }

        public static async Task<Server> Start(IDiffusionModelView view, IMemorizationDetector[] detectors, ServerSettings settings)
        {
            var service = new ScreeningService(settings);
            var noise = InitialNoise.Seeded(view.LatentShape, 1, 51, SeedPolicy.Same);
            service.Attach(Screener.Create(new DetectionRun { Model = view, Detectors = detectors, Noise = noise, BatchSize = settings.MaxBatch }));
            var host = DejaServer.CreateHostBuilder(service).Build();
            await host.StartAsync();
            var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1024 }) { BaseAddress = new Uri(DejaServer.Address(host)), Timeout = TimeSpan.FromMinutes(5) };
            return new Server { Service = service, Host = host, Client = client };
        }

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            await Host.StopAsync();
            Host.Dispose();
            await Service.DisposeAsync();
        }
    }
}
