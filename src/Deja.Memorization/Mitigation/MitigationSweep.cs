using System.Text.Json;
using System.Text.Json.Nodes;
using Deja.Diffusion.Text;
using Deja.Memorization.Fidelity;
using Deja.Memorization.Replication;
using Deja.Tensors;

namespace Deja.Memorization.Mitigation;

/// <summary>
/// `deja mitigate --sweep` (issue 14 §4): the methods' trade-off curves. Every (method, strength) point is
/// an ordinary mitigation run (<see cref="MitigationRun"/>, the same prompts, noise, steps and guidance as
/// the template; only the method and its one knob change) in its own sub-folder OUT/{method}-{strength}/,
/// written by <see cref="MitigationOutput"/> — so each point resumes after its last complete prompt and a
/// crash loses at most the prompt in flight. Each point is then measured from its PNGs, the way
/// `deja replicate --images` and `deja judge eval --images` measure them: replication against the training
/// set (<see cref="ReplicationRun"/>, template captions on their mask) and caption fidelity by the judge
/// (<see cref="CaptionJudge"/>, always of the original caption: what the user asked for). Measuring from
/// the files makes a resumed sweep's numbers identical to an uninterrupted one's.
/// Outputs: OUT/{point}/point.json, then OUT/sweep.jsonl, sweep.csv and sweep.svg (each written atomically).
/// </summary>
public sealed class MitigationSweep
{
    public const string PointsFile = "sweep.jsonl", CsvFile = "sweep.csv", SvgFile = "sweep.svg", PointFile = "point.json";

    /// <summary>The run every point copies: model, noise, steps, guidance, scorer and the methods' other options.</summary>
    public required MitigationRun Template { get; init; }
    public required IReadOnlyList<SweepCurve> Curves { get; init; }
    /// <summary>Also run the un-mitigated point (method none) that every curve is compared with.</summary>
    public bool Baseline { get; init; } = true;
    public required SynthReplicationData Data { get; init; }
    /// <summary>The caption-fidelity judge (null: fidelity not measured, no plot).</summary>
    public CaptionJudge? Judge { get; init; }
    public double L2Threshold { get; init; } = 0.1;
    public double SsimThreshold { get; init; } = 0.8;

    /// <summary>The points in run order: the baseline first, then each curve's strengths as given.</summary>
    public IReadOnlyList<(MitigationMethod Method, double? Strength)> Points()
    {
        var points = new List<(MitigationMethod, double?)>();
        if (Baseline || Curves.Any(c => c.Method == MitigationMethod.None)) points.Add((MitigationMethod.None, null));
        foreach (var c in Curves.Where(c => c.Method != MitigationMethod.None))
            foreach (var s in c.Strengths)
                if (!points.Contains((c.Method, s))) points.Add((c.Method, s));
        return points;
    }

    /// <summary>The sub-folder of a point: "none", "prompt-3", "sail-4.5", "random-tokens-2".</summary>
    public static string FolderName(MitigationMethod method, double? strength) =>
        strength is { } s ? $"{MitigationRun.MethodName(method)}-{SweepCurve.Format(s)}" : MitigationRun.MethodName(method);

    /// <summary>The template with <paramref name="method"/> at <paramref name="strength"/> (everything else unchanged).</summary>
    public static MitigationRun At(MitigationRun template, MitigationMethod method, double? strength)
    {
        var p = template.Prompt;
        var prompt = method is MitigationMethod.Prompt or MitigationMethod.PromptAnisotropy ? new PromptEmbeddingOptimization
        {
            LearningRate = p.LearningRate, WeightDecay = p.WeightDecay, Iterations = p.Iterations, TargetLoss = strength,
            EpsilonBall = p.EpsilonBall, Alpha = p.Alpha, Steps = p.Steps, TargetStep = p.TargetStep,
        } : p;
        var s = template.Sail;
        var sail = method == MitigationMethod.Sail ? new Sail
        {
            Threshold = strength ?? s.Threshold, LearningRate = s.LearningRate, Budget = s.Budget, StepsPerRound = s.StepsPerRound,
            MaxRounds = s.MaxRounds, Lambda = s.Lambda, FaithfulCode = s.FaithfulCode, Steps = s.Steps,
        } : s;
        var tokens = method == MitigationMethod.RandomTokens && strength is { } r
            ? new RandomTokenAugmentation { Kind = template.RandomTokens.Kind, Repeat = (int)r } : template.RandomTokens;
        return new MitigationRun
        {
            Model = template.Model, Noise = template.Noise, Method = method, Prompt = prompt, RandomTokens = tokens, Sail = sail,
            AdaptationScore = template.AdaptationScore, TokenSeed = template.TokenSeed, Steps = template.Steps,
            Guidance = template.Guidance, Scorer = template.Scorer,
        };
    }

