using System.Text.Json.Nodes;
using Deja.Cli.Tests.Support;
using Deja.Memorization.Detection;
using Deja.Memorization.Evaluation;

namespace Deja.Cli.Tests;

/// <summary>
/// `deja mitigate-summary --guard-plain`: the guard's rows composed from an un-mitigated and a mitigated
/// folder on the tiny SD1 pipeline. A threshold below every score is the mitigated row, one above every
/// score the plain row, a calibration's threshold flags the captions whose score_before (detect's score on
/// the same noise) is above it, and the seconds are the chosen captions' mean. A calibration of another n
/// is refused.
/// </summary>
public class MitigateSummaryGuardTests
{
    [Fact]
    public void GuardRowsTakeFlaggedCaptionsFromTheMitigatedFolder()
    {
        using var dir = new TempDir();
        var captions = Datasets.Synth64WithVerbatimPrompts(dir, 3);
        string tiny = Repo.TinyPipeline("tiny-sd1");
        foreach (var method in new[] { "none", "random-tokens" })
        {
            var run = Support.Deja.Run(dir.Path, "mitigate", "--model", tiny, "--prompts", "prompts.txt", "--n", "1", "--steps", "2", "--seed", "0",
                "--method", method, "--out", method);
            Assert.True(run.ExitCode == 0, run.ToString());
        }
        // The detector on the same prompts and noise (index seeds from 0, n = 1) gives score_before: the guard's score is detect's
        // (to float rounding: detect scores prompts in batches).
        var detect = Support.Deja.Run(dir.Path, "detect", "--model", tiny, "--prompts", "prompts.txt", "--n", "1", "--seed", "0", "--seed-policy", "index", "--out", "scores.jsonl");
        Assert.True(detect.ExitCode == 0, detect.ToString());
        var detected = ScoresFile.Read(dir.File("scores.jsonl")).ToDictionary(r => r.Prompt, r => r.Scores["anisotropy"]);
        var rowsOf = new[] { "none", "random-tokens" }.ToDictionary(m => m, m => File.ReadLines(dir.File($"{m}/mitigate.jsonl"))
            .Select(l => JsonNode.Parse(l)!.AsObject()).ToDictionary(o => (string)o["prompt"]!));
        var score = captions.ToDictionary(c => c, c => (double)rowsOf["none"][c]["score_before"]!);
        foreach (var c in captions) Assert.Equal(detected[c], score[c], 1e-5 * Math.Abs(detected[c]));
        // A calibration on other (negative) prompts at the same settings, and a threshold between the lowest two scores.
        File.WriteAllLines(dir.File("neg.txt"), Enumerable.Range(0, 10).Select(i => $"a photo of thing number {i}"));
        var calibrate = Support.Deja.Run(dir.Path, "calibrate", "--model", tiny, "--prompts", "neg.txt", "--n", "1", "--seed", "0", "--seed-policy", "index",
            "--fpr", "0.2", "--out", "cal.json");
        Assert.True(calibrate.ExitCode == 0, calibrate.ToString());
        var calibration = Calibration.Load(dir.File("cal.json"));
        var sorted = score.Values.Order().ToArray();
        double middle = (sorted[0] + sorted[1]) / 2;

        var r = Support.Deja.Run(dir.Path, "mitigate-summary", "random-tokens", "--guard-plain", "none", "--calibration", "cal.json",
            "--guard-threshold", "-1e9", "1e9", middle.ToString("R", System.Globalization.CultureInfo.InvariantCulture), "--data", "synth", "--no-fidelity", "--json");
        Assert.True(r.ExitCode == 0, r.ToString());
        var rows = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal(6, rows.Count); // plain, four guarded, mitigated
        JsonObject plain = rows[0], calibrated = rows[1], all = rows[2], nothing = rows[3], two = rows[4], mitigated = rows[5];
        Assert.Null(plain["guard"]);
        Assert.Null(mitigated["guard"]);
        string[] keys = ["replicated_l2", "replicated_ssim", "median_nearest_l2", "anisotropy_after", "seconds_per_prompt", "median_nearest_l2_ci"];
        foreach (var key in keys)
        {
            Assert.Equal(mitigated[key]!.ToJsonString(), all[key]!.ToJsonString());
            Assert.Equal(plain[key]!.ToJsonString(), nothing[key]!.ToJsonString());
        }
        Assert.Equal(3, (int)all["guard"]!["flagged"]!);
        Assert.Equal(0, (int)nothing["guard"]!["flagged"]!);
        Assert.Equal(2, (int)two["guard"]!["flagged"]!);
        Assert.Equal(calibration.Threshold, (double)calibrated["guard"]!["threshold"]!);
        Assert.Equal(captions.Count(c => score[c] > calibration.Threshold), (int)calibrated["guard"]!["flagged"]!);
        Assert.Contains("cal.json", (string)calibrated["guard"]!["source"]!);
        // two captions from the mitigated folder, one from the plain: the seconds and anisotropy after are their means
        double Mean(string field) => captions.Average(c => (double)rowsOf[score[c] > middle ? "random-tokens" : "none"][c][field]!);
        Assert.Equal(Mean("seconds"), (double)two["seconds_per_prompt"]!, 3);
        Assert.Equal(Mean("score_after"), (double)two["anisotropy_after"]!, 4);

        var markdown = Support.Deja.Run(dir.Path, "mitigate-summary", "random-tokens", "--guard-plain", "none", "--guard-threshold", "1e9", "--data", "synth", "--no-fidelity");
        Assert.True(markdown.ExitCode == 0, markdown.ToString());
        Assert.Contains("| random-tokens guarded by score > 1E+09: 0/3 flagged | random-tokens | 3 |", markdown.Out);

        // a calibration made at another n, a guard without its plain folder, a plain folder of another method: one line each
        var calibrate2 = Support.Deja.Run(dir.Path, "calibrate", "--model", tiny, "--prompts", "neg.txt", "--n", "2", "--seed", "0", "--seed-policy", "index",
            "--fpr", "0.2", "--out", "cal2.json");
        Assert.True(calibrate2.ExitCode == 0, calibrate2.ToString());
        void Refused(string message, params string[] args)
        {
            var bad = Support.Deja.Run(dir.Path, ["mitigate-summary", .. args, "--data", "synth", "--no-fidelity"]);
            Assert.True(bad.ExitCode == 1, bad.ToString());
            Assert.Contains(message, Assert.Single(bad.ErrorLines));
            Assert.Equal("", bad.Out);
        }
        Refused("was calibrated with n = 2 noise draws per prompt, this guard scores n = 1", "random-tokens", "--guard-plain", "none", "--calibration", "cal2.json");
        Refused("need --guard-plain", "random-tokens", "--guard-threshold", "1");
        Refused("needs a --calibration file or a --guard-threshold", "random-tokens", "--guard-plain", "none");
        Refused("the un-mitigated side must be a --method none folder", "none", "--guard-plain", "random-tokens", "--guard-threshold", "1");
    }
}
