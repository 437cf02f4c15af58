using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Deja.Memorization.Evaluation;
using Deja.Tensors;

namespace Deja.Memorization.Detection;

/// <summary>
/// A detector's decision threshold, calibrated on prompts known not to be memorized so that it flags at
/// most a chosen fraction of them (the false-positive rate, FPR), and bound to the run that made the
/// scores: the model's fingerprint, the method, the score column and every parameter a score row records
/// (the detectors' settings and the noise: n, seed, seed policy). A threshold means nothing for scores of
/// another model or another parameter set, so <see cref="Check"/> refuses that use.
/// <para>
/// The rule, everywhere: a prompt is flagged ⇔ its score &gt; <see cref="Threshold"/> (higher scores mean
/// "more likely memorized"; a score equal to the threshold is not flagged). With N negatives and target
/// f, at most k = ⌊f·N⌋ of them may be flagged. The set of thresholds that flag at most k is [d₍ₖ₊₁₎, ∞),
/// d₍ᵢ₎ the i-th largest negative score, so the smallest such threshold is d₍ₖ₊₁₎ itself: exactly the
/// scores strictly above it are flagged, which are at most the k largest, fewer when scores tie with
/// it (a tie cannot be split, so the achieved FPR may be below the target; it is never above it).
/// A target below 1/N allows no false positive at all: the threshold would simply be the largest
/// negative score, which measures nothing about an FPR of f, so it is refused.
/// </para>
/// <para>
/// This type is the one the screening callers use (detect --calibration, and a generation guard): load,
/// <see cref="Check"/> against the run, then <see cref="IsFlagged(double)"/>. It knows nothing of the CLI.
/// </para>
/// </summary>
public sealed class Calibration
{
    public const string FormatName = "deja-calibration";
    public const int FormatVersion = 1;
    public const string Rule = "flagged ⇔ score > threshold";

    /// <summary>Prompts whose score in <see cref="Column"/> is above this are flagged.</summary>
    public required double Threshold { get; init; }
    /// <summary>The score column the threshold applies to (by default the method's decision score, its first column).</summary>
    public required string Column { get; init; }
    /// <summary>The method as score rows write it ("anisotropy", or several joined by '+').</summary>
    public required string Method { get; init; }
    /// <summary>The run's parameters exactly as score rows record them (detectors and noise), compact JSON.</summary>
    public required string ParamsJson { get; init; }
    /// <summary>The model's identity exactly as score rows record it (id, name, family, prediction), compact JSON.</summary>
    public required string ModelJson { get; init; }
    /// <summary>How many known non-memorized prompts the threshold was chosen on.</summary>
    public required int Negatives { get; init; }
    /// <summary>How many of them the threshold flags (score &gt; threshold).</summary>
    public required int FlaggedNegatives { get; init; }
    /// <summary>The false-positive rate asked for.</summary>
    public required double TargetFpr { get; init; }
    /// <summary>Where the negatives came from (a file name), for the record.</summary>
    public string? NegativesSource { get; init; }
    /// <summary>The Deja that made the calibration, for the record (not checked).</summary>
    public string? DejaVersion { get; init; }
    /// <summary>The file it was loaded from (for messages); null for one made in memory.</summary>
    public string? Path { get; init; }

    /// <summary>The fraction of the negatives flagged: ≤ <see cref="TargetFpr"/>.</summary>
    public double AchievedFpr => (double)FlaggedNegatives / Negatives;

    public string ModelId => JsonText.StringMember(ModelJson, "id") ?? "";
    public string ModelName => JsonText.StringMember(ModelJson, "name") ?? ModelId;

    /// <summary>The Deja version this build carries (assembly informational version, with the commit).</summary>
    public static string? CurrentDejaVersion =>
        typeof(Calibration).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;

    /// <summary>The rule: score &gt; threshold. A non-finite score is not a score (the model overflowed), never silently "not flagged".</summary>
    public bool IsFlagged(double score)
    {
        if (!double.IsFinite(score))
            throw new DejaException($"{Column} = {score.ToString(CultureInfo.InvariantCulture)} is not a score; it cannot be compared with the calibrated threshold");
        return score > Threshold;
    }

