using Deja.Memorization.Fuzzing;
using Xunit.Abstractions;

namespace Deja.Memorization.Tests.Fuzzing;

/// <summary>Tests that set the process-wide thread count (the fuzzer keeps loads on one thread) run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ThreadSensitive
{
    public const string Name = "thread-sensitive";
}

/// <summary>
/// Issue 12 §4, the CI run: a small fixed-seed run of every target (the long run is `deja fuzz all
/// --count 100000`). Every input must be accepted or refused with a one-line DejaException naming the
/// file, within the time limit and the target's allocation bound, and a fair share of inputs must get
/// past the first check.
/// </summary>
[Collection(ThreadSensitive.Name)]
public class FuzzTests(ITestOutputHelper output)
{
    const int Inputs = 400;

    [Fact]
    public void EveryTargetAcceptsOrRefusesCleanly()
    {
        var results = FuzzRunner.Run(FuzzTargets.Create(), new FuzzOptions { Seed = 12, Count = Inputs });
        output.WriteLine(FuzzRunner.Table(results));
        Assert.Equal(FuzzTargets.Names.Count, results.Count);
        foreach (var r in results)
        {
            Assert.True(r.Failures.Count == 0, $"{r.Target}: {string.Join(" | ", r.Failures.Take(3).Select(f => $"input {f.Index}: {f.Kind}: {f.Detail}"))}");
            Assert.Equal(Inputs, r.Accepted + r.Refused);
            Assert.True(r.Accepted > 0 && r.Refused > 0, $"{r.Target}: {r.Accepted} accepted, {r.Refused} refused");
            Assert.True(r.DeeperShare >= 0.1, $"{r.Target}: only {r.DeeperShare:P0} of the inputs got {r.DeeperStage}");
        }
    }

    [Fact]
    public void InputsAreReproducibleOneByOne()
    {
        var target = FuzzTargets.Create("safetensors");
        var workDir = Directory.CreateTempSubdirectory("deja-fuzz-test-").FullName;
        try
        {
            var seeds = target.Prepare(workDir);
            var a = FuzzEngine.Input(target, seeds, seed: 5, index: 1234);
            Assert.Equal(a, FuzzEngine.Input(target, seeds, seed: 5, index: 1234));
            Assert.NotEqual(a, FuzzEngine.Input(target, seeds, seed: 6, index: 1234));
            Assert.Equal(seeds[0], FuzzEngine.Input(target, seeds, seed: 5, index: 0)); // the first inputs are the seeds themselves
        }
        finally { Directory.Delete(workDir, recursive: true); }
    }

    [Fact]
    public void UnknownTargetIsRefusedWithTheList()
    {
        var e = Assert.Throws<Deja.Tensors.DejaException>(() => FuzzTargets.Create("nope"));
        Assert.Contains("safetensors", e.Message);
    }
}
