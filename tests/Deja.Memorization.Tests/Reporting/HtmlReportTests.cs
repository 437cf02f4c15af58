using System.Globalization;
using System.Text.RegularExpressions;
using Deja.Memorization.Evaluation;
using Deja.Memorization.Reporting;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Reporting;

/// <summary>`deja report`'s HTML (issue 15 §2): escaping, sections, numbers equal to eval's, the threshold rule, refusals.</summary>
public class HtmlReportTests
{
    static readonly ReportOptions Quick = new() { Evaluation = new EvaluationOptions { BootstrapResamples = 0 } };

    static ReportInputs All(ReportFixture f, bool calibration = true) => ReportInputs.Read(
        [f.Scored, f.Explain, f.Localize, f.MitigatePrompt, f.MitigateNone], [f.Positives], [f.Negatives], calibration ? f.Calibration : null, allowMixed: false);

    static int Count(string html, string pattern) => Regex.Matches(html, pattern).Count;

    [Fact]
    public void EveryPromptIsEscapedWhereverItAppears()
    {
        using var f = new ReportFixture();
        var html = HtmlReport.Render(All(f), Quick with { Top = 1000 });
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<b>", html);
        // Top table, explain table, localize and mitigate rows: the HTML-escaped form, quotes included.
        Assert.Equal(4, Count(html, Regex.Escape(ReportFixture.HostileEscaped)));
        // The explain chart's title and its "<script>" token: escaped by the SVG's XML writer.
        Assert.Contains("[0] &lt;script&gt;alert(\"x\")&lt;/script&gt; a red &lt;b&gt;circle&lt;/b&gt; &amp; 'quoted'", html);
        Assert.Contains(">&lt;script&gt;</text>", html);
    }

    [Fact]
    public void EverySectionAndFigureIsPresentWhenItsInputIsGiven()
    {
        using var f = new ReportFixture();
        var html = HtmlReport.Render(All(f), Quick);
        foreach (var id in new[] { "roc", "metrics", "histograms", "top", "explain", "localize", "mitigate" })
        {
            Assert.Contains($"<section id=\"{id}\">", html);
            Assert.Contains($"<a href=\"#{id}\">", html);
        }
        // One ROC figure (linear and log panels), a histogram per score column, one token chart.
        Assert.Equal(1 + ReportFixture.Columns.Length + 1, Count(html, "<svg "));
        Assert.Equal(2, Count(html, "class=\"panel-(linear|log)\""));
        Assert.Equal(ReportFixture.Columns.Length, Count(html, "class=\"histogram\" data-column"));
        // Heatmaps: every map of every localized prompt; mitigation: both folders, every generation.
        Assert.Equal(f.LocalizePrompts * ReportFixture.Maps.Length + 2 * f.MitigatePrompts * ReportFixture.Generations, Count(html, "<img "));
        Assert.Equal(ReportFixture.Columns.Length, Count(html, "<tr data-column="));
    }

    [Theory]
    [InlineData("explain", "explain")]
    [InlineData("localize", "localize")]
    [InlineData("mitigate", "mitigate")]
    [InlineData("scored", "histograms")]
    public void AnInputAloneMakesOnlyItsSection(string input, string section)
    {
        using var f = new ReportFixture();
        string path = input switch { "explain" => f.Explain, "localize" => f.Localize, "mitigate" => f.MitigatePrompt, _ => f.Scored };
        var html = HtmlReport.Render(ReportInputs.Read([path], [], [], null, false), Quick);
        var sections = Regex.Matches(html, "<section id=\"(\\w+)\">").Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(input == "scored" ? ["histograms", "top"] : [section], sections);
    }

    [Fact]
    public void MetricsEqualAHandComputedCase()
    {
        using var f = new ReportFixture();
        // AUC: of the 2×3 pairs only (3, 3.5) is misordered → 5/6. At FPR 0 only the score 4 is above every negative →
        // TPR 0.5. Best balanced accuracy: threshold 3 gives TPR 1, FPR 1/3 → (1 + 2/3)/2 = 0.833.
        Write(f.Dir, "p.jsonl", [3, 4]);
        Write(f.Dir, "n.jsonl", [1, 2, 3.5]);
        var html = HtmlReport.Render(ReportInputs.Read([], [Path.Combine(f.Dir, "p.jsonl")], [Path.Combine(f.Dir, "n.jsonl")], null, false), Quick);
        Assert.Contains("<tr data-column=\"score\"><td>score</td><td>2/3</td><td>0.833</td><td>0.500</td><td>0.500</td><td>0.833</td>", html);
        Assert.Contains("No confidence intervals", html);
    }