    /// <summary>The rule applied to a row's scores, by <see cref="Column"/>.</summary>
    public bool IsFlagged(IReadOnlyDictionary<string, double> scores) =>
        IsFlagged(scores.TryGetValue(Column, out var s) ? s
            : throw new DejaException($"{Describe()} applies to the score column \"{Column}\", which the row lacks (it has {string.Join(", ", scores.Keys)})"));

    // ---- the threshold rule ----

    /// <summary>
    /// k = the most negatives that may be flagged: the largest k with k/N ≤ f, in the same double
    /// arithmetic that <see cref="AchievedFpr"/> and the target are compared in (⌊f·N⌋ alone is wrong when
    /// f·N is an integer that rounding puts just below it: 0.29·100 = 28.999…). Refuses k = 0 (f &lt; 1/N).
    /// </summary>
    public static int MaxFalsePositives(int negatives, double targetFpr)
    {
        CheckTarget(targetFpr);
        if (negatives < 1) throw new DejaException("calibrate: no negatives: at least one known non-memorized prompt is needed");
        int k = (int)Math.Floor(targetFpr * negatives);
        while (k + 1 <= negatives && (double)(k + 1) / negatives <= targetFpr) k++;
        while (k > 0 && (double)k / negatives > targetFpr) k--;
        if (k == 0)
        {
            int needed = (int)Math.Ceiling(1 / targetFpr);
            while ((double)1 / needed > targetFpr) needed++;
            throw new DejaException($"calibrate: --fpr {Number(targetFpr)} is below 1/{negatives} = {Number(1.0 / negatives)}, so no negative may be flagged: " +
                $"the threshold would just be the largest of the {negatives} negative scores, which says nothing about a {Number(targetFpr)} false-positive rate; " +
                $"give at least {needed} negatives or --fpr ≥ {Number(1.0 / negatives)}");
        }
        return k;
    }

    /// <summary>The target must be a rate strictly between 0 and 1.</summary>
    public static void CheckTarget(double targetFpr)
    {
        if (!(targetFpr > 0 && targetFpr < 1))
            throw new DejaException($"calibrate: --fpr must be a false-positive rate strictly between 0 and 1, got {Number(targetFpr)}");
    }

    /// <summary>
    /// The smallest threshold whose FPR on <paramref name="negatives"/> is ≤ <paramref name="targetFpr"/>
    /// under flagged ⇔ score &gt; threshold: the (k+1)-th largest score, k = <see cref="MaxFalsePositives"/>;
    /// and how many negatives it flags (≤ k).
    /// </summary>
    public static (double Threshold, int Flagged) ChooseThreshold(IReadOnlyList<double> negatives, double targetFpr)
    {
        int k = MaxFalsePositives(negatives.Count, targetFpr);
        foreach (var s in negatives)
            if (!double.IsFinite(s)) throw new DejaException($"calibrate: a negative score is {s.ToString(CultureInfo.InvariantCulture)}, not a score");
        var descending = negatives.OrderDescending().ToArray();
        double threshold = descending[k];
        return (threshold, descending.Count(s => s > threshold));
    }

