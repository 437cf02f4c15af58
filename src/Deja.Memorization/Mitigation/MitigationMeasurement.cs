using Deja.Memorization.Fidelity;
using Deja.Memorization.Replication;

namespace Deja.Memorization.Mitigation;

/// <summary>
/// Measures a `deja mitigate --out` folder from its PNGs, as `deja replicate --images` and `deja judge eval
/// --images` do: replication against the training set (<see cref="ReplicationRun"/>, template captions on
/// their mask) and caption fidelity by the judge (always of the original caption), plus the rows' seconds
/// and anisotropy after. Used by each point of `deja mitigate --sweep` and by `deja mitigate-summary`.
/// </summary>
public sealed class MitigationMeasurement
{
    public required SynthReplicationData Data { get; init; }
    /// <summary>The caption-fidelity judge (null: fidelity not measured).</summary>
    public CaptionJudge? Judge { get; init; }
    public double L2Threshold { get; init; } = 0.1;
    public double SsimThreshold { get; init; } = 0.8;

    /// <summary>Measures <paramref name="prompts"/> (each must have its generations in the folder) of one folder.</summary>
    public SweepPoint Measure(string folder, string name, string method, double? strength, IReadOnlyList<string> prompts)
    {
        var images = GeneratedImages.Read(folder);
        var cases = Data.CasesFor(prompts, folder);
        var replication = new ReplicationRun
        {
            TrainingImages = Data.Training, Channels = 3, Height = Data.Size, Width = Data.Size,
            Generations = images.Generations, Seed = 0, L2Threshold = L2Threshold, SsimThreshold = SsimThreshold,
        };
        var results = replication.Run(cases, (caption, g) => images.Image(caption, (int)g)).ToList();
        List<double>? fidelity = null;
        if (Judge is not null)
        {
            fidelity = [];
            foreach (var caption in prompts)
            {
                var items = Enumerable.Range(0, images.Generations).Select(g => (caption, JudgeEvaluation.FromUnitRange(images.Image(caption, g)))).ToList();
                fidelity.Add(Judge.Fidelity(items).Average(v => v.Fidelity));
            }
        }
        return SweepPoint.Summarize(method, strength, name, results, fidelity, [.. prompts.Select(images.Numbers)]);
    }

    /// <summary>Measures every caption of a folder, in the order of its rows.</summary>
    public SweepPoint Measure(string folder, string name)
    {
        var images = GeneratedImages.Read(folder);
        return Measure(folder, name, images.Method, null, images.Captions);
    }
}
