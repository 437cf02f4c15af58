using System.Diagnostics;
using System.Globalization;
using Deja.Memorization.Fidelity;
using Deja.Memorization.Mitigation;
using Deja.Memorization.Replication;
using Deja.Tensors;

namespace Deja.Cli;

/// <summary>
/// `deja mitigate --sweep`: loads the training set and the judge, runs <see cref="MitigationSweep"/> and
/// prints its table (replication rates, median nearest L2, caption fidelity, anisotropy after, seconds per prompt).
/// </summary>
static class MitigateSweep
{
    public static int Run(MitigationRun template, IReadOnlyList<SweepCurve> curves, bool baseline, IReadOnlyList<string> prompts, string outDir, string dataDir, string? judgeDir)
    {
        string dir = judgeDir ?? DetectCommand.DataFolder(Path.Combine("models", "deja-judge"))
            ?? throw new DejaException("mitigate: the bundled judge data/models/deja-judge was not found; give --judge");
        var judge = CaptionJudge.Load(dir);
        int size = template.Model.Pipeline.DefaultImageSize ?? judge.ImageSize;
        var data = SynthReplicationData.Load(dataDir, size, log: m => Console.Error.WriteLine($"deja mitigate: {m}"));
        var sweep = new MitigationSweep { Template = template, Curves = curves, Baseline = baseline, Data = data, Judge = judge };
        var points = sweep.Points();
        Console.Error.WriteLine($"deja mitigate --sweep: {template.Model.Name} (id {template.Model.Id}), {points.Count} point(s) × {prompts.Count} prompt(s), " +
            $"n = {template.Noise.Generations}, {template.Steps} steps; in {outDir}/");
        var clock = Stopwatch.StartNew();
        var progress = new Progress("sweep", points.Count * prompts.Count);
        int finished = 0;
        Console.WriteLine($"mitigation sweep: {prompts.Count} prompt(s), n = {template.Noise.Generations}; replicated = any generation within L2 < {sweep.L2Threshold.ToString(CultureInfo.InvariantCulture)} / SSIM > {sweep.SsimThreshold.ToString(CultureInfo.InvariantCulture)} of a training image");
        Console.WriteLine($"  {"method",-18} {"strength",-22} {"repl. L2",9} {"repl. SSIM",11} {"median L2",10} {"fidelity",9} {"aniso. after",13} {"s/prompt",9}");
        foreach (var p in sweep.Run(prompts, outDir, (name, r) => progress.Report(finished * prompts.Count + r.Index + 1, name, clock.Elapsed)))
        {
            finished++;
            string strength = p.Strength is { } s ? $"{p.StrengthName} {SweepCurve.Format(s)}" : "-";
            Console.WriteLine($"  {p.Method,-18} {strength,-22} {p.ReplicationL2,9:P0} {p.ReplicationSsim,11:P0} {p.MedianNearestL2,10:F3} " +
                $"{(p.Fidelity is { } f ? f.ToString("F3", CultureInfo.InvariantCulture) : "-"),9} {(p.ScoreAfter is { } a ? a.ToString("F2", CultureInfo.InvariantCulture) : "-"),13} {p.SecondsPerPrompt,9:F1}");
        }
        Console.WriteLine($"  wrote {Path.Combine(outDir, MitigationSweep.PointsFile)}, {MitigationSweep.CsvFile} and {MitigationSweep.SvgFile} in {clock.Elapsed.TotalSeconds:F0} s");
        return ExitCodes.Ok;
    }
}