    /// <summary>
    /// Runs (or resumes) every point on <paramref name="prompts"/> and measures it, in <see cref="Points"/>
    /// order; <paramref name="onPrompt"/> hears of each prompt mitigated (point, result). The summary files
    /// are written once the last point is measured.
    /// </summary>
    public IEnumerable<SweepPoint> Run(IReadOnlyList<string> prompts, string outDir, Action<string, MitigationResult>? onPrompt = null)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new DejaException("mitigate: --sweep needs at least one prompt");
        if (prompts.GroupBy(p => p).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new DejaException($"mitigate: --sweep: the prompt \"{twice.Key}\" appears {twice.Count()} times; each caption is measured once");
        if (Points().Count == 0) throw new DejaException("mitigate: --sweep names no point to run");
        // Refuse what the measurement cannot use before any generation: captions outside the training set,
        // captions the judge cannot read (not of synth's grammar), images of another size.
        Data.CasesFor(prompts, "--prompts");
        if (Judge is not null)
        {
            foreach (var caption in prompts) CaptionAttributes.Parse(caption);
            int side = Template.Model.Pipeline.DefaultImageSize ?? 0;
            if (side != Judge.ImageSize) throw new DejaException($"mitigate: the judge reads {Judge.ImageSize}×{Judge.ImageSize} images, {Template.Model.Name} generates {side}×{side}");
        }
        if (Template.Model.Pipeline.DefaultImageSize is { } size && size != Data.Size)
            throw new DejaException($"mitigate: --data {Data.Folder} was read at {Data.Size}×{Data.Size}, {Template.Model.Name} generates {size}×{size}");
        Directory.CreateDirectory(outDir);
        var points = new List<SweepPoint>();
        foreach (var (method, strength) in Points())
        {
            var run = At(Template, method, strength);
            string name = FolderName(method, strength), folder = Path.Combine(outDir, name);
            var output = new MitigationOutput(folder, run.Model, run.Parameters());
            int done = output.CompletePrompts(prompts, run.Noise.Generations);
            foreach (var result in run.Run(prompts, done))
            {
                output.Write(result);
                onPrompt?.Invoke(name, result);
            }
            var point = Measure(folder, name, method, strength, prompts);
            AtomicFile.WriteAllText(Path.Combine(folder, PointFile), point.ToJson(withCaptions: true).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            points.Add(point);
            yield return point;
        }
        AtomicFile.WriteAllText(Path.Combine(outDir, PointsFile), string.Concat(points.Select(p => p.ToJson().ToJsonString() + "\n")));
        AtomicFile.WriteAllText(Path.Combine(outDir, CsvFile), SweepPoint.CsvHeader + "\n" + string.Concat(points.Select(p => p.ToCsv() + "\n")));
        if (points.All(p => p.Fidelity is not null))
            AtomicFile.WriteAllText(Path.Combine(outDir, SvgFile), SweepSvg.Render(points, $"Mitigation trade-off on {Template.Model.Name}: {prompts.Count} prompts, n = {Template.Noise.Generations}"));
    }

    /// <summary>Measures one point's folder (<see cref="MitigationMeasurement"/>).</summary>
    public SweepPoint Measure(string folder, string name, MitigationMethod method, double? strength, IReadOnlyList<string> prompts) =>
        new MitigationMeasurement { Data = Data, Judge = Judge, L2Threshold = L2Threshold, SsimThreshold = SsimThreshold }
            .Measure(folder, name, MitigationRun.MethodName(method), strength, prompts);

}
