using Deja.Memorization.Detection;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Detection;

/// <summary>Issue 15 §3: how a scan is split into shards, and how --shard auto reads Kubernetes' and Slurm's variables.</summary>
public class ShardTests
{
    static Func<string, string?> Env(params (string Name, string Value)[] vars) =>
        name => vars.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void ShardsAreContiguousBatchAlignedAndCoverEveryPromptOnce()
    {
        // 21 prompts in batches of 4 = 6 batches (the last of 1 prompt); 3 shards get batches {0,1}, {2,3}, {4,5}.
        Assert.Equal((0, 8), new Shard(0, 3).Range(21, 4));
        Assert.Equal((8, 16), new Shard(1, 3).Range(21, 4));
        Assert.Equal((16, 21), new Shard(2, 3).Range(21, 4));
        // 10 batches of 1 over 4 shards: ⌊10i/4⌋ = 0, 2, 5, 7, 10.
        Assert.Equal(new[] { (0, 2), (2, 5), (5, 7), (7, 10) }, Enumerable.Range(0, 4).Select(i => new Shard(i, 4).Range(10, 1)));
        // More shards than batches: some shards are empty, none overlaps.
        Assert.Equal(new[] { (0, 0), (0, 8), (8, 8), (8, 9) }, Enumerable.Range(0, 4).Select(i => new Shard(i, 4).Range(9, 8)));

        foreach (var (prompts, batch, count) in new[] { (1000, 8, 7), (13, 5, 13), (1, 1, 3), (0, 4, 2), (97, 96, 2) })
        {
            var ranges = Enumerable.Range(0, count).Select(i => new Shard(i, count).Range(prompts, batch)).ToList();
            Assert.Equal(0, ranges[0].Start);
            Assert.Equal(prompts, ranges[^1].End);
            for (int i = 0; i < count; i++)
            {
                Assert.True(ranges[i].Start % batch == 0 || ranges[i].Start == prompts, $"shard {i} of {count} starts at {ranges[i].Start}");
                if (i > 0) Assert.Equal(ranges[i - 1].End, ranges[i].Start);
            }
            // Balanced: shard sizes in whole batches differ by at most one.
            var sizes = ranges.Select(r => (r.End - r.Start + batch - 1) / batch).ToList();
            Assert.True(sizes.Max() - sizes.Min() <= 1, string.Join(",", sizes));
        }
    }

    [Fact]
    public void ExplicitShardsParse()
    {
        Assert.Equal(new Shard(2, 5), Shard.Parse(" 2/5 ", null, Env()));
        Assert.Equal(new Shard(0, 1), Shard.Parse("0/1", null, Env()));
        Assert.Contains("must be i/n", Assert.Throws<DejaException>(() => Shard.Parse("2", null, Env())).Message);
        Assert.Contains("must be i/n", Assert.Throws<DejaException>(() => Shard.Parse("a/b", null, Env())).Message);
        Assert.Equal("--shard 5/5: shard index 5 is outside 0 … 4", Assert.Throws<DejaException>(() => Shard.Parse("5/5", null, Env())).Message);
        Assert.Contains("at least 1", Assert.Throws<DejaException>(() => Shard.Parse("0/0", null, Env())).Message);
        Assert.Contains("--shards is only read with --shard auto", Assert.Throws<DejaException>(() => Shard.Parse("0/2", 2, Env())).Message);
    }

    [Fact]
    public void AutoReadsAKubernetesIndexedJob()
    {
        Assert.Equal(new Shard(3, 4), Shard.Parse("auto", null, Env(("JOB_COMPLETION_INDEX", "3"), ("DEJA_SHARDS", "4"))));
        // --shards wins over the variable.
        Assert.Equal(new Shard(3, 8), Shard.Parse("auto", 8, Env(("JOB_COMPLETION_INDEX", "3"), ("DEJA_SHARDS", "4"))));
        Assert.Contains("give --shards N or set DEJA_SHARDS", Assert.Throws<DejaException>(() => Shard.Parse("auto", null, Env(("JOB_COMPLETION_INDEX", "0")))).Message);
        Assert.Contains("shard index 4 is outside 0 … 3",
            Assert.Throws<DejaException>(() => Shard.Parse("auto", null, Env(("JOB_COMPLETION_INDEX", "4"), ("DEJA_SHARDS", "4")))).Message);
        Assert.Contains("DEJA_SHARDS must be an integer",
            Assert.Throws<DejaException>(() => Shard.Parse("auto", null, Env(("JOB_COMPLETION_INDEX", "0"), ("DEJA_SHARDS", "four")))).Message);
    }

    [Fact]
    public void AutoReadsASlurmArray()
    {
        // --array=1-4: task ids 1 … 4, min 1, count 4 → shards 0 … 3.
        Assert.Equal(new Shard(2, 4), Shard.Parse("AUTO", null, Env(("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "4"))));
        // --array=0-30:10: ids 0, 10, 20, 30, step 10 → id 20 is shard 2 of 4.
        Assert.Equal(new Shard(2, 4), Shard.Parse("auto", null, Env(("SLURM_ARRAY_TASK_ID", "20"), ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "4"), ("SLURM_ARRAY_TASK_STEP", "10"))));
        Assert.Contains("SLURM_ARRAY_TASK_MIN is not", Assert.Throws<DejaException>(() => Shard.Parse("auto", null, Env(("SLURM_ARRAY_TASK_ID", "3")))).Message);
        // A sparse array (--array=1,5,9) has no step that maps its ids onto 0 … count − 1.
        Assert.Contains("outside 0 … 2", Assert.Throws<DejaException>(() =>
            Shard.Parse("auto", null, Env(("SLURM_ARRAY_TASK_ID", "9"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "3")))).Message);
        Assert.Contains("neither JOB_COMPLETION_INDEX", Assert.Throws<DejaException>(() => Shard.Parse("auto", null, Env())).Message);
    }
}
