using Deja.Cli.Tests.Support;

namespace Deja.Cli.Tests;

/// <summary>
/// Issue 15 §3: a scan split with deja detect --shard (explicit, a Kubernetes Indexed Job's variables, a
/// Slurm array's) and joined with deja merge equals the unsharded run byte for byte. Every shard is a
/// separate deja process on the tiny SD1 pipeline, as the scheduler would start it.
/// </summary>
public class ShardMergeTests
{
    // 10 prompts in batches of 3: batches {0-2}, {3-5}, {6-8}, {9}; the shards must keep exactly these.
    static string[] Detect(string shard, string output) =>
        ["detect", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompts", "prompts.txt", "--batch", "3", "--shard", shard, "--out", output];

    static readonly TimeSpan Minutes = TimeSpan.FromMinutes(3);

    static TempDir Folder()
    {
        var dir = new TempDir();
        File.WriteAllLines(dir.File("prompts.txt"), Enumerable.Range(0, 10).Select(i => $"a photo of thing number {i}"));
        return dir;
    }

    static void Ok(DejaResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    [Fact]
    public void ShardsFromEveryKindOfSchedulerMergeIntoTheUnshardedFileByteForByte()
    {
        using var dir = Folder();
        Ok(Support.Deja.Run(dir.Path, "detect", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompts", "prompts.txt", "--batch", "3", "--out", "full.jsonl"));
        var full = File.ReadAllBytes(dir.File("full.jsonl"));

        // Explicit i/n, 2 shards: prompts 0-5 and 6-9.
        for (int i = 0; i < 2; i++)
        {
            var r = Support.Deja.Run(dir.Path, Detect($"{i}/2", $"explicit-{i}.jsonl"));
            Ok(r);
            Assert.Contains(i == 0 ? "shard 0/2: prompts 0 … 5 of 10 (6 prompts)" : "shard 1/2: prompts 6 … 9 of 10 (4 prompts)", r.Error);
        }
        // A Kubernetes Indexed Job of 3 completions: JOB_COMPLETION_INDEX, and DEJA_SHARDS from the manifest.
        for (int i = 0; i < 3; i++)
            Ok(Support.Deja.Run(dir.Path, Minutes, new Dictionary<string, string?> { ["JOB_COMPLETION_INDEX"] = $"{i}", ["DEJA_SHARDS"] = "3" },
                Detect("auto", $"k8s-{i}.jsonl")));
        // A Slurm array --array=1-3 (task ids 1 … 3).
        for (int id = 1; id <= 3; id++)
            Ok(Support.Deja.Run(dir.Path, Minutes, new Dictionary<string, string?>
                { ["SLURM_ARRAY_TASK_ID"] = $"{id}", ["SLURM_ARRAY_TASK_MIN"] = "1", ["SLURM_ARRAY_TASK_COUNT"] = "3" }, Detect("auto", $"slurm-{id}.jsonl")));
        // Kubernetes and Slurm split alike: shard i of 3 has the same rows either way.
        for (int i = 0; i < 3; i++) Assert.Equal(File.ReadAllBytes(dir.File($"k8s-{i}.jsonl")), File.ReadAllBytes(dir.File($"slurm-{i + 1}.jsonl")));
        // 4 batches over 3 shards: shard i gets batches ⌊4i/3⌋ … ⌊4(i+1)/3⌋ − 1, i.e. {0}, {1}, {2, 3}: 3, 3 and 4 prompts.
        Assert.Equal([3, 3, 4], Enumerable.Range(0, 3).Select(i => File.ReadAllLines(dir.File($"k8s-{i}.jsonl")).Length));

        foreach (var kind in new[] { "explicit", "k8s" })
        {
            // Shards given in reverse order: the merge sorts by index.
            var parts = Directory.GetFiles(dir.Path, $"{kind}-*.jsonl").Order().Reverse().Select(Path.GetFileName).ToArray();
            var merged = Support.Deja.Run(dir.Path, ["merge", "--out", $"{kind}.jsonl", "--prompts", "prompts.txt", .. parts!]);
            Ok(merged);
            Assert.StartsWith($"merged 10 rows from {parts.Length} file(s) into {kind}.jsonl: prompts 0 … 9, method anisotropy, model tiny-sd1", merged.Out);
            Assert.Equal(full, File.ReadAllBytes(dir.File($"{kind}.jsonl")));
        }
    }

    [Fact]
    public void MergeNamesMissingShardsAndRefusesOtherRuns()
    {
        using var dir = Folder();
        Ok(Support.Deja.Run(dir.Path, Detect("0/3", "s0.jsonl")));
        Ok(Support.Deja.Run(dir.Path, Detect("2/3", "s2.jsonl")));

        // Shard 1 (prompts 3-5) never ran, and without --prompts the end of the list is unknown.
        var missing = Support.Deja.Run(dir.Path, "merge", "--out", "merged.jsonl", "s0.jsonl", "s2.jsonl", "s2.jsonl");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("deja: merge: 3 prompt(s) have no row: 3 … 5; run the shards that cover them", missing.Error);
        Assert.Contains("deja merge: 4 prompt(s) had the same row more than once (kept once): 6 … 9", missing.Error);
        Assert.False(File.Exists(dir.File("merged.jsonl")));
        var allowed = Support.Deja.Run(dir.Path, "merge", "--out", "merged.jsonl", "--allow-missing", "s0.jsonl", "s2.jsonl");
        Ok(allowed);
        Assert.Equal(7, File.ReadAllLines(dir.File("merged.jsonl")).Length);

        // A shard of another method is not part of this run.
        Ok(Support.Deja.Run(dir.Path, [.. Detect("1/3", "s1-magnitude.jsonl"), "--method", "magnitude"]));
        var mixed = Support.Deja.Run(dir.Path, "merge", "--out", "merged.jsonl", "s0.jsonl", "s1-magnitude.jsonl", "s2.jsonl");
        Assert.Equal(1, mixed.ExitCode);
        Assert.Contains("were scored with different methods: \"anisotropy\" vs \"magnitude\"; the files are not shards of one run", mixed.Error);

        // A shard's file is that shard's: resuming shard 1 into shard 0's file is refused.
        var wrongFile = Support.Deja.Run(dir.Path, Detect("1/3", "s0.jsonl"));
        Assert.Equal(1, wrongFile.ExitCode);
        Assert.Contains("s0.jsonl has a row for prompt 0, outside shard 1/3 (prompts 3 … 5 at --batch 3)", wrongFile.Error);
        // --shard auto outside a scheduler says what it looked for.
        var noScheduler = Support.Deja.Run(dir.Path, Minutes, new Dictionary<string, string?>
            { ["JOB_COMPLETION_INDEX"] = null, ["SLURM_ARRAY_TASK_ID"] = null }, Detect("auto", "x.jsonl"));
        Assert.Equal(1, noScheduler.ExitCode);
        Assert.Contains("neither JOB_COMPLETION_INDEX (Kubernetes Indexed Job) nor SLURM_ARRAY_TASK_ID (Slurm job array) is set", noScheduler.Error);
    }
}
