using System.Text;
using Deja.Memorization.Detection;
using Deja.Memorization.Evaluation;

namespace Deja.Memorization.Fuzzing;

/// <summary>
/// Calibration files (JSON from deja calibrate): loaded as detect --calibration loads them, then checked
/// against the run that made them and applied to a score, as detect and a screening guard do.
/// </summary>
internal sealed class CalibrationTarget : FuzzTarget
{
    const string Model = """{"id":"5d0c2b7a9e41f3c86d2a0b1e9f7c4a35","name":"micro","family":"sd1","prediction":"Epsilon"}""";
    const string Params = """{"anisotropy":{"t_norm":981,"gamma_norm":1,"mode":"x,c|x"},"noise":{"source":"seed","policy":"same","seed":51,"n":1}}""";

    public override string Name => "calibration";
    public override string DeeperStage => "past loading into the run check and the threshold rule";
    public override string FileName => "calibration.json";
    public override IReadOnlyList<FuzzMutation> Mutations { get; } =
        [JsonMutations.EditValue, JsonMutations.EditValue, JsonMutations.EditValue, JsonMutations.DuplicateMember];

    public override IReadOnlyList<byte[]> Prepare(string workDir)
    {
        var rows = new[] { 0.25, 1.5, -3e-7, 2.75, 2.75, 1e300 }.Select((s, i) => new ScoreRow
        {
            Index = i, Prompt = $"negative {i}", Method = "anisotropy", Scores = new() { ["anisotropy"] = s, ["anisotropy_norm"] = s / 2 },
            ParamsJson = Params, ModelJson = Model,
        }).ToArray();
        var path = Path.Combine(workDir, "seed-" + FileName);
        Calibration.FromScores(rows, 0.34, null, "negatives.jsonl").Save(path);
        var indented = File.ReadAllBytes(path);
        var compact = Encoding.UTF8.GetBytes(System.Text.Json.Nodes.JsonNode.Parse(indented)!.ToJsonString());
        return [indented, compact];
    }

    public override void Consume(string path, FuzzProbe probe)
    {
        var calibration = Calibration.Load(path);
        probe.Deeper();
        calibration.Check(Model, "anisotropy", Params);
        calibration.IsFlagged(new Dictionary<string, double> { ["anisotropy"] = 1.0, ["anisotropy_norm"] = 0.5 });
        calibration.RowMembers(new Dictionary<string, double> { ["anisotropy"] = 3.0, ["anisotropy_norm"] = 1.5 });
    }
}