    /// <summary>
    /// The calibration of <paramref name="column"/> (default: the rows' first column, the method's
    /// decision score) on the rows of known non-memorized prompts, which must come from one run (one
    /// model, method and parameter set). <paramref name="source"/> names where they came from, in messages.
    /// </summary>
    public static Calibration FromScores(IReadOnlyList<ScoreRow> rows, double targetFpr, string? column, string source)
    {
        CheckTarget(targetFpr);
        if (rows.Count == 0) throw new DejaException($"calibrate: {source} has no rows: no negatives to calibrate on");
        if (ScoreInputCheck.MixedRuns(source, rows) is { } mixed) throw new DejaException($"calibrate: {mixed}");
        var first = rows[0];
        if (first.ModelId.Length == 0)
            throw new DejaException($"calibrate: the rows of {source} record no model (\"model\": {{\"id\": …}}), so the calibration could not be bound to one; score them with deja detect");
        if (first.Method.Length == 0)
            throw new DejaException($"calibrate: the rows of {source} record no method (\"method\"), so the calibration could not be bound to one; score them with deja detect");
        column ??= first.Scores.Keys.FirstOrDefault() ?? throw new DejaException($"calibrate: the rows of {source} have no score columns");
        var seen = new HashSet<(int, string)>();
        var scores = new double[rows.Count];
        for (int i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            string which = $"prompt {row.Index} (\"{ScoreEvaluation.Shorten(row.Prompt)}\")";
            if (!row.Scores.TryGetValue(column, out scores[i]))
                throw new DejaException($"calibrate: {source} has no score column \"{column}\" for {which}; its columns are {string.Join(", ", row.Scores.Keys)} (choose one with --column)");
            if (!double.IsFinite(scores[i]))
                throw new DejaException($"calibrate: {which} of {source} scored {column} = {scores[i].ToString(CultureInfo.InvariantCulture)}, which is not a score; " +
                    "the model's output overflowed or is broken for it");
            if (!seen.Add((row.Index, row.Prompt)))
                throw new DejaException($"calibrate: {source} has {which} twice; each negative counts once, so remove the duplicate");
        }
        var (threshold, flagged) = ChooseThreshold(scores, targetFpr);
        return new Calibration
        {
            Threshold = threshold, Column = column, Method = first.Method, ParamsJson = JsonText.CompactObject(first.ParamsJson, "params"),
            ModelJson = JsonText.CompactObject(first.ModelJson, "model"), Negatives = rows.Count, FlaggedNegatives = flagged,
            TargetFpr = targetFpr, NegativesSource = source, DejaVersion = CurrentDejaVersion,
        };
    }

    // ---- use with a run ----

    /// <summary>
    /// Refuses (one line, naming the difference) use with scores that are not comparable with the
    /// negatives': another model (by fingerprint id), another method, or other parameters. Parameters
    /// compare as eval compares its two sides: canonically, a per-prompt noise file excepted (each prompt
    /// list has its own).
    /// </summary>
    public void Check(string modelJson, string method, string paramsJson)
    {
        string id = JsonText.StringMember(modelJson, "id") ?? "";
        if (id != ModelId)
        {
            string name = JsonText.StringMember(modelJson, "name") ?? id;
            throw new DejaException($"{Describe()} was made for model {ModelName} (id {ModelId}), this run uses {name} (id {id}); " +
                "calibrate on this model's negatives with deja calibrate");
        }
        if (method != Method)
            throw new DejaException($"{Describe()} was made for method \"{Method}\", this run uses \"{method}\"; calibrate with the same --method");
        string mine = ScoreInputCheck.ComparableParams(ParamsJson), theirs = ScoreInputCheck.ComparableParams(paramsJson);
        if (mine != theirs)
            throw new DejaException($"{Describe()} was made with other parameters ({JsonText.FirstDifference(mine, theirs)}, calibration → this run); " +
                "calibrate with the same options");
    }

    /// <summary>The members detect adds to each row it flags: "flagged", "threshold" and "threshold_column", as a compact JSON object.</summary>
    public string RowMembers(IReadOnlyDictionary<string, double> scores) =>
        new JsonObject { ["flagged"] = IsFlagged(scores), ["threshold"] = Threshold, ["threshold_column"] = Column }.ToJsonString();

    /// <summary>A row's "flagged" member: true or false, or null for a row scored without a calibration.</summary>
    public static bool? Flagged(ScoreRow row) =>
        JsonNode.Parse(row.ExtraJson)?["flagged"] is JsonValue v && v.TryGetValue(out bool flagged) ? flagged : null;