    [Fact]
    public void MetricsCarryTheBootstrapIntervalsOfEval()
    {
        using var f = new ReportFixture();
        var options = Quick with { Evaluation = new EvaluationOptions { BootstrapResamples = 200, Seed = 3 } };
        var html = HtmlReport.Render(All(f), options);
        var eval = ScoreEvaluation.Evaluate(ScoresFile.Read(f.Positives), ScoresFile.Read(f.Negatives), new ScoreEvaluationSettings { Options = options.Evaluation });
        var auc = eval.Columns[0].Result;
        Assert.Contains($"<td>{N(auc.Point.Auc)} <span class=\"ci\">[{N(auc.Low!.Value.Auc)}, {N(auc.High!.Value.Auc)}]</span></td>", html);
        Assert.Contains("200 stratified resamples, seed 3", html);
    }

    [Fact]
    public void HistogramBinsFollowNumpysRule()
    {
        Assert.Equal([1, 1, 1, 2], ScoreHistogramSvg.Counts([0, 0.5, 1, 1.5, 2, 2.5, -1], 0, 2, 4));
        Assert.Equal((-1.0, 3.0), ScoreHistogramSvg.Range([0, 1, -1], threshold: 3));
        Assert.Equal((1.5, 2.5), ScoreHistogramSvg.Range([2, 2], threshold: null));
        var svg = ScoreHistogramSvg.Render("s", [new HistogramGroup("a", [0, 0.5, 1, 1.5, 2], "#f00"), new HistogramGroup("b", [2], "#00f")], null, null, bins: 4);
        var counts = Regex.Matches(svg, "data-count=\"(\\d+)\"").Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        Assert.Equal([1, 1, 1, 2, 1], counts);
        Assert.DoesNotContain("class=\"threshold\"", svg);
    }

    [Fact]
    public void TheCalibrationsThresholdIsDrawnAndFlagsByTheRule()
    {
        using var f = new ReportFixture();
        var calibration = Deja.Memorization.Detection.Calibration.Load(f.Calibration);
        var html = HtmlReport.Render(All(f), Quick);
        Assert.Equal(1, Count(html, "class=\"threshold\""));
        Assert.Contains($"data-threshold=\"{calibration.Threshold.ToString("R", CultureInfo.InvariantCulture)}\"", html);
        var all = new[] { f.Positives, f.Negatives, f.Scored }.SelectMany(p => ScoresFile.Read(p)).Select(r => r.Scores["anisotropy"]).ToList();
        int flagged = all.Count(s => s > calibration.Threshold);
        Assert.InRange(flagged, 5, all.Count - 5); // the fixture is a real test of the rule
        Assert.Contains($"<strong>{flagged}</strong> of {all.Count} prompts flagged", html);

        var without = HtmlReport.Render(All(f, calibration: false), Quick);
        Assert.DoesNotContain("class=\"threshold\"", without);
        Assert.Contains("no threshold", without);
    }

    [Fact]
    public void WithoutACalibrationTheRowsOwnThresholdIsUsed()
    {
        using var f = new ReportFixture();
        var rows = Enumerable.Range(0, 4).Select(i => new ScoreRow
        {
            Index = i, Prompt = $"p{i}", Method = "anisotropy", Scores = new OrderedDictionary<string, double> { ["anisotropy"] = i },
            ExtraJson = $"{{\"flagged\":{(i > 1 ? "true" : "false")},\"threshold\":1.5,\"threshold_column\":\"anisotropy\"}}",
            ParamsJson = ReportFixture.ParamsJson, ModelJson = ReportFixture.ModelJson,
        });
        var path = Path.Combine(f.Dir, "flagged.jsonl");
        File.WriteAllLines(path, rows.Select(ReportFixture.Line));
        var inputs = ReportInputs.Read([path], [], [], null, false);
        var rule = DecisionRule.For(inputs);
        Assert.Equal(("anisotropy", 1.5), (rule.Column, rule.Threshold));
        Assert.Contains("<strong>2</strong> of 4 prompts flagged", HtmlReport.Render(inputs, Quick));
    }

