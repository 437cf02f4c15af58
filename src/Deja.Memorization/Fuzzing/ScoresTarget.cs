using System.Text;
using Deja.Memorization.Evaluation;
using Deja.Tensors;

namespace Deja.Memorization.Fuzzing;

/// <summary>
/// Score files (JSONL from deja detect): read as eval reads them and evaluated against fixed negatives,
/// and opened for resume as detect --out does.
/// </summary>
internal sealed class ScoresTarget : FuzzTarget
{
    const string ModelId = "5d0c2b7a9e41f3c86d2a0b1e9f7c4a35", Method = "anisotropy";
    const string Params = """{"t_n":981,"gammas":[1,2],"mode":"x,c|x"}""";
    string workDir = "";
    IReadOnlyList<ScoreRow> negatives = [];

    public override string Name => "scores";
    public override string DeeperStage => "past parsing into evaluation and resume checks";
    public override string FileName => "scores.jsonl";
    public override IReadOnlyList<FuzzMutation> Mutations { get; } =
        [JsonMutations.EditLine, JsonMutations.EditLine, JsonMutations.EditLine, .. LineMutations.All];

    static ScoreRow Row(int index, string prompt, double score) => new()
    {
        Index = index, Prompt = prompt, Method = Method, Tokens = 5 + index, Truncated = index == 3,
        Scores = new() { ["anisotropy"] = score, ["anisotropy_norm"] = score / 2, ["anisotropy_cosine"] = 0.1 * index },
        ParamsJson = Params, ModelJson = $$"""{"id":"{{ModelId}}","name":"micro","family":"sd1","prediction":"Epsilon"}""",
    };

    public override IReadOnlyList<byte[]> Prepare(string workDir)
    {
        this.workDir = workDir;
        negatives = [Row(0, "a dog", 0.1), Row(1, "a tree", 0.3), Row(2, "a car", 0.2)];
        var positives = ScoresFile.Serialize([Row(0, "a photo of the cat", 1.5), Row(1, "caf\u00e9 \"quoted\"", 2.5), Row(2, "x", 0.9), Row(3, "long", 3)]);
        var spaced = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(ScoresFile.Serialize([Row(0, "p", 1), Row(1, "q", 2)])).Replace(",\"", ", \"").Replace("\":", "\": "));
        var blankLinesAfter = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(ScoresFile.Serialize([Row(0, "p", 1e-300), Row(1, "q", -2)])) + "\n\n");
        return [positives, spaced, blankLinesAfter];
    }

    /// <summary>
    /// The file is parsed twice (eval, then resume), each line into a JSON document and, when it does not
    /// parse, again with Python's bare NaN quoted; canonical params and UTF-16 strings add more copies.
    /// All of it is linear: 256 bytes per input byte.
    /// </summary>
    public override long AllocationLimit(long inputBytes) => 256 * inputBytes + (16L << 20);

    /// <summary>
    /// Evaluation judges rows gathered from several files, so its refusals name the column and the row
    /// ("eval: column … (first: memorized row index 3, "…")") rather than a file; deja eval names the files.
    /// </summary>
    public override bool NamesTheInput(string message, string path) =>
        base.NamesTheInput(message, path) || message.StartsWith("eval: ", StringComparison.Ordinal);

    public override void Consume(string path, FuzzProbe probe)
    {
        var rows = ScoresFile.Read(path);
        probe.Deeper();
        var problems = new List<DejaException>();
        try { ScoreEvaluation.Evaluate(rows, negatives); }
        catch (DejaException e) { problems.Add(e); }
        var resume = Path.Combine(workDir, "resume-" + FileName);
        File.Copy(path, resume, overwrite: true);
        try { ScoresFile.OpenForAppend(resume, ModelId, Method, Params).Dispose(); }
        catch (DejaException e) { problems.Add(e); }
        if (problems.Count > 0) throw problems[0];
    }
}
