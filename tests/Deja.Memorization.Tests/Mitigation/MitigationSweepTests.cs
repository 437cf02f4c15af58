using System.Text.Json.Nodes;
using System.Xml.Linq;
using Deja.Diffusion.Data;
using Deja.Diffusion.Pipelines;
using Deja.Diffusion.Text;
using Deja.Memorization.Detection;
using Deja.Memorization.Fidelity;
using Deja.Memorization.Mitigation;
using Deja.Memorization.Models;
using Deja.Memorization.Replication;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Mitigation;

/// <summary>
/// `deja mitigate --sweep`'s bookkeeping: the rates and the median come out right from known distances,
/// each point is the template with one knob changed, strengths parse (and bad ones are refused), the plot
/// has one path per swept method, and a sweep stopped mid-point resumes with only the missing prompt run
/// and the same numbers.
/// </summary>
public class MitigationSweepTests
{
    static StableDiffusionView Tiny(string name) => new(StableDiffusionPipeline.Load(TestData.Golden(name)));

    [Fact]
    public void RatesAndMedianComeFromTheNearestDistances()
    {
        // Training set: one black 3×8×8 image; a constant generation c lies at normalized L2 exactly c from it.
        var training = new[] { new float[3 * 8 * 8] };
        var levels = new Dictionary<string, float[]>
        {
            ["a"] = [0f, 0.3f],     // a copy: L2 0, SSIM 1 → replicated by both
            ["b"] = [0.5f, 0.099f], // L2 0.099 < 0.1, SSIM of a flat grey against black ≈ 0.01 → by L2 only
            ["c"] = [0.2f, 0.1f],   // 0.1 is not < 0.1 → not replicated
            ["d"] = [0.3f, 0.4f],
        };
        var run = new ReplicationRun { TrainingImages = training, Channels = 3, Height = 8, Width = 8, Generations = 2 };
        var results = run.Run(levels.Keys.Select(k => new ReplicationCase(k, "verbatim")), (caption, g) => Enumerable.Repeat(levels[caption][g], 3 * 8 * 8).ToArray()).ToList();
        var point = SweepPoint.Summarize("prompt", 3, "prompt-3", results, [1.0, 0.5, 0.75, 0.25],
            [new(2.0, 9.0, 1.0), new(4.0, 9.0, 2.0), new(6.0, null, null), new(8.0, null, null)]); // anisotropy after recorded for two prompts

        Assert.Equal(0.5, point.ReplicationL2);      // a, b
        Assert.Equal(0.25, point.ReplicationSsim);   // a
        Assert.Equal((0.099f + 0.1f) / 2.0, point.MedianNearestL2, 6); // median of {0, 0.099, 0.1, 0.3}
        Assert.Equal(0.625, point.Fidelity!.Value, 12);
        Assert.Equal(5.0, point.SecondsPerPrompt, 12);
        Assert.Equal(1.5, point.ScoreAfter!.Value, 12);
        Assert.Equal(2, point.Generations);
        Assert.Equal([0.0, 0.099f, 0.1f, 0.3f], point.Captions.Select(c => c.MinL2).ToArray(), new ToleranceComparer(1e-6));
        var json = point.ToJson();
        Assert.Equal("target_loss", (string?)json["strength_name"]);
        Assert.Equal(2, (int)json["replicated_l2_count"]!);
        Assert.Equal(1, (int)json["replicated_ssim_count"]!);
        Assert.Equal("prompt,target_loss,3,4,2,0.5,0.25,0.0995,0.625,1.5,5,prompt-3", point.ToCsv());
    }

    sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(double obj) => 0;
    }

    [Fact]
    public void StrengthsParseAndEachPointIsTheTemplateWithOneKnobChanged()
    {
        var view = Tiny("tiny-sd1");
        Assert.Equal([1.0, 2.5, 3.0], SweepCurve.Parse("prompt:1, 2.5,3,1", view).Strengths); // duplicates dropped
        Assert.Equal([1.0, 2, 4, 6, 8], SweepCurve.Parse("random-tokens", view).Strengths);
        Assert.Equal([1.0, 2, 3, 4, 5], SweepCurve.Parse("prompt", view).Strengths);
        Assert.Contains("whole number", Assert.Throws<DejaException>(() => SweepCurve.Parse("random-tokens:1.5", view)).Message);
        Assert.Contains("not a number", Assert.Throws<DejaException>(() => SweepCurve.Parse("sail:x", view)).Message);
        Assert.Contains("deja-mini only", Assert.Throws<DejaException>(() => SweepCurve.Parse("sail", view)).Message); // no default off deja-mini
        Assert.Contains("unknown method", Assert.Throws<DejaException>(() => SweepCurve.Parse("magic:1", view)).Message);
        Assert.Contains("no strength", Assert.Throws<DejaException>(() => SweepCurve.Parse("none:1", view)).Message);

        var template = new MitigationRun
        {
            Model = view, Noise = InitialNoise.Seeded(view.LatentShape, 2, 7, SeedPolicy.Index), Steps = 3, Guidance = 5, TokenSeed = 11,
            Prompt = new PromptEmbeddingOptimization { LearningRate = 0.07, Iterations = 4, TargetLoss = 9, Steps = 3 },
            Sail = new Sail { Threshold = 8.2, Budget = 3, MaxRounds = 2, Steps = 3 },
            RandomTokens = new RandomTokenAugmentation { Kind = RandomTokenKind.NumberAdd, Repeat = 4 },
        };
        var prompt = MitigationSweep.At(template, MitigationMethod.Prompt, 2.5);
        Assert.Equal((MitigationMethod.Prompt, 2.5, 0.07, 4), (prompt.Method, prompt.Prompt.TargetLoss!.Value, prompt.Prompt.LearningRate, prompt.Prompt.Iterations));
        Assert.Equal(9, template.Prompt.TargetLoss); // the template is not changed
        var anisotropy = MitigationSweep.At(template, MitigationMethod.PromptAnisotropy, 1.5);
        Assert.Equal("anisotropy", (string?)anisotropy.Parameters()["loss"]);
        Assert.Equal(1.5, (double)anisotropy.Parameters()["optimizer"]!["target_loss"]!);
        var sail = MitigationSweep.At(template, MitigationMethod.Sail, 4.5);
        Assert.Equal((4.5, 3, 2), (sail.Sail.Threshold, sail.Sail.Budget, sail.Sail.MaxRounds));
        var tokens = MitigationSweep.At(template, MitigationMethod.RandomTokens, 6);
        Assert.Equal((6, RandomTokenKind.NumberAdd), (tokens.RandomTokens.Repeat, tokens.RandomTokens.Kind));
        var none = MitigationSweep.At(template, MitigationMethod.None, null);
        foreach (var r in new[] { prompt, anisotropy, sail, tokens, none })
            Assert.Equal((3, 5.0, 11L, template.Noise), (r.Steps, r.Guidance, r.TokenSeed, r.Noise)); // same noise, steps, guidance
        Assert.Equal("prompt-2.5", MitigationSweep.FolderName(MitigationMethod.Prompt, 2.5));
        Assert.Equal("none", MitigationSweep.FolderName(MitigationMethod.None, null));
    }

    static SweepPoint Point(string method, double? strength, double replication, double fidelity) =>
        new(method, strength, MitigationSweep.FolderName(MitigationRun.ParseMethod(method), strength))
        {
            Captions = [], ReplicationL2 = replication, Fidelity = fidelity,
        };

    [Fact]
    public void PlotHasOnePathPerSweptMethodThroughItsPoints()
    {
        SweepPoint[] points =
        [
            Point("none", null, 1.0, 0.9),
            Point("prompt", 1, 0.0, 0.6), Point("prompt", 3, 0.25, 0.7), Point("prompt", 5, 0.75, 0.85),
            Point("random-tokens", 2, 0.5, 0.8), Point("random-tokens", 8, 0.125, 0.5),
        ];
        var svg = XDocument.Parse(SweepSvg.Render(points, "t <&> title"));
        XNamespace ns = "http://www.w3.org/2000/svg";
        var paths = svg.Descendants(ns + "path").Where(p => (string?)p.Attribute("class") == "curve").ToList();
        Assert.Equal(["prompt", "random-tokens"], paths.Select(p => (string)p.Attribute("data-method")!));
        Assert.Equal(3, paths[0].Attribute("d")!.Value.Split('L').Length); // M + 2 L: three points
        Assert.Equal(5, svg.Descendants(ns + "circle").Count());
        Assert.Single(svg.Descendants(ns + "rect"), r => (string?)r.Attribute("class") == "baseline");
        // x: fidelity on an axis from 0.5 to 0.9 over 360 px from x = 70; y: replication over 360 px from y = 40
        var first = svg.Descendants(ns + "circle").First();
        Assert.Equal(70 + (0.6 - 0.5) / 0.4 * 360, double.Parse(first.Attribute("cx")!.Value, System.Globalization.CultureInfo.InvariantCulture), 2);
        Assert.Equal(40 + 360.0, double.Parse(first.Attribute("cy")!.Value, System.Globalization.CultureInfo.InvariantCulture), 2);
        var labels = svg.Descendants(ns + "text").Select(t => t.Value).ToList();
        Assert.Contains("t <&> title", labels);
        foreach (var s in new[] { "1", "3", "5", "2", "8" }) Assert.Contains(s, labels);
    }

    [Fact]
    public void AStoppedSweepResumesWithOnlyTheMissingPromptAndTheSameNumbers()
    {
        using var dir = new TempFolder();
        var view = Tiny("tiny-sd1");
        int size = view.Pipeline.DefaultImageSize!.Value;
        var synth = Path.Combine(dir.Path, "synth");
        SyntheticDataset.Create(synth, 3, new SynthOptions { Size = size, Verbatim = 2, VerbatimRepeats = 1, Templates = 1, TemplateImages = 2, TemplateRepeats = 1, Diverse = 2, Heldout = 1 });
        var data = SynthReplicationData.Load(synth, size);
        var prompts = data.Cases.Where(c => c.Kind == "verbatim").Select(c => c.Caption).ToList();
        // A small random judge that reads the tiny pipeline's images: fidelity is a deterministic function of the PNGs.
        var judge = new CaptionJudge(new JudgeNetwork(new JudgeConfig { ImageSize = size, Channels = [8, 8, 8], Strides = [2, 2, 2], CellChannels = 8, BackgroundHidden = 8 }, new Generator(4)));
        var template = new MitigationRun
        {
            Model = view, Noise = InitialNoise.Seeded(view.LatentShape, 1, 0, SeedPolicy.Index), Steps = 2, Scorer = null,
            Prompt = new PromptEmbeddingOptimization { Iterations = 1, Steps = 2 },
        };
        var sweep = new MitigationSweep { Template = template, Curves = [new SweepCurve(MitigationMethod.Prompt, [0.5, 1e9])], Data = data, Judge = judge };
        Assert.Equal([(MitigationMethod.None, null), (MitigationMethod.Prompt, 0.5), (MitigationMethod.Prompt, 1e9)], sweep.Points());
        string outDir = Path.Combine(dir.Path, "sweep");
        int calls = 0;
        var first = sweep.Run(prompts, outDir, (_, _) => calls++).ToList();
        Assert.Equal(3 * prompts.Count, calls);
        var svg = File.ReadAllText(Path.Combine(outDir, MitigationSweep.SvgFile));
        Assert.Single(XDocument.Parse(svg).Descendants(), e => (string?)e.Attribute("class") == "curve");
        Assert.Equal(3, File.ReadAllLines(Path.Combine(outDir, MitigationSweep.PointsFile)).Length);
        // A target of 1e9 is met before any update: the prompt point then generates exactly what none does.
        Assert.Equal(first[0].Captions.Select(c => c.MinL2), first[2].Captions.Select(c => c.MinL2));

        // "Crash" in the last point after its first prompt: its second prompt's rows are gone, no summaries yet.
        string last = Path.Combine(outDir, "prompt-1000000000");
        var rows = Path.Combine(last, MitigationOutput.RowsFile);
        File.WriteAllLines(rows, File.ReadAllLines(rows).Where(l => (int)JsonNode.Parse(l)!["index"]! == 0));
        File.Delete(Path.Combine(last, MitigationSweep.PointFile));
        File.Delete(Path.Combine(outDir, MitigationSweep.PointsFile));
        var resumed = new List<(string, int)>();
        var second = sweep.Run(prompts, outDir, (name, r) => resumed.Add((name, r.Index))).ToList();
        Assert.Equal([("prompt-1000000000", 1)], resumed);
        for (int i = 0; i < first.Count; i++)
        {
            static IEnumerable<SweepCaption> Measured(SweepPoint p) => p.Captions.Select(c => c with { Numbers = c.Numbers with { Seconds = null } }); // the rerun prompt's wall time differs
            Assert.Equal(Measured(first[i]), Measured(second[i]));
            Assert.Equal((first[i].ReplicationL2, first[i].MedianNearestL2, first[i].Fidelity), (second[i].ReplicationL2, second[i].MedianNearestL2, second[i].Fidelity));
        }
        Assert.True(File.Exists(Path.Combine(outDir, MitigationSweep.PointsFile)));
        // The same folder with another model option is refused, naming the parameters.
        var other = new MitigationSweep { Template = new MitigationRun { Model = view, Noise = template.Noise, Steps = 3, Scorer = null, Prompt = template.Prompt }, Curves = [], Data = data, Judge = judge };
        Assert.Contains("other parameters", Assert.Throws<DejaException>(() => other.Run(prompts, outDir).ToList()).Message);
    }

    sealed class TempFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("deja-sweep-").FullName;
        public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
    }
}
