using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Deja.Memorization.Evaluation;

namespace Deja.Cli;

/// <summary>
/// `deja bench determinism`: the measured side of the determinism contract (README). It runs `deja detect`
/// in child processes that differ in one setting each — thread count, batch size, CPU kind (AVX-512,
/// AVX2 emulated with DOTNET_EnableAVX512=0 and OpenBLAS's Haswell kernels, no hardware intrinsics),
/// BLAS (OpenBLAS or Deja's managed kernel) — on the same prompts and noise, and prints the largest
/// absolute and relative difference of every score column against the reference run. Child processes
/// are needed because the CPU kind and BLAS are fixed when a process starts.
/// </summary>
public static class DeterminismBench
{
    /// <summary>One child run; it is compared with <paramref name="Baseline"/>, which differs from it in
    /// <paramref name="Group"/> only.</summary>
    sealed record Variant(string Name, string Group, int Batch, Dictionary<string, string> Env, string Baseline = "reference");

    public static Command Command()
    {
        var model = new Option<string?>("--model") { Description = "Pipeline folder (default: the bundled deja-mini)" };
        var prompts = new Option<string?>("--prompts") { Description = "Prompts file (default: the first --limit captions of each list of the bundled benchmark)" };
        var limit = new Option<int>("--limit") { Description = "Prompts taken from each bundled list", DefaultValueFactory = _ => 8 };
        var methods = new Option<string>("--method") { Description = "Detectors, as deja detect's --method", DefaultValueFactory = _ => "all" };
        var n = new Option<int>("--n") { Description = "Noise draws per prompt", DefaultValueFactory = _ => 2 };
        var only = new Option<string?>("--variants") { Description = "Comma-separated variant names to run (default: all)" };
        var work = new Option<string>("--work") { Description = "Folder for the score files", DefaultValueFactory = _ => Path.Combine(Path.GetTempPath(), "deja-determinism") };
        var json = new Option<bool>("--json") { Description = "One JSON row per variant and column" };
        var cmd = new Command("determinism", "Compare detection scores across thread counts, batch sizes, CPU kinds and BLAS (child processes)\n\nExample: deja bench determinism")
            { model, prompts, limit, methods, n, only, work, json };
        cmd.SetAction(pr => Run(pr.GetValue(model), pr.GetValue(prompts), pr.GetValue(limit), pr.GetValue(methods)!, pr.GetValue(n),
            pr.GetValue(only), pr.GetValue(work)!, pr.GetValue(json)));
        return cmd;
    }

    static readonly Dictionary<string, string> Avx2 = new()
    {
        // .NET 10 reads DOTNET_EnableAVX512; DOTNET_EnableAVX512F is the older name (ignored by .NET 10)
        ["DOTNET_EnableAVX512"] = "0", ["DOTNET_EnableAVX512F"] = "0", ["DEJA_OPENBLAS_CORETYPE"] = "Haswell",
    };

    static List<Variant> Variants() =>
    [
        new("reference", "-", 8, new() { ["DEJA_THREADS"] = "2" }),
        new("threads=1", "threads", 8, new() { ["DEJA_THREADS"] = "1" }),
        new("threads=3", "threads", 8, new() { ["DEJA_THREADS"] = "3" }),
        new("batch=1", "batch", 1, new() { ["DEJA_THREADS"] = "2" }),
        new("batch=3", "batch", 3, new() { ["DEJA_THREADS"] = "2" }),
        new("avx2", "cpu", 8, new(Avx2) { ["DEJA_THREADS"] = "2" }),
        new("avx2,threads=1", "threads", 8, new(Avx2) { ["DEJA_THREADS"] = "1" }, "avx2"),
        new("managed-blas", "blas", 8, new() { ["DEJA_THREADS"] = "2", ["DEJA_BLAS"] = "managed" }),
        new("managed-blas,threads=1", "threads", 8, new() { ["DEJA_THREADS"] = "1", ["DEJA_BLAS"] = "managed" }, "managed-blas"),
        new("no-intrinsics", "cpu", 8, new() { ["DEJA_THREADS"] = "2", ["DOTNET_EnableHWIntrinsic"] = "0" }),
        new("openblas-threads", "blas", 8, new() { ["DEJA_THREADS"] = "2", ["DEJA_GEMM"] = "blas" }),
    ];

