using System.Text;
using Deja.Memorization.Evaluation;

namespace Deja.Memorization.Fuzzing;

/// <summary>
/// Other tools' score files as deja eval reads them (<see cref="ForeignScoreFile"/>): CSV with a header,
/// or flat JSONL, with the score column "loss" named as --columns would, then evaluated against fixed
/// negatives.
/// </summary>
internal sealed class ForeignScoresTarget(string name, string fileName) : FuzzTarget
{
    IReadOnlyList<ScoreRow> negatives = [];

    public override string Name => name;
    public override string DeeperStage => "past parsing into evaluation";
    public override string FileName => fileName;
    bool Csv => fileName.EndsWith(".csv", StringComparison.Ordinal);

    public override IReadOnlyList<FuzzMutation> Mutations { get; } = [.. LineMutations.All, .. LineMutations.All];

    public override IReadOnlyList<byte[]> Prepare(string workDir)
    {
        negatives = [.. new[] { 0.1, 0.3, 0.2 }.Select((s, i) => new ScoreRow { Index = i, Prompt = $"n{i}", Scores = new() { ["loss"] = s } })];
        string[] seeds = Csv
            ? ["prompt,loss,seed\n\"a cat, \"\"quoted\"\"\",0.9,1\nb,0.8,2\n\"two\nlines\",1e-3,3\n", "loss,note\r\n0.5,x\r\n-2,\r\n1e300,z\r\n"]
            : ["{\"prompt\":\"a\",\"loss\":0.9,\"seed\":1}\n{\"prompt\":\"b\",\"loss\":0.8,\"seed\":2}\n", "{\"loss\":5E-324,\"tag\":\"x\"}\n\n{\"loss\":-1}\n"];
        return [.. seeds.Select(Encoding.UTF8.GetBytes)];
    }

    /// <summary>Evaluation's refusals name the column and the row, not the file (as for <see cref="ScoresTarget"/>).</summary>
    public override bool NamesTheInput(string message, string path) =>
        base.NamesTheInput(message, path) || message.StartsWith("eval: ", StringComparison.Ordinal);

    public override void Consume(string path, FuzzProbe probe)
    {
        var rows = ForeignScoreFile.Read(path, ["loss"]);
        probe.Deeper();
        ScoreEvaluation.Evaluate(rows, negatives);
    }
}