    [Fact]
    public void MitigationPutsTheUnmitigatedRunFirstAndAveragesTheScores()
    {
        using var f = new ReportFixture();
        var html = HtmlReport.Render(ReportInputs.Read([f.MitigatePrompt, f.MitigateNone], [], [], null, false), Quick);
        Assert.True(html.IndexOf("<th>before (none)", StringComparison.Ordinal) < html.IndexOf("<th>prompt<br>", StringComparison.Ordinal));
        Assert.Contains("<td>mv-prompt</td><td>prompt</td><td>3</td><td>6</td><td>2.500</td><td>0.500</td>", html);
        Assert.Contains("<td>mv-none</td><td>none</td><td>3</td><td>6</td><td>2.500</td><td>2.500</td>", html);
    }

    [Fact]
    public void AFolderWithoutPngsShowsTheMapsFromItsPartFiles()
    {
        using var f = new ReportFixture(localizePrompts: 2);
        Directory.Delete(Path.Combine(f.Localize, "png"), recursive: true);
        Directory.CreateDirectory(Path.Combine(f.Localize, "parts"));
        var values = Enumerable.Range(0, 64).Select(i => (float)i).ToArray();
        using (var map = Tensor.FromArray(values, 8, 8))
            Deja.Diffusion.IO.SafeTensorsWriter.Write(Path.Combine(f.Localize, "parts", "00000.safetensors"), [("0/0/cov", map)], new Dictionary<string, string> { ["format"] = "pt" });
        var folder = LocalizationFolder.Read(f.Localize);
        var png = folder.HeatmapPng(0, 0, "cov", out bool overImage);
        Assert.False(overImage);
        // Heatmap enlarges an 8×8 map by 32 to 256 px and adds its 6 + 12 px colour bar; the top-left pixel is the minimum (black end).
        var image = Deja.Diffusion.Images.Png.Decode(png!);
        Assert.Equal((256 + 18, 256), (image.Width, image.Height));
        Assert.Equal(Deja.Memorization.Localization.Heatmap.Colour(0), (image.Pixels[0], image.Pixels[1], image.Pixels[2]));
        Assert.Null(folder.HeatmapPng(0, 0, "score_diff", out _));
        Assert.Null(folder.HeatmapPng(1, 1, "cov", out _));
        var html = HtmlReport.Render(ReportInputs.Read([f.Localize], [], [], null, false), Quick);
        Assert.Equal(1, Count(html, "<img "));
        Assert.Equal(3, Count(html, "no map in the folder"));
    }

    [Fact]
    public void MaxPromptsLimitsThePictures()
    {
        using var f = new ReportFixture();
        var html = HtmlReport.Render(All(f), Quick with { MaxPrompts = 1 });
        Assert.Equal(ReportFixture.Maps.Length + 2 * ReportFixture.Generations, Count(html, "<img "));
        Assert.Contains("The first 1 of 3 prompts (--max-prompts)", html);
    }

    [Fact]
    public void TheFileIsSelfContainedVersionedAndDeterministic()
    {
        using var f = new ReportFixture();
        var html = HtmlReport.Render(All(f), Quick);
        Assert.DoesNotContain("<link", html);
        Assert.Contains($"<meta http-equiv=\"Content-Security-Policy\" content=\"{HtmlReport.ContentSecurityPolicy}\">", html);
        Assert.All(Regex.Matches(html, "src=\"([^\"]{0,30})").Select(m => m.Groups[1].Value), s => Assert.StartsWith("data:image/png;base64,", s));
        // The only URLs are the SVG namespace, which is a name, not a load.
        Assert.Equal(Count(html, "https?://"), Count(html, "xmlns=\"http://www.w3.org/2000/svg\""));
        Assert.Contains($"<span id=\"deja-version\">{System.Net.WebUtility.HtmlEncode(DejaVersion.Text)}</span>", html);
        Assert.Equal(html, HtmlReport.Render(All(f), Quick));

        var path = Path.Combine(f.Dir, "report.html");
        HtmlReport.Write(path, All(f), Quick);
        Assert.Equal(html, File.ReadAllText(path));
        Assert.Equal(["report.html"], Directory.GetFiles(f.Dir, "*.html").Select(Path.GetFileName));
    }