    /// <summary>
    /// A resumed detect run appends to a file whose rows must all be flagged the same way: all with this
    /// calibration's threshold and column, or (<paramref name="calibration"/> null) none flagged at all.
    /// </summary>
    public static void CheckExistingRows(IReadOnlyList<ScoreRow> rows, Calibration? calibration, string path)
    {
        foreach (var row in rows)
        {
            var extra = JsonNode.Parse(row.ExtraJson) as JsonObject;
            string which = $"prompt {row.Index} (\"{ScoreEvaluation.Shorten(row.Prompt)}\")";
            bool hasFlag = extra?.ContainsKey("flagged") == true;
            if (calibration is null)
            {
                if (hasFlag)
                    throw new DejaException($"{path} has rows flagged with a calibration, e.g. {which}; resume it with the same --calibration, or use another --out");
                continue;
            }
            if (!hasFlag)
                throw new DejaException($"{path} has rows scored without --calibration, e.g. {which}; flagged and unflagged rows would mix: use another --out");
            bool same = extra!["threshold"] is JsonValue t && t.TryGetValue(out double threshold) && threshold == calibration.Threshold
                && extra["threshold_column"] is JsonValue c && c.TryGetValue(out string? column) && column == calibration.Column;
            if (!same)
                throw new DejaException($"{path} has rows flagged with another threshold, e.g. {which} ({extra["threshold_column"]?.ToJsonString() ?? "?"} > " +
                    $"{extra["threshold"]?.ToJsonString() ?? "?"}, this run: \"{calibration.Column}\" > {Number(calibration.Threshold)}); use another --out");
        }
    }

    // ---- the file ----

