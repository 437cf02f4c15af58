using System.Globalization;
using Deja.Tensors;

namespace Deja.Memorization.Detection;

/// <summary>
/// One part of a scan split over machines: shard <see cref="Index"/> (0-based) of <see cref="Count"/>.
/// A shard scores a contiguous range of prompt indices whose boundaries are multiples of the batch
/// size, so every batch it runs is a batch of the unsharded run (same prompts, same model call); the
/// rows keep their global index, and the merged shards equal the unsharded file bit for bit.
/// </summary>
public sealed record Shard(int Index, int Count)
{
    /// <summary>Kubernetes Indexed Jobs give each pod its index in this variable.</summary>
    public const string KubernetesIndex = "JOB_COMPLETION_INDEX";
    /// <summary>The shard count a Kubernetes manifest sets (an Indexed Job does not tell the pod its completions).</summary>
    public const string ShardsVariable = "DEJA_SHARDS";
    public const string SlurmTaskId = "SLURM_ARRAY_TASK_ID", SlurmTaskMin = "SLURM_ARRAY_TASK_MIN", SlurmTaskCount = "SLURM_ARRAY_TASK_COUNT",
        SlurmTaskStep = "SLURM_ARRAY_TASK_STEP";

    /// <summary>
    /// The prompt indices [Start, End) of this shard among <paramref name="prompts"/> scored in batches of
    /// <paramref name="batch"/>: the ⌈prompts / batch⌉ batches are dealt out in contiguous runs whose
    /// lengths differ by at most one batch (shard i gets batches ⌊i·B/n⌋ … ⌊(i+1)·B/n⌋ − 1). A shard
    /// can be empty when there are fewer batches than shards; it then writes no rows.
    /// </summary>
    public (int Start, int End) Range(int prompts, int batch)
    {
        if (prompts < 0) throw new ArgumentOutOfRangeException(nameof(prompts));
        if (batch < 1) throw new DejaException($"--batch must be at least 1, got {batch}");
        long batches = (prompts + (long)batch - 1) / batch;
        long first = batches * Index / Count, last = batches * (Index + 1) / Count;
        return ((int)Math.Min(prompts, first * batch), (int)Math.Min(prompts, last * batch));
    }

    public override string ToString() => $"{Index}/{Count}";

    /// <summary>
    /// Reads --shard: "i/n" (0 ≤ i &lt; n), or "auto", which takes the shard from the scheduler's
    /// environment: a Kubernetes Indexed Job's <c>JOB_COMPLETION_INDEX</c> with the count from
    /// <paramref name="shards"/> (--shards) or <c>DEJA_SHARDS</c>; else a Slurm job array's
    /// <c>(SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP</c> of <c>SLURM_ARRAY_TASK_COUNT</c>.
    /// <paramref name="environment"/> looks up a variable (null when unset), so tests need no real scheduler.
    /// </summary>
    public static Shard Parse(string spec, int? shards, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec = spec.Trim();
        if (shards is < 1) throw new DejaException($"--shards must be at least 1, got {shards}");
        if (spec.Equals("auto", StringComparison.OrdinalIgnoreCase)) return FromEnvironment(shards, environment);
        if (shards is not null) throw new DejaException("--shards is only read with --shard auto (with --shard i/n the count is n)");
        var parts = spec.Split('/');
        if (parts.Length != 2 || !TryInt(parts[0], out int index) || !TryInt(parts[1], out int count))
            throw new DejaException($"--shard must be i/n (0-based shard i of n, e.g. 0/4) or auto, got '{spec}'");
        return Checked(index, count, $"--shard {spec}");
    }

    static Shard FromEnvironment(int? shards, Func<string, string?> environment)
    {
        if (environment(KubernetesIndex) is { } k8sIndex)
        {
            int index = Int(k8sIndex, KubernetesIndex);
            int count = shards ?? (environment(ShardsVariable) is { } s ? Int(s, ShardsVariable)
                : throw new DejaException($"--shard auto: {KubernetesIndex} is set (a Kubernetes Indexed Job) but the shard count is not: " +
                    $"give --shards N or set {ShardsVariable} (the Job's completions)"));
            return Checked(index, count, $"--shard auto ({KubernetesIndex}={k8sIndex}, {(shards is null ? ShardsVariable : "--shards")}={count})");
        }
        if (environment(SlurmTaskId) is { } slurmId)
        {
            int id = Int(slurmId, SlurmTaskId);
            int min = environment(SlurmTaskMin) is { } m ? Int(m, SlurmTaskMin)
                : throw new DejaException($"--shard auto: {SlurmTaskId} is set but {SlurmTaskMin} is not (run under sbatch --array)");
            int count = shards ?? (environment(SlurmTaskCount) is { } c ? Int(c, SlurmTaskCount)
                : throw new DejaException($"--shard auto: {SlurmTaskId} is set but {SlurmTaskCount} is not (run under sbatch --array)"));
            // An array with a step (--array=0-30:10) numbers its tasks min, min + step, …: shard (id − min) / step.
            int step = environment(SlurmTaskStep) is { } st ? Int(st, SlurmTaskStep) : 1;
            if (step < 1 || (id - min) % step != 0)
                throw new DejaException($"--shard auto: {SlurmTaskId}={slurmId} is not {SlurmTaskMin}={min} plus a multiple of {SlurmTaskStep}={step}");
            return Checked((id - min) / step, count, $"--shard auto ({SlurmTaskId}={slurmId}, {SlurmTaskMin}={min}, {SlurmTaskCount}={count})");
        }
        throw new DejaException($"--shard auto: neither {KubernetesIndex} (Kubernetes Indexed Job) nor {SlurmTaskId} (Slurm job array) is set; " +
            "give --shard i/n instead");
    }

    static Shard Checked(int index, int count, string source)
    {
        if (count < 1) throw new DejaException($"{source}: the shard count must be at least 1, got {count}");
        if (index < 0 || index >= count) throw new DejaException($"{source}: shard index {index} is outside 0 … {count - 1}");
        return new Shard(index, count);
    }

    static int Int(string text, string name) =>
        TryInt(text, out int value) ? value : throw new DejaException($"--shard auto: {name} must be an integer, got '{text}'");

    static bool TryInt(string text, out int value) =>
        int.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
}
