using System.Globalization;
using System.Text;
using Deja.Tensors.Kernels;

namespace Deja.Memorization.Fuzzing;

/// <summary>Runs targets one after another with loads kept on one thread (so allocations are counted) and formats the counts.</summary>
public static class FuzzRunner
{
    public static List<FuzzCounts> Run(IEnumerable<FuzzTarget> targets, FuzzOptions options, Action<FuzzCounts>? done = null)
    {
        int threads = Threading.Threads;
        Threading.Threads = 1;
        try
        {
            var results = new List<FuzzCounts>();
            foreach (var target in targets)
            {
                var counts = FuzzEngine.Run(target, options);
                results.Add(counts);
                done?.Invoke(counts);
            }
            return results;
        }
        finally { Threading.Threads = threads; }
    }

    /// <summary>The counts table: one row per target, then the failures (at most 20 per target).</summary>
    public static string Table(IReadOnlyList<FuzzCounts> results)
    {
        var sb = new StringBuilder();
        string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
        sb.AppendLine(F($"{"target",-20} {"inputs",9} {"accepted",9} {"refused",9} {"failures",8} {"deeper",9} {"share",6} {"seconds",8} {"slowest",8} {"max alloc",10}  deeper stage"));
        foreach (var r in results)
            sb.AppendLine(F($"{r.Target,-20} {r.Inputs,9} {r.Accepted,9} {r.Refused,9} {r.Failures.Count,8} {r.Deeper,9} {r.DeeperShare,6:P0} {r.Elapsed.TotalSeconds,8:F1} {r.Slowest.TotalMilliseconds,6:F0}ms {r.LargestAllocation / 1048576.0,8:F1}MB  {r.DeeperStage}"));
        foreach (var r in results)
            foreach (var f in r.Failures.Take(20))
                sb.AppendLine(F($"FAIL {r.Target} input {f.Index} (seed {r.Seed}): {f.Kind}: {f.Detail.Split('\n')[0]}{(f.SavedAs is null ? "" : $" [{f.SavedAs}]")}"));
        return sb.ToString();
    }
}
