using System.CommandLine;
using Deja.Memorization.Fidelity;
using Deja.Memorization.Mitigation;
using Deja.Memorization.Replication;
using Deja.Tensors;

namespace Deja.Cli;

/// <summary>
/// `deja mitigate-summary`: the mitigation table (issue 14 §4) from `deja mitigate --out` folders — each
/// measured from its PNGs by replication and caption fidelity (as a sweep point is) and given 95 %
/// percentile-bootstrap intervals over its captions. One row per folder, as Markdown or JSON lines.
/// </summary>
public static class MitigateSummaryCommand
{
    public static Command Create()
    {
        var folders = new Argument<string[]>("folders") { Description = "`deja mitigate --out` folders (any model or method; each is one row)", Arity = ArgumentArity.OneOrMore };
        var data = new Option<string>("--data") { Description = "The training set replication is measured against (a deja synth folder; the bundled deja-mini's: deja synth --out DIR --seed 0)", Required = true };
        var judgeDir = new Option<string?>("--judge") { Description = "The caption-fidelity judge (default: the bundled data/models/deja-judge)" };
        var noJudge = new Option<bool>("--no-fidelity") { Description = "Skip caption fidelity (captions the judge cannot read, or images of another size)" };
        var resamples = new Option<int>("--resamples") { Description = "Bootstrap resamples over captions", DefaultValueFactory = _ => 1000 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the bootstrap", DefaultValueFactory = _ => 0UL };
        var json = new Option<bool>("--json") { Description = "One JSON row per folder instead of the Markdown table" };
        var cmd = new Command("mitigate-summary", "Measure `deja mitigate` output folders (replication, caption fidelity, anisotropy after, seconds) with bootstrap intervals: the mitigation table\n\n" +
            "Example: deja mitigate-summary runs/verbatim-none runs/verbatim-prompt --data synth")
        {
            folders, data, judgeDir, noJudge, resamples, seed, json,
        };
        cmd.SetAction(pr =>
        {
            var list = pr.GetValue(folders)!;
            int count = pr.GetValue(resamples);
            if (count < 1) throw new DejaException($"mitigate-summary: --resamples must be at least 1, got {count}");
            var first = GeneratedImages.Read(list[0]);
            CaptionJudge? judge = null;
            if (!pr.GetValue(noJudge))
            {
                string dir = pr.GetValue(judgeDir) ?? DetectCommand.DataFolder(Path.Combine("models", "deja-judge"))
                    ?? throw new DejaException("mitigate-summary: the bundled judge data/models/deja-judge was not found; give --judge or --no-fidelity");
                judge = CaptionJudge.Load(dir);
                if (judge.ImageSize != first.Size) throw new DejaException($"mitigate-summary: the judge reads {judge.ImageSize}×{judge.ImageSize} images, {list[0]} holds {first.Size}×{first.Size}; give --no-fidelity");
            }
            var synth = SynthReplicationData.Load(pr.GetValue(data)!, first.Size, log: m => Console.Error.WriteLine($"deja mitigate-summary: {m}"));
            var measurement = new MitigationMeasurement { Data = synth, Judge = judge };
            if (!pr.GetValue(json)) Console.WriteLine(MitigationSummary.MarkdownHeader);
            foreach (var folder in list)
            {
                var summary = MitigationSummary.Of(measurement.Measure(folder, Path.GetFileName(Path.TrimEndingDirectorySeparator(folder))), count, pr.GetValue(seed));
                Console.WriteLine(pr.GetValue(json) ? summary.ToJson().ToJsonString() : summary.ToMarkdown());
            }
            return ExitCodes.Ok;
        });
        return cmd;
    }
}