    public JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["format"] = FormatName, ["version"] = FormatVersion, ["rule"] = Rule,
            ["column"] = Column, ["threshold"] = Threshold,
            ["target_fpr"] = TargetFpr, ["achieved_fpr"] = AchievedFpr,
            ["negatives"] = Negatives, ["negatives_flagged"] = FlaggedNegatives,
        };
        if (NegativesSource is not null) o["negatives_source"] = NegativesSource;
        o["method"] = Method;
        o["params"] = JsonNode.Parse(ParamsJson);
        o["model"] = JsonNode.Parse(ModelJson);
        if (DejaVersion is not null) o["deja_version"] = DejaVersion;
        return o;
    }

    /// <summary>Writes the calibration as indented JSON, atomically (a temporary file renamed over <paramref name="path"/>).</summary>
    public void Save(string path) =>
        AtomicFile.WriteAllText(path, ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = ScoresFile.Encoder }) + "\n");

    /// <summary>
    /// Reads a calibration file, refusing (one line naming the file and the field) a missing or unreadable
    /// file, invalid JSON, another format or version, a field of the wrong type, and numbers that
    /// contradict each other (an achieved FPR above the target, more flagged negatives than negatives).
    /// </summary>
    public static Calibration Load(string path)
    {
        if (File.Exists(path) is false)
            throw new DejaException(Directory.Exists(path) ? $"calibration file '{path}' is a folder, not a file" : $"calibration file '{path}' does not exist");
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new DejaException($"calibration file '{path}' cannot be read: {e.Message}", e); }
        JsonObject root;
        try
        {
            // Duplicated members are refused while parsing: which of two thresholds would count?
            root = JsonNode.Parse(bytes, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }) as JsonObject
                ?? throw new DejaException($"calibration file '{path}' does not hold a JSON object");
        }
        catch (JsonException e) { throw new DejaException($"calibration file '{path}' is not valid JSON ({e.Message})", e); }
        catch (ArgumentException e) { throw new DejaException($"calibration file '{path}' is not valid JSON ({e.Message})", e); }

        string where = $"calibration file '{path}'";
        Calibration calibration;
        // A string that is not valid UTF-8 surfaces only when read (System.Text.Json validates lazily).
        try { calibration = Read(root, path, where); }
        catch (InvalidOperationException e) { throw new DejaException($"{where} is not valid JSON ({e.Message})", e); }
        if (calibration.ModelId.Length == 0) throw new DejaException($"{where}: \"model\" has no \"id\" string (the model's fingerprint)");
        if (!(calibration.TargetFpr > 0 && calibration.TargetFpr < 1)) throw new DejaException($"{where}: \"target_fpr\" must be strictly between 0 and 1, got {Number(calibration.TargetFpr)}");
        if (calibration.Negatives < 1) throw new DejaException($"{where}: \"negatives\" must be at least 1, got {calibration.Negatives}");
        if (calibration.FlaggedNegatives < 0 || calibration.FlaggedNegatives > calibration.Negatives)
            throw new DejaException($"{where}: \"negatives_flagged\" must be between 0 and \"negatives\" ({calibration.Negatives}), got {calibration.FlaggedNegatives}");
        if (calibration.AchievedFpr > calibration.TargetFpr)
            throw new DejaException($"{where}: {calibration.FlaggedNegatives} of {calibration.Negatives} negatives flagged is an FPR of {Number(calibration.AchievedFpr)}, above its \"target_fpr\" {Number(calibration.TargetFpr)}");
        return calibration;
    }

    /// <summary>The fields, each of its type; <see cref="Load"/> checks how they agree.</summary>
    static Calibration Read(JsonObject root, string path, string where)
    {
        string format = Str(root, "format", where);
        if (format != FormatName) throw new DejaException($"{where} is not a Deja calibration (\"format\" is \"{format}\", expected \"{FormatName}\")");
        int version = Int(root, "version", where);
        if (version != FormatVersion) throw new DejaException($"{where} has format version {version}; this deja reads version {FormatVersion}");
        string rule = Str(root, "rule", where);
        if (rule != Rule) throw new DejaException($"{where} states the rule \"{rule}\"; this deja applies \"{Rule}\" only");
        return new Calibration
        {
            Column = NonEmpty(root, "column", where), Threshold = Num(root, "threshold", where), TargetFpr = Num(root, "target_fpr", where),
            Negatives = Int(root, "negatives", where), FlaggedNegatives = Int(root, "negatives_flagged", where),
            NegativesSource = OptionalStr(root, "negatives_source", where), Method = NonEmpty(root, "method", where),
            ParamsJson = Obj(root, "params", where), ModelJson = Obj(root, "model", where), DejaVersion = OptionalStr(root, "deja_version", where),
            Path = path,
        };
    }

    /// <summary>"calibration file 'c.json'" or "the calibration", for messages.</summary>
    string Describe() => Path is null ? "the calibration" : $"calibration file '{Path}'";

    static JsonNode Member(JsonObject root, string name, string where) =>
        root[name] ?? throw new DejaException($"{where} lacks \"{name}\"");

    static string Kind(JsonNode node) => node.GetValueKind() switch
    {
        JsonValueKind.String => "a string", JsonValueKind.Number => "a number", JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array", JsonValueKind.True or JsonValueKind.False => "a boolean", _ => "null",
    };

    static string Str(JsonObject root, string name, string where)
    {
        var node = Member(root, name, where);
        return node.GetValueKind() == JsonValueKind.String ? node.GetValue<string>()
            : throw new DejaException($"{where}: \"{name}\" must be a string, got {Kind(node)}");
    }

    static string NonEmpty(JsonObject root, string name, string where) =>
        Str(root, name, where) is { Length: > 0 } s ? s : throw new DejaException($"{where}: \"{name}\" is empty");

    static string? OptionalStr(JsonObject root, string name, string where) => root[name] is null ? null : Str(root, name, where);

    static double Num(JsonObject root, string name, string where)
    {
        var node = Member(root, name, where);
        if (node.GetValueKind() != JsonValueKind.Number) throw new DejaException($"{where}: \"{name}\" must be a number, got {Kind(node)}");
        double value = node.GetValue<double>();
        return double.IsFinite(value) ? value : throw new DejaException($"{where}: \"{name}\" is {node.ToJsonString()}, not a finite number");
    }

    static int Int(JsonObject root, string name, string where)
    {
        var node = Member(root, name, where);
        if (node.GetValueKind() != JsonValueKind.Number || !int.TryParse(node.ToJsonString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value))
            throw new DejaException($"{where}: \"{name}\" must be an integer, got {(node.GetValueKind() == JsonValueKind.Number ? node.ToJsonString() : Kind(node))}");
        return value;
    }

    static string Obj(JsonObject root, string name, string where)
    {
        var node = Member(root, name, where);
        return node is JsonObject o ? o.ToJsonString() : throw new DejaException($"{where}: \"{name}\" must be an object, got {Kind(node)}");
    }

    static string Number(double x) => x.ToString("G6", CultureInfo.InvariantCulture);
}
