using Deja.Diffusion.Pipelines;
using Deja.Memorization.Detection;
using Deja.Memorization.Evaluation;
using Deja.Memorization.Models;
using Deja.Tensors.Kernels;

namespace Deja.Memorization.Tests.Detection;

/// <summary>Changes the process-wide thread count: runs alone, after the parallel tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ThreadSensitive
{
    public const string Name = "thread-sensitive";
}

/// <summary>
/// The determinism contract (README; <see cref="DeterminismContract"/>) exactly as written, on the bundled
/// deja-mini with all three detectors: bit-identical across thread counts, within the stated tolerance
/// across batch sizes, and — in every CI leg (AVX-512, AVX2, managed BLAS, no intrinsics) — within it
/// against scores recorded on an AVX-512 machine with OpenBLAS (testdata/determinism).
/// </summary>
[Collection(ThreadSensitive.Name)]
public class DeterminismContractTests
{
    static readonly string[] Prompts = File.ReadAllLines(Path.Combine(TestData.Root, "determinism", "prompts.txt"));

    static StableDiffusionView? view;
    static StableDiffusionView View => view ??= new StableDiffusionView(StableDiffusionPipeline.Load(DejaMini()));

    static string DejaMini()
    {
        var repo = Directory.GetParent(TestData.Root)!.FullName;
        return Path.Combine(repo, "data", "models", "deja-mini");
    }

    /// <summary>Scores per prompt index and column: what `deja detect --method all --n 2` writes.</summary>
    static Dictionary<int, IReadOnlyDictionary<string, double>> Scores(int batch, int threads)
    {
        int saved = Threading.Threads;
        try
        {
            Threading.Threads = threads;
            var run = new DetectionRun
            {
                Model = View, BatchSize = batch,
                Detectors = [new AnisotropyDetector(), new MagnitudeDetector(), new SharpnessDetector()],
                Noise = InitialNoise.Seeded(View.LatentShape, 2, 51, SeedPolicy.Same),
            };
            return run.Run(Prompts).SelectMany(rows => rows).ToDictionary(r => r.Index, r => r.Scores);
        }
        finally { Threading.Threads = saved; }
    }

    /// <summary>The reference run (batch 8, 2 threads), shared by the three tests.</summary>
    static readonly Lazy<Dictionary<int, IReadOnlyDictionary<string, double>>> Reference = new(() => Scores(batch: 8, threads: 2));

    [Fact]
    public void ThreadCountGivesBitIdenticalScores()
    {
        var one = Reference.Value;
        foreach (int threads in new[] { 1, 3 })
        {
            var other = Scores(batch: 8, threads);
            foreach (var (i, row) in one)
                foreach (var (column, v) in row)
                    Assert.True(BitConverter.DoubleToInt64Bits(v) == BitConverter.DoubleToInt64Bits(other[i][column]),
                        $"prompt {i} {column}: 2 threads {v:R}, {threads} threads {other[i][column]:R}");
        }
    }

    [Fact]
    public void BatchSizeChangesScoresOnlyWithinTheContract()
    {
        AssertAgree(Reference.Value, Scores(batch: 1, threads: 2), "batch 8 vs 1");
    }

    [Fact]
    public void ScoresOnThisCpuAgreeWithTheRecordedAvx512Scores()
    {
        var recorded = ScoresFile.Read(Path.Combine(TestData.Root, "determinism", "deja-mini-avx512.jsonl"))
            .ToDictionary(r => r.Index, r => (IReadOnlyDictionary<string, double>)r.Scores);
        AssertAgree(recorded, Reference.Value, $"recorded AVX-512 vs this CPU ({Simd.Describe()}, BLAS {Blas.CoreName})");
    }

    static void AssertAgree(Dictionary<int, IReadOnlyDictionary<string, double>> expected, Dictionary<int, IReadOnlyDictionary<string, double>> actual, string what)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (i, row) in expected)
            foreach (var (column, v) in row)
                Assert.True(DeterminismContract.Agree(column, v, actual[i][column]),
                    $"{what}: prompt {i} {column}: {v:R} vs {actual[i][column]:R} (tolerance {DeterminismContract.Tolerance(column)})");
    }
}
