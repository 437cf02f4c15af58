using System.Diagnostics;
using System.Text.Json;

namespace Deja.Cli;

public sealed record BenchResult(string Name, double Seconds, double Gflops, double PeakRssMb, string? Note = null);

public static class BenchTimer
{
    /// <summary>Median wall time of <paramref name="runs"/> calls after <paramref name="warmup"/> untimed ones.</summary>
    public static double Median(Action body, int warmup = 1, int runs = 5)
    {
        for (int i = 0; i < warmup; i++) body();
        var t = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            var sw = Stopwatch.StartNew();
            body();
            t[i] = sw.Elapsed.TotalSeconds;
        }
        Array.Sort(t);
        return t[runs / 2];
    }

    /// <summary>
    /// Starts a measurement from a clean slate: idle pooled buffers and garbage are given back to the
    /// OS and the kernel's peak-RSS mark is reset (Linux), so each benchmark's peak is its own.
    /// </summary>
    public static void Isolate()
    {
        Deja.Tensors.BufferPool.Trim();
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>Peak resident set size of this process (VmHWM), in MB.</summary>
    public static double PeakRssMb() => StatusMb("VmHWM:") ?? Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0;

    /// <summary>Current resident set size (VmRSS), in MB.</summary>
    public static double RssMb() => StatusMb("VmRSS:") ?? Environment.WorkingSet / 1048576.0;

    /// <summary>A kB field of /proc/self/status in MB; null where /proc is absent.</summary>
    static double? StatusMb(string key)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(key, StringComparison.Ordinal))
                    return double.Parse(line[key.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException) { }
        return null;
    }
}

public static class BenchReport
{
    public static void Print(IEnumerable<BenchResult> results, bool json)
    {
        if (json)
        {
            foreach (var r in results)
                Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["name"] = r.Name, ["seconds"] = Math.Round(r.Seconds, 6), ["gflops"] = Math.Round(r.Gflops, 2),
                    ["peak_rss_mb"] = Math.Round(r.PeakRssMb, 1), ["note"] = r.Note,
                }));
            return;
        }
        Console.WriteLine($"{"name",-24} {"seconds",10} {"GFLOPS",8} {"peak RSS MB",12}  note");
        foreach (var r in results)
            Console.WriteLine($"{r.Name,-24} {r.Seconds,10:F4} {r.Gflops,8:F1} {r.PeakRssMb,12:F0}  {r.Note}");
    }
}