    static int Run(string? model, string? promptsPath, int limit, string methods, int n, string? only, string work, bool json)
    {
        Directory.CreateDirectory(work);
        if (promptsPath is null)
        {
            var bench = DetectCommand.DataFolder(Path.Combine("benchmarks", "deja-mini"))
                ?? throw new ArgumentException("bench determinism: the bundled benchmark was not found; give --model and --prompts");
            promptsPath = Path.Combine(work, "prompts.txt");
            File.WriteAllLines(promptsPath, File.ReadLines(Path.Combine(bench, "memorized.txt")).Take(limit)
                .Concat(File.ReadLines(Path.Combine(bench, "nonmemorized.txt")).Take(limit)));
        }
        model ??= DetectCommand.DataFolder(Path.Combine("models", "deja-mini"))
            ?? throw new ArgumentException("bench determinism: the bundled model was not found; give --model");

        var variants = Variants();
        if (only is not null)
        {
            var names = only.Split(',', StringSplitOptions.TrimEntries).ToHashSet();
            variants = variants.Where(v => v.Name == "reference" || names.Contains(v.Name)
                || variants.Any(w => names.Contains(w.Name) && w.Baseline == v.Name)).ToList();
        }
        var scores = new Dictionary<string, List<Dictionary<string, double>>>();
        foreach (var v in variants)
        {
            var outFile = Path.Combine(work, v.Name.Replace(',', '_').Replace('=', '-') + ".jsonl");
            File.Delete(outFile);
            var sw = Stopwatch.StartNew();
            RunDetect(v, model, promptsPath, methods, n, outFile);
            Console.Error.WriteLine($"{v.Name}: {sw.Elapsed.TotalSeconds:F1} s");
            scores[v.Name] = ReadScores(outFile);
        }

        var columns = scores["reference"][0].Keys.ToList();
        if (!json) Console.WriteLine($"{"variant",-24} {"against",-14} {"differs in",-10} {"column",-20} {"max |Δ|",10} {"max rel Δ",10} {"identical",10}");
        foreach (var v in variants.Where(v => v.Name != "reference"))
            foreach (var c in columns)
            {
                var reference = scores[v.Baseline];
                double maxAbs = 0, maxRel = 0;
                int same = 0;
                for (int i = 0; i < reference.Count; i++)
                {
                    double a = reference[i][c], b = scores[v.Name][i][c], d = Math.Abs(a - b);
                    maxAbs = Math.Max(maxAbs, d);
                    maxRel = Math.Max(maxRel, d / Math.Max(Math.Abs(a), 1e-30));
                    if (BitConverter.DoubleToInt64Bits(a) == BitConverter.DoubleToInt64Bits(b)) same++;
                }
                if (json)
                    Console.WriteLine(new JsonObject
                    {
                        ["variant"] = v.Name, ["against"] = v.Baseline, ["group"] = v.Group, ["column"] = c, ["max_abs"] = maxAbs, ["max_rel"] = maxRel,
                        ["identical"] = same, ["rows"] = reference.Count,
                    }.ToJsonString());
                else
                    Console.WriteLine($"{v.Name,-24} {v.Baseline,-14} {v.Group,-10} {c,-20} {maxAbs,10:G3} {maxRel,10:G3} {same + "/" + reference.Count,14}");
            }
        return 0;
    }

    static void RunDetect(Variant v, string model, string prompts, string methods, int n, string outFile)
    {
        var psi = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("bench determinism: cannot find the deja executable");
        psi.FileName = self;
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            psi.ArgumentList.Add(typeof(DeterminismBench).Assembly.Location);
        foreach (var a in new[] { "detect", "--model", model, "--prompts", prompts, "--method", methods, "--n", n.ToString(CultureInfo.InvariantCulture),
                     "--batch", v.Batch.ToString(CultureInfo.InvariantCulture), "--out", outFile })
            psi.ArgumentList.Add(a);
        foreach (var (k, val) in v.Env) psi.Environment[k] = val;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"bench determinism: variant {v.Name} failed (exit {p.ExitCode}): {stderr.Result.Trim()}");
    }

    /// <summary>The score columns of each row, in prompt order (the score file's own reader).</summary>
    static List<Dictionary<string, double>> ReadScores(string path) =>
        ScoresFile.Read(path).OrderBy(r => r.Index).Select(r => new Dictionary<string, double>(r.Scores)).ToList();
}
