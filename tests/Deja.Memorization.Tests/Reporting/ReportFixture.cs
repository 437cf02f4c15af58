using System.Text.Json;
using System.Text.Json.Nodes;
using Deja.Diffusion.Images;
using Deja.Memorization.Detection;
using Deja.Memorization.Evaluation;
using Deja.Memorization.Explanation;
using Deja.Memorization.Localization;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Reporting;

/// <summary>
/// Every kind of input `deja report` reads, written small into a temp folder: score files of memorized,
/// non-memorized and unlabelled prompts (seeded normal scores, memorized shifted up), a calibration made
/// from the negatives, an explain file, a localize folder with heatmap PNGs and two mitigate folders
/// (method none, and prompt) with their images. One prompt of each is hostile HTML. Shared by the
/// library tests and the CLI's browser test (linked into Deja.Cli.Tests).
/// </summary>
public sealed class ReportFixture : IDisposable
{
    public const string Hostile = "<script>alert(\"x\")</script> a red <b>circle</b> & 'quoted'";
    public const string HostileEscaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; a red &lt;b&gt;circle&lt;/b&gt; &amp; &#39;quoted&#39;";
    public const string ModelJson = "{\"id\":\"model-a\",\"name\":\"mini\",\"family\":\"sd1\"}";
    public const string ParamsJson = "{\"noise\":{\"seed\":51,\"n\":1}}";
    public static readonly string[] Columns = ["anisotropy", "anisotropy_norm", "anisotropy_cosine"];
    public static readonly string[] Maps = ["cov", "score_diff"];

    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "deja-report-test-" + Guid.NewGuid().ToString("N"));
    public string Positives => Path.Combine(Dir, "mem.jsonl");
    public string Negatives => Path.Combine(Dir, "nonmem.jsonl");
    public string Scored => Path.Combine(Dir, "new.jsonl");
    public string Calibration => Path.Combine(Dir, "calibration.json");
    public string Explain => Path.Combine(Dir, "explain.jsonl");
    public string Localize => Path.Combine(Dir, "loc");
    public string MitigateNone => Path.Combine(Dir, "mv-none");
    public string MitigatePrompt => Path.Combine(Dir, "mv-prompt");

    public int LocalizePrompts { get; }
    public int MitigatePrompts { get; }
    public const int Generations = 2;

    public ReportFixture(int positives = 40, int negatives = 60, int scored = 10, int localizePrompts = 3, int mitigatePrompts = 3)
    {
        Directory.CreateDirectory(Dir);
        LocalizePrompts = localizePrompts;
        MitigatePrompts = mitigatePrompts;
        var g = new Generator(7);
        WriteScores(Positives, positives, "memorized caption", 1.0, g);
        WriteScores(Negatives, negatives, "held-out caption", 0.0, g);
        WriteScores(Scored, scored, "new caption", 0.5, g);
        Deja.Memorization.Detection.Calibration.FromScores(ScoresFile.Read(Negatives), 0.1, "anisotropy", "nonmem.jsonl").Save(Calibration);
        WriteExplain();
        WriteLocalize(g);
        WriteMitigate(MitigateNone, "none", 2.5, g);
        WriteMitigate(MitigatePrompt, "prompt", 0.5, g);
    }

    /// <summary>Rows as deja detect writes them; prompt 0 of the memorized file is the hostile one.</summary>
    static void WriteScores(string path, int count, string prefix, double shift, Generator g)
    {
        var rows = Enumerable.Range(0, count).Select(i => new ScoreRow
        {
            Index = i, Prompt = i == 0 && shift == 1.0 ? Hostile : $"{prefix} {i}", Method = "anisotropy",
            Scores = new OrderedDictionary<string, double>
            {
                ["anisotropy"] = shift + g.NextNormal(), ["anisotropy_norm"] = 0.5 * shift + g.NextNormal(), ["anisotropy_cosine"] = -0.1 + 0.05 * g.NextNormal(),
            },
            Tokens = 10, ParamsJson = ParamsJson, ModelJson = ModelJson,
        });
        File.WriteAllLines(path, rows.Select(Line));
    }

    /// <summary>A score row as one JSONL line, the way deja detect writes it (extra members after "truncated").</summary>
    public static string Line(ScoreRow r)
    {
        var o = new JsonObject { ["index"] = r.Index, ["prompt"] = r.Prompt, ["method"] = r.Method, ["scores"] = new JsonObject(r.Scores.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))), ["tokens"] = r.Tokens, ["truncated"] = r.Truncated };
        foreach (var (k, v) in JsonNode.Parse(r.ExtraJson)!.AsObject()) o[k] = v?.DeepClone();
        o["params"] = JsonNode.Parse(r.ParamsJson);
        o["model"] = JsonNode.Parse(r.ModelJson);
        return o.ToJsonString();
    }

    void WriteExplain()
    {
        var rows = new[]
        {
            new ExplanationRow(0, Hostile, [new(1, "<script>", 1.5), new(2, "red", 0.25), new(3, "circle", 0.5)], false),
            new ExplanationRow(1, "a blue square", [new(1, "a", 0.1), new(2, "blue", 2.0), new(3, "square", 0.3)], false),
        };
        File.WriteAllLines(Explain, rows.Select(r => r.ToJson().ToJsonString()));
    }

    void WriteLocalize(Generator g)
    {
        Directory.CreateDirectory(Path.Combine(Localize, LocalizeOutput.PngDir));
        var rows = new List<ScoreRow>();
        for (int i = 0; i < LocalizePrompts; i++)
        {
            var scores = new OrderedDictionary<string, double>();
            foreach (var map in Maps)
            {
                var values = new float[8 * 8];
                for (int k = 0; k < values.Length; k++) values[k] = (float)g.NextDouble();
                scores[map] = values.Average();
                var image = new float[3 * 16 * 16];
                for (int k = 0; k < image.Length; k++) image[k] = 0.5f;
                Png.Write(Path.Combine(Localize, LocalizeOutput.PngDir, $"{i:00000}_{i}_{map}.png"), Heatmap.Render(image, 3, 16, 16, values, 8, 8));
            }
            rows.Add(new ScoreRow
            {
                Index = i, Prompt = i == 0 ? Hostile : $"localized caption {i}", Method = "localize", Scores = scores,
                ExtraJson = new JsonObject { ["generations"] = new JsonArray(i), ["kind"] = i == 0 ? "template" : "heldout" }.ToJsonString(),
                ParamsJson = "{}", ModelJson = ModelJson,
            });
        }
        File.WriteAllLines(Path.Combine(Localize, LocalizeOutput.RowsFile), rows.Select(Line));
    }

    void WriteMitigate(string folder, string method, double after, Generator g)
    {
        Directory.CreateDirectory(Path.Combine(folder, "images"));
        var lines = new List<string>();
        for (int i = 0; i < MitigatePrompts; i++)
            for (int j = 0; j < Generations; j++)
            {
                var pixels = new byte[16 * 16 * 3];
                for (int k = 0; k < pixels.Length; k++) pixels[k] = (byte)g.NextInt(256);
                string rel = $"images/{i:D5}-{j}.png";
                Png.Write(Path.Combine(folder, rel), new Image(16, 16, 3, pixels));
                lines.Add(new JsonObject
                {
                    ["index"] = i, ["generation"] = j, ["prompt"] = i == 0 ? Hostile : $"mitigated caption {i}", ["seed"] = i, ["method"] = method,
                    ["changed_prompt"] = null, ["score_before"] = 2.5, ["score_after"] = method == "none" ? 2.5 : after, ["image"] = rel,
                    ["model_id"] = "model-a", ["parameters"] = new JsonObject { ["method"] = method },
                }.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
            }
        File.WriteAllLines(Path.Combine(folder, "mitigate.jsonl"), lines);
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
