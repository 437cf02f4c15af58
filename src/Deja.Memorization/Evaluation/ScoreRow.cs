namespace Deja.Memorization.Evaluation;

/// <summary>
/// One prompt's detection scores: a line of the JSONL file written by <c>deja detect</c> and read by
/// <c>deja eval</c>. Params and Model are JSON objects kept as compact JSON text, so this layer does not
/// need to know every detector's parameter types.
/// </summary>
public sealed record ScoreRow
{
    /// <summary>Position of the prompt in its prompt file (with the prompt text, the resume key).</summary>
    public required int Index { get; init; }
    public required string Prompt { get; init; }
    public string Method { get; init; } = "";

    /// <summary>Score columns in the detector's order (higher = more memorized). NaN is allowed here
    /// (written as the string "NaN"); evaluation refuses it.</summary>
    public required OrderedDictionary<string, double> Scores { get; init; }

    public int Tokens { get; init; }
    public bool Truncated { get; init; }

    /// <summary>
    /// Further top-level members a producer adds (e.g. localize's "generations" and "kind"), a JSON object
    /// as compact text whose members are written after "truncated"; "{}" = none. Readers that do not
    /// know them ignore them.
    /// </summary>
    public string ExtraJson { get; init; } = "{}";

    /// <summary>
    /// The Deja version that wrote the row (issue 15: every output records it). Null for a row made in
    /// this process: the writer then records the running version. A row read back keeps its own, so a
    /// merged or resumed file says which Deja scored each row.
    /// </summary>
    public string? DejaVersion { get; init; }

    /// <summary>The detector's parameters, a JSON object as compact text.</summary>
    public string ParamsJson { get; init; } = "{}";

    /// <summary>The model's identity, a JSON object with at least "id", as compact text.</summary>
    public string ModelJson { get; init; } = "{}";

    /// <summary>The "id" member of <see cref="ModelJson"/>, or "" when it has none.</summary>
    public string ModelId => JsonText.StringMember(ModelJson, "id") ?? "";
}
