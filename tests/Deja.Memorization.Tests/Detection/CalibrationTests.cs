using System.Text.Json.Nodes;
using Deja.Memorization.Detection;
using Deja.Memorization.Evaluation;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Detection;

/// <summary>
/// The calibrated threshold (flagged ⇔ score &gt; threshold, the smallest threshold whose FPR on the
/// negatives is ≤ the target), its file, and the refusals that keep it from being used on scores it
/// does not apply to.
/// </summary>
public sealed class CalibrationTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("deja-calibration-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    const string Params = """{"anisotropy":{"t_norm":981,"gamma_norm":1},"noise":{"source":"seed","policy":"same","seed":51,"n":1}}""";
    const string Model = """{"id":"abc123","name":"deja-mini","family":"sd1"}""";

    static ScoreRow Row(int index, double score, string model = Model, string parameters = Params, string method = "anisotropy") => new()
    {
        Index = index, Prompt = $"negative {index}", Method = method,
        Scores = new() { ["anisotropy"] = score, ["anisotropy_norm"] = score / 2 },
        ParamsJson = parameters, ModelJson = model,
    };

    static ScoreRow[] Rows(params double[] scores) => [.. scores.Select((s, i) => Row(i, s))];

    // ---- the threshold rule ----

    [Fact]
    public void WhenFTimesNIsAnIntegerExactlyThatManyDistinctNegativesAreFlagged()
    {
        // 1..10, f = 0.2: k = 2 may be flagged; the 3rd largest (8) is the threshold, 9 and 10 are above it.
        var (threshold, flagged) = Calibration.ChooseThreshold([3, 1, 4, 10, 5, 9, 2, 6, 8, 7], 0.2);
        Assert.Equal(8, threshold);
        Assert.Equal(2, flagged);
    }

    [Fact]
    public void WhenFTimesNIsNotAnIntegerTheFloorIsAllowed()
    {
        // f·N = 2.5: at most 2 flagged, FPR 0.2 ≤ 0.25; 3 flagged would be 0.3 > 0.25.
        Assert.Equal((8.0, 2), Calibration.ChooseThreshold([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.25));
        // 0.29·100 = 28.999999999999996 in doubles, but 29/100 ≤ 0.29: 29 of 0..99 may be flagged (71..99), threshold 70.
        Assert.Equal(29, Calibration.MaxFalsePositives(100, 0.29));
        Assert.Equal((70.0, 29), Calibration.ChooseThreshold([.. Enumerable.Range(0, 100).Select(i => (double)i)], 0.29));
        // 0.07·100 = 7.000000000000001: still 7, not 8.
        Assert.Equal(7, Calibration.MaxFalsePositives(100, 0.07));
    }

    [Fact]
    public void TiesAtTheThresholdAreNotFlaggedSoTheAchievedFprMayBeLowerNeverHigher()
    {
        // f = 0.34, N = 6: k = 2 (2/6 ≤ 0.34). Descending 4, 3, 3, 3, 2, 1: the 3rd largest is 3, and only 4 is above it.
        // Any threshold below 3 would flag 4 negatives (4/6 > 0.34), so 3 is the smallest valid threshold.
        var (threshold, flagged) = Calibration.ChooseThreshold([1, 3, 2, 3, 4, 3], 0.34);
        Assert.Equal(3, threshold);
        Assert.Equal(1, flagged);
        // All equal: none can be flagged without flagging all.
        Assert.Equal((5.0, 0), Calibration.ChooseThreshold([5, 5, 5, 5], 0.5));
        var c = Calibration.FromScores(Rows(1, 3, 2, 3, 4, 3), 0.34, null, "neg.jsonl");
        Assert.False(c.IsFlagged(3.0)); // equal to the threshold: not flagged
        Assert.True(c.IsFlagged(Math.BitIncrement(3.0)));
        Assert.Equal(1.0 / 6, c.AchievedFpr);
    }

    [Fact]
    public void ATargetBelowOneOverNIsRefusedNamingWhatWouldHappen()
    {
        var e = Assert.Throws<DejaException>(() => Calibration.ChooseThreshold([.. Enumerable.Range(0, 20).Select(i => (double)i)], 0.01));
        Assert.Equal("calibrate: --fpr 0.01 is below 1/20 = 0.05, so no negative may be flagged: the threshold would just be the largest of the 20 negative scores, " +
            "which says nothing about a 0.01 false-positive rate; give at least 100 negatives or --fpr ≥ 0.05", e.Message);
        // f = 1/N exactly is allowed: one negative flagged, the threshold is the second largest.
        Assert.Equal((18.0, 1), Calibration.ChooseThreshold([.. Enumerable.Range(0, 20).Select(i => (double)i)], 0.05));
        Assert.Throws<DejaException>(() => Calibration.ChooseThreshold([1, 2], 0));
        Assert.Throws<DejaException>(() => Calibration.ChooseThreshold([1, 2], 1));
        Assert.Throws<DejaException>(() => Calibration.ChooseThreshold([], 0.5));
    }

    [Fact]
    public void OnRandomTiedListsTheThresholdIsTheSmallestValidOneAndAgreesWithEvalsHeadlineTpr()
    {
        var g = new Generator(7);
        for (int trial = 0; trial < 300; trial++)
        {
            int n = 2 + g.NextInt(59);
            var negatives = Enumerable.Range(0, n).Select(_ => (double)g.NextInt(12)).ToArray(); // integers: many ties
            var positives = Enumerable.Range(0, 1 + g.NextInt(30)).Select(_ => g.NextInt(14) + 0.5).ToArray(); // never tie a negative
            double f = 1.0 / n + g.NextDouble() * (0.999 - 1.0 / n);
            if (f <= 1.0 / n) continue;
            var (threshold, flagged) = Calibration.ChooseThreshold(negatives, f);

            Assert.Equal(negatives.Count(s => s > threshold), flagged);
            Assert.True((double)flagged / n <= f, $"trial {trial}: FPR {flagged}/{n} > {f}");
            // Brute force over every candidate (the set of valid thresholds is [d, ∞) with d a negative score):
            var smallest = negatives.Distinct().Where(t => (double)negatives.Count(s => s > t) / n <= f).Min();
            Assert.Equal(smallest, threshold);

            // In sample, the TPR at the calibrated threshold is eval's headline TPR at the largest ROC FPR ≤ f.
            var roc = RocCurve.Compute([.. positives.Select(_ => true), .. negatives.Select(_ => false)], [.. positives, .. negatives]);
            double tpr = (double)positives.Count(s => s > threshold) / positives.Length;
            Assert.Equal(DetectionMetrics.TprAtFprAtMost(roc, f), tpr, 12);
        }
    }

    // ---- from score rows ----

    [Fact]
    public void FromScoresKeepsTheRunsRecordsAndTheChosenColumn()
    {
        var c = Calibration.FromScores(Rows(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.1, null, "neg.jsonl");
        Assert.Equal("anisotropy", c.Column);
        Assert.Equal(9, c.Threshold);
        Assert.Equal((10, 1, 0.1, 0.1), (c.Negatives, c.FlaggedNegatives, c.TargetFpr, c.AchievedFpr));
        Assert.Equal(("anisotropy", "abc123", "deja-mini"), (c.Method, c.ModelId, c.ModelName));
        Assert.Equal(Params, c.ParamsJson);
        Assert.Equal(Model, c.ModelJson);
        Assert.Equal(4.5, Calibration.FromScores(Rows(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.1, "anisotropy_norm", "neg.jsonl").Threshold);
    }

    [Fact]
    public void FromScoresRefusesRowsOfSeveralRunsAndRowsThatAreNotScores()
    {
        var mixed = Rows(1, 2, 3, 4).Append(Row(4, 5, parameters: Params.Replace("51", "3"))).ToArray();
        Assert.Equal("calibrate: neg.jsonl mixes rows scored with different parameters (noise.seed: 51 → 3): prompt 0 (\"negative 0\") and prompt 4 (\"negative 4\"); " +
            "score each run into its own file", Assert.Throws<DejaException>(() => Calibration.FromScores(mixed, 0.5, null, "neg.jsonl")).Message);
        var models = Rows(1, 2, 3, 4).Append(Row(4, 5, model: """{"id":"other","name":"sd"}""")).ToArray();
        Assert.Contains("mixes rows scored by different models: deja-mini (id abc123) vs sd (id other)",
            Assert.Throws<DejaException>(() => Calibration.FromScores(models, 0.5, null, "neg.jsonl")).Message);
        var nan = Rows(1, 2, double.NaN, 4);
        Assert.Contains("prompt 2 (\"negative 2\") of neg.jsonl scored anisotropy = NaN, which is not a score",
            Assert.Throws<DejaException>(() => Calibration.FromScores(nan, 0.5, null, "neg.jsonl")).Message);
        var twice = Rows(1, 2, 3).Append(Row(0, 1)).ToArray();
        Assert.Contains("has prompt 0 (\"negative 0\") twice", Assert.Throws<DejaException>(() => Calibration.FromScores(twice, 0.5, null, "neg.jsonl")).Message);
        Assert.Contains("has no rows", Assert.Throws<DejaException>(() => Calibration.FromScores([], 0.5, null, "neg.jsonl")).Message);
        Assert.Contains("record no model", Assert.Throws<DejaException>(() => Calibration.FromScores([Row(0, 1, model: "{}"), Row(1, 2, model: "{}")], 0.5, null, "neg.jsonl")).Message);
        Assert.Contains("has no score column \"sharpness\"", Assert.Throws<DejaException>(() => Calibration.FromScores(Rows(1, 2), 0.5, "sharpness", "neg.jsonl")).Message);
    }

    // ---- the file ----

    [Fact]
    public void SaveAndLoadRoundTripEveryFieldAndTheThresholdBitForBit()
    {
        double awkward = 2.979467852148238 + 1e-15; // a value whose shortest text has 16-17 digits
        var c = Calibration.FromScores(Rows(0.1, awkward, 0.3, 1.0 / 3, Math.PI, -7.25e-9), 0.2, null, "neg.txt");
        Assert.Equal(awkward, c.Threshold);
        var path = Path.Combine(dir, "calibration.json");
        c.Save(path);
        Assert.Equal(["calibration.json"], Directory.GetFiles(dir).Select(Path.GetFileName)); // no temporary file left

        var back = Calibration.Load(path);
        Assert.Equal(BitConverter.DoubleToInt64Bits(c.Threshold), BitConverter.DoubleToInt64Bits(back.Threshold));
        Assert.Equal((c.Column, c.Method, c.Negatives, c.FlaggedNegatives, c.TargetFpr, c.AchievedFpr, c.NegativesSource),
                     (back.Column, back.Method, back.Negatives, back.FlaggedNegatives, back.TargetFpr, back.AchievedFpr, back.NegativesSource));
        Assert.Equal(JsonNode.Parse(c.ParamsJson)!.ToJsonString(), JsonNode.Parse(back.ParamsJson)!.ToJsonString());
        Assert.Equal(c.ModelJson, back.ModelJson);
        Assert.Equal(Calibration.CurrentDejaVersion, back.DejaVersion);
        Assert.Equal(path, back.Path);
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        Assert.Equal("flagged ⇔ score > threshold", (string)json["rule"]!);
        Assert.Equal("deja-calibration", (string)json["format"]!);
        Assert.Equal(1, (int)json["negatives_flagged"]!);
        Assert.Equal(1.0 / 6, (double)json["achieved_fpr"]!);
        back.Check(Model, "anisotropy", Params); // the run it was made from passes
    }

    [Fact]
    public void LoadRefusesEachBrokenFileInOneLineNamingTheField()
    {
        var good = Path.Combine(dir, "good.json");
        Calibration.FromScores(Rows(1, 2, 3, 4), 0.5, null, "neg.txt").Save(good);
        string text = File.ReadAllText(good);
        string Refusal(string content)
        {
            var path = Path.Combine(dir, "c.json");
            File.WriteAllText(path, content);
            var e = Assert.Throws<DejaException>(() => Calibration.Load(path));
            Assert.DoesNotContain('\n', e.Message);
            return e.Message;
        }
        Assert.Equal($"calibration file '{Path.Combine(dir, "missing.json")}' does not exist",
            Assert.Throws<DejaException>(() => Calibration.Load(Path.Combine(dir, "missing.json"))).Message);
        Assert.StartsWith($"calibration file '{Path.Combine(dir, "c.json")}' is not valid JSON (", Refusal(text[..^10]));
        Assert.EndsWith("does not hold a JSON object", Refusal("[1, 2]"));
        // Which of two thresholds would count? Duplicated members are refused, at any depth.
        Assert.Contains("is not valid JSON (", Refusal(text.Replace("\"threshold\": 2,", "\"threshold\": 2, \"threshold\": 9,")));
        Assert.Contains("is not valid JSON (", Refusal(text.Replace("\"seed\": 51,", "\"seed\": 51, \"seed\": 3,")));
        Assert.EndsWith(": \"threshold\" must be a number, got a string", Refusal(text.Replace("\"threshold\": 2", "\"threshold\": \"2\"")));
        Assert.EndsWith(": \"negatives\" must be an integer, got 4.5", Refusal(text.Replace("\"negatives\": 4", "\"negatives\": 4.5")));
        Assert.EndsWith(": \"params\" must be an object, got an array", Refusal(text.Replace("\"params\": {", "\"params\": [], \"x\": {")));
        Assert.EndsWith(" lacks \"column\"", Refusal(text.Replace("\"column\"", "\"col\"")));
        Assert.EndsWith("is not a Deja calibration (\"format\" is \"other\", expected \"deja-calibration\")", Refusal(text.Replace("\"deja-calibration\"", "\"other\"")));
        Assert.EndsWith("has format version 2; this deja reads version 1", Refusal(text.Replace("\"version\": 1", "\"version\": 2")));
        Assert.EndsWith("states the rule \"flagged ⇔ score ≥ threshold\"; this deja applies \"flagged ⇔ score > threshold\" only", Refusal(text.Replace("score > threshold", "score ≥ threshold")));
        Assert.EndsWith("3 of 4 negatives flagged is an FPR of 0.75, above its \"target_fpr\" 0.5", Refusal(text.Replace("\"negatives_flagged\": 2", "\"negatives_flagged\": 3")));
        Assert.EndsWith("\"target_fpr\" must be strictly between 0 and 1, got 1.5", Refusal(text.Replace("\"target_fpr\": 0.5", "\"target_fpr\": 1.5")));
    }

    // ---- use with a run ----

    [Fact]
    public void CheckRefusesAnotherModelMethodOrParametersNamingTheDifference()
    {
        var path = Path.Combine(dir, "c.json");
        Calibration.FromScores(Rows(1, 2, 3, 4), 0.5, null, "neg.txt").Save(path);
        var c = Calibration.Load(path);
        Assert.Equal($"calibration file '{path}' was made for model deja-mini (id abc123), this run uses sd-v1-4 (id def456); calibrate on this model's negatives with deja calibrate",
            Assert.Throws<DejaException>(() => c.Check("""{"id":"def456","name":"sd-v1-4"}""", "anisotropy", Params)).Message);
        Assert.Equal($"calibration file '{path}' was made for method \"anisotropy\", this run uses \"anisotropy+magnitude\"; calibrate with the same --method",
            Assert.Throws<DejaException>(() => c.Check(Model, "anisotropy+magnitude", Params)).Message);
        Assert.Equal($"calibration file '{path}' was made with other parameters (anisotropy.gamma_norm: 1 → 2, calibration → this run); calibrate with the same options",
            Assert.Throws<DejaException>(() => c.Check(Model, "anisotropy", Params.Replace("\"gamma_norm\":1", "\"gamma_norm\":2"))).Message);
        Assert.Contains("(noise.n: 1 → 4,", Assert.Throws<DejaException>(() => c.Check(Model, "anisotropy", Params.Replace("\"n\":1", "\"n\":4"))).Message);
        // The same parameters in another member order, and 1 written as 1.0, are the same run.
        c.Check(Model, "anisotropy", """{"noise":{"n":1,"seed":51,"policy":"same","source":"seed"},"anisotropy":{"gamma_norm":1.0,"t_norm":981}}""");
    }

    [Fact]
    public void PerPromptNoiseFilesMayDifferAsBetweenEvalsTwoSides()
    {
        string Noise(string file, bool perPrompt) =>
            $$$"""{"anisotropy":{"t_norm":981},"noise":{"source":"file","per_prompt":{{{(perPrompt ? "true" : "false")}}},"file":"{{{file}}}","fingerprint":"{{{file}}}-fp","n":1}}""";
        var rows = new[] { Row(0, 1, parameters: Noise("neg.safetensors", true)), Row(1, 2, parameters: Noise("neg.safetensors", true)) };
        Calibration.FromScores(rows, 0.5, null, "neg").Check(Model, "anisotropy", Noise("mem.safetensors", true));
        var shared = new[] { Row(0, 1, parameters: Noise("a.safetensors", false)), Row(1, 2, parameters: Noise("a.safetensors", false)) };
        Assert.Contains("noise.f", Assert.Throws<DejaException>(() => Calibration.FromScores(shared, 0.5, null, "neg").Check(Model, "anisotropy", Noise("b.safetensors", false))).Message);
    }

    [Fact]
    public void RowMembersFollowTheRuleAndAResumedFileMustBeFlaggedTheSameWay()
    {
        var c = Calibration.FromScores(Rows(1, 2, 3, 4), 0.5, null, "neg.txt"); // k = 2: threshold 2, flagging 3 and 4
        Assert.Equal(2, c.Threshold);
        Assert.Equal("""{"flagged":false,"threshold":2,"threshold_column":"anisotropy"}""", c.RowMembers(new Dictionary<string, double> { ["anisotropy"] = 2 }));
        Assert.Equal("""{"flagged":true,"threshold":2,"threshold_column":"anisotropy"}""", c.RowMembers(new Dictionary<string, double> { ["anisotropy"] = 3.5 }));
        Assert.Throws<DejaException>(() => c.IsFlagged(double.NaN));

        var flagged = Row(0, 3.5) with { ExtraJson = c.RowMembers(new Dictionary<string, double> { ["anisotropy"] = 3.5 }) };
        Assert.True(Calibration.Flagged(flagged));
        Assert.Null(Calibration.Flagged(Row(1, 1)));
        Calibration.CheckExistingRows([flagged], c, "s.jsonl");
        Calibration.CheckExistingRows([Row(1, 1)], null, "s.jsonl");
        Assert.Equal("s.jsonl has rows scored without --calibration, e.g. prompt 1 (\"negative 1\"); flagged and unflagged rows would mix: use another --out",
            Assert.Throws<DejaException>(() => Calibration.CheckExistingRows([flagged, Row(1, 1)], c, "s.jsonl")).Message);
        Assert.StartsWith("s.jsonl has rows flagged with a calibration, e.g. prompt 0",
            Assert.Throws<DejaException>(() => Calibration.CheckExistingRows([flagged], null, "s.jsonl")).Message);
        var other = Calibration.FromScores(Rows(1, 2, 3, 4, 5), 0.2, null, "neg.txt"); // k = 1: threshold 4
        Assert.Equal("s.jsonl has rows flagged with another threshold, e.g. prompt 0 (\"negative 0\") (\"anisotropy\" > 2, this run: \"anisotropy\" > 4); use another --out",
            Assert.Throws<DejaException>(() => Calibration.CheckExistingRows([flagged], other, "s.jsonl")).Message);
    }
}
