using Deja.Memorization.Fuzzing;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Fuzzing;

/// <summary>The engine's own checks, on a target whose reader misbehaves on purpose.</summary>
public class FuzzEngineTests
{
    /// <summary>Reads a one-byte file whose value says how to misbehave.</summary>
    sealed class Misbehaving : FuzzTarget
    {
        public override string Name => "misbehaving";
        public override string DeeperStage => "past the first byte";
        public override string FileName => "input.bin";
        public override IReadOnlyList<FuzzMutation> Mutations => [];
        public override IReadOnlyList<byte[]> Prepare(string workDir) => [[0], [1], [2], [3], [4], [5]];
        public override long AllocationLimit(long inputBytes) => 1 << 20;

        public override void Consume(string path, FuzzProbe probe)
        {
            byte b = File.ReadAllBytes(path)[0];
            probe.Deeper();
            switch (b)
            {
                case 1: throw new DejaException($"{path}: refused");
                case 2: throw new InvalidOperationException("a bug");
                case 3: throw new DejaException("refused without saying which file");
                case 4: Thread.Sleep(300); break;
                case 5: GC.KeepAlive(new byte[8 << 20]); break;
            }
        }
    }

    [Fact]
    public void EachMisbehaviourIsReportedAsItsOwnKind()
    {
        var r = FuzzEngine.Run(new Misbehaving(), new FuzzOptions { Count = 6, TimeLimit = TimeSpan.FromMilliseconds(150) });
        Assert.Equal(6, r.Deeper);
        var kinds = r.Failures.ToDictionary(f => f.Index, f => f.Kind);
        Assert.Equal(FuzzFailureKind.SeedRefused, kinds[1]); // the inputs below the seed count are the seeds: they must be accepted
        Assert.Equal(FuzzFailureKind.UnexpectedException, kinds[2]);
        Assert.Equal(FuzzFailureKind.BadMessage, kinds[3]);
        Assert.Equal(FuzzFailureKind.TooSlow, kinds[4]);
        Assert.Equal(FuzzFailureKind.TooMuchAllocation, kinds[5]);
        Assert.Equal(1, r.Accepted);
        Assert.False(kinds.ContainsKey(0));
    }

    [Fact]
    public void AHangIsLeftBehindAndTheRunGoesOn()
    {
        var hang = new ManualResetEventSlim();
        var target = new Hanging(hang);
        var r = FuzzEngine.Run(target, new FuzzOptions { Count = 3, TimeLimit = TimeSpan.FromMilliseconds(100) });
        hang.Set();
        Assert.Equal([FuzzFailureKind.Hang], r.Failures.Select(f => f.Kind));
        Assert.Equal(2, r.Accepted);
    }

    sealed class Hanging(ManualResetEventSlim release) : FuzzTarget
    {
        public override string Name => "hanging";
        public override string DeeperStage => "-";
        public override string FileName => "input.bin";
        public override IReadOnlyList<FuzzMutation> Mutations => [];
        public override IReadOnlyList<byte[]> Prepare(string workDir) => [[0], [1], [0]];

        public override void Consume(string path, FuzzProbe probe)
        {
            if (File.ReadAllBytes(path)[0] == 1) release.Wait();
        }
    }
}
