using Deja.Memorization.Detection;
using Deja.Memorization.Evaluation;
using Deja.Memorization.Models;

namespace Deja.Memorization.Tests.Detection;

/// <summary>The detect → score file → evaluate path of `deja detect` and `deja eval`, on the analytic model.</summary>
public class DetectThenEvaluateTests
{
    [Fact]
    public void PlantedMemorizationIsFoundThroughScoreFiles()
    {
        var model = GaussianMixtureDemo.Create(seed: 41, memorized: 6, partial: 0, normal: 12);
        var dir = Directory.CreateTempSubdirectory("deja-detect-").FullName;
        try
        {
            IReadOnlyList<ScoreRow> Detect(MemorizationKind kind, string file)
            {
                var prompts = model.Conditions.Where(c => c.Kind == kind).Select(c => c.Prompt).ToList();
                var run = new DetectionRun { Model = model, Detectors = [new AnisotropyDetector(), new MagnitudeDetector()], Noise = InitialNoise.Seeded(model.LatentShape, 2, 51, SeedPolicy.Same), BatchSize = 5 };
                var path = Path.Combine(dir, file);
                string parameters = run.Parameters().ToJsonString();
                using (var writer = ScoresFile.OpenForAppend(path, model.Id, run.Method, parameters))
                    foreach (var rows in run.Run(prompts))
                        writer.AppendBatch(rows.Select(r => new ScoreRow
                        {
                            Index = r.Index, Prompt = r.Prompt, Method = run.Method, Scores = new OrderedDictionary<string, double>(r.Scores),
                            ParamsJson = parameters, ModelJson = $$"""{"id":"{{model.Id}}"}""",
                        }).ToList());
                return ScoresFile.Read(path);
            }
            var report = ScoreEvaluation.Evaluate(Detect(MemorizationKind.Memorized, "mem.jsonl"), Detect(MemorizationKind.Normal, "nonmem.jsonl"),
                new ScoreEvaluationSettings { Options = new EvaluationOptions { BootstrapResamples = 200 } });
            Assert.Equal(["anisotropy", "anisotropy_norm", "anisotropy_cosine", "magnitude"], report.Columns.Select(c => c.Column));
            Assert.All(report.Columns, c => Assert.Equal(1.0, c.Result.Point.Auc));
        }
        finally { Directory.Delete(dir, true); }
    }
}