    [Fact]
    public void BadInputsAreRefusedNamingWhatIsWrong()
    {
        using var f = new ReportFixture();
        string Refused(Action a) => Assert.Throws<DejaException>(a).Message;
        ReportInputs Read(string[] inputs, string[]? pos = null, string[]? neg = null, string? cal = null) => ReportInputs.Read(inputs, pos ?? [], neg ?? [], cal, false);

        Assert.StartsWith("report: no inputs", Refused(() => Read([])));
        var missing = Path.Combine(f.Dir, "missing.jsonl");
        Assert.Equal($"report: input {missing} does not exist", Refused(() => Read([missing])));
        Assert.Equal($"report: --positives {missing} does not exist", Refused(() => Read([], [missing], [f.Negatives])));
        Assert.StartsWith("report: --positives needs --negatives", Refused(() => Read([], [f.Positives])));
        Assert.Contains("is not a localize folder (localize.jsonl), a mitigate folder", Refused(() => Read([f.Dir])));

        var prompts = Path.Combine(f.Dir, "prompts.txt");
        File.WriteAllLines(prompts, ["a red circle"]);
        Assert.Contains($"{prompts}: not JSONL from deja detect or deja explain --json, nor a calibration file", Refused(() => Read([prompts])));

        File.AppendAllLines(f.Explain, ["{\"index\": 2, \"prompt\": \"x\", \"tokens\": [{\"position\": 1}]}"]);
        Assert.Equal($"{f.Explain} line 3: not a `deja explain --json` row (missing \"significance\")", Refused(() => Read([f.Explain])));

        File.Delete(Path.Combine(f.MitigateNone, "images", "00001-1.png"));
        Assert.EndsWith("image images/00001-1.png is missing", Refused(() => Read([f.MitigateNone])));
        File.WriteAllText(Path.Combine(f.MitigatePrompt, "mitigate.jsonl"), "{\"index\":0,\"prompt\":\"p\",\"method\":\"prompt\",\"image\":\"../mem.jsonl\"}\n");
        Assert.Contains("\"image\" ../mem.jsonl is not inside the folder", Refused(() => Read([f.MitigatePrompt])));

        // Scores of another model: refused like eval refuses them, unless --allow-mixed.
        var other = Path.Combine(f.Dir, "other.jsonl");
        File.WriteAllText(other, File.ReadAllText(f.Negatives).Replace("\"model-a\"", "\"model-b\""));
        var mixed = Refused(() => Read([], [f.Positives], [other]));
        Assert.Contains("were scored by different models", mixed);
        Assert.EndsWith("Pass --allow-mixed to report them anyway", mixed);
        Assert.Contains("(--allow-mixed)", ReportInputs.Read([], [f.Positives], [other], null, allowMixed: true).Warnings[0]);
        // A calibration of another model: its threshold means nothing for these scores.
        Assert.Contains("was made for model mini (id model-a), this run uses", Refused(() => Read([other], cal: f.Calibration)));

        Assert.Equal("report: --max-prompts must be ≥ 1, got 0", Refused(() => new ReportOptions { MaxPrompts = 0 }.Validate()));
        Assert.Equal("report: --columns: no column \"nope\" in every row; the score files have: anisotropy, anisotropy_norm, anisotropy_cosine",
            Refused(() => HtmlReport.Render(Read([f.Scored]), Quick with { Columns = ["nope"] })));
        Assert.Equal("eval: no column \"nope\"; the score files have: anisotropy, anisotropy_norm, anisotropy_cosine",
            Refused(() => HtmlReport.Render(Read([], [f.Positives], [f.Negatives]), Quick with { Columns = ["nope"] })));
    }

    static void Write(string dir, string name, double[] scores) => File.WriteAllLines(Path.Combine(dir, name), scores.Select((s, i) => ReportFixture.Line(new ScoreRow
    {
        Index = i, Prompt = $"{name} {i}", Method = "m", Scores = new OrderedDictionary<string, double> { ["score"] = s },
        ParamsJson = ReportFixture.ParamsJson, ModelJson = ReportFixture.ModelJson,
    })));

    static string N(double v) => v.ToString("0.000", CultureInfo.InvariantCulture);
}
