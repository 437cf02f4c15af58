using System.Diagnostics;
using Deja.Tensors;

namespace Deja.Memorization.Fuzzing;

/// <summary>Settings of a fuzz run; the same settings give the same inputs.</summary>
public sealed record FuzzOptions
{
    public long Seed { get; init; } = 1;
    public long Count { get; init; } = 1000;
    /// <summary>Index of the first input (with Count = 1, reproduces one input of an earlier run).</summary>
    public long Start { get; init; }
    public TimeSpan TimeLimit { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Failing inputs are written here (with a .txt saying what went wrong); null keeps none.</summary>
    public string? CrashDirectory { get; init; }
    /// <summary>Called now and then with (inputs done, inputs in all).</summary>
    public Action<long, long>? Progress { get; init; }
}

/// <summary>
/// Mutates a target's valid inputs and reads each result the way Deja does, checking that every input
/// is either accepted or refused with a one-line <see cref="DejaException"/> naming the file, within the
/// time limit and without allocating more than the input justifies. Inputs below the seed count are the
/// unmutated seeds (a check of the harness); the others stack one to four mutations, structure-aware
/// ones (JSON values, safetensors header fields, PNG chunks with fixed CRCs, lines) most of the time so
/// that inputs get past the first check. Allocations are counted on the reading thread: run with
/// <see cref="Deja.Tensors.Kernels.Threading.Threads"/> = 1 (as <see cref="FuzzRunner"/> does) so loads do not fan out.
/// </summary>
public static class FuzzEngine
{
    const double StructuredShare = 0.7;

    public static FuzzCounts Run(FuzzTarget target, FuzzOptions options)
    {
        var workDir = Directory.CreateTempSubdirectory($"deja-fuzz-{target.Name}-").FullName;
        try { return Run(target, options, workDir); }
        finally
        {
            try { Directory.Delete(workDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    static FuzzCounts Run(FuzzTarget target, FuzzOptions options, string workDir)
    {
        var seeds = target.Prepare(workDir);
        var path = Path.Combine(workDir, target.FileName);
        var failures = new List<FuzzFailure>();
        long accepted = 0, refused = 0, deeper = 0, largest = 0;
        var slowest = TimeSpan.Zero;
        var worker = new FuzzWorker();
        var clock = Stopwatch.StartNew();
        for (long n = 0; n < options.Count; n++)
        {
            long index = options.Start + n;
            var input = Input(target, seeds, options.Seed, index);
            File.WriteAllBytes(path, input);
            var result = new Attempt();
            bool finished = worker.Run(() => result = Attempt.Of(target, path), 3 * options.TimeLimit);
            if (!finished)
            {
                failures.Add(Fail(options, target, index, input, FuzzFailureKind.Hang, $"not finished after {3 * options.TimeLimit.TotalSeconds:F0} s"));
                worker = new FuzzWorker(); // the stuck thread is left behind
                continue;
            }
            if (result.Deeper) deeper++;
            if (result.Elapsed > slowest) slowest = result.Elapsed;
            largest = Math.Max(largest, result.Allocated);
            var failure = Check(target, options, path, index, input, seeds.Count, result);
            if (failure is not null) failures.Add(failure);
            else if (result.Error is null) accepted++;
            else refused++;
            if (n % 1000 == 999) options.Progress?.Invoke(n + 1, options.Count);
        }
        return new FuzzCounts(target.Name, target.DeeperStage, options.Seed, options.Count, accepted, refused, deeper,
                              failures, clock.Elapsed, slowest, largest);
    }

    /// <summary>Input <paramref name="index"/>: a seed as it is, or a seed with mutations stacked on it.</summary>
    public static byte[] Input(FuzzTarget target, IReadOnlyList<byte[]> seeds, long seed, long index)
    {
        if (index < seeds.Count) return seeds[(int)index];
        var random = FuzzRandom.ForInput(seed, target.Name, index);
        var input = seeds[random.Next(seeds.Count)];
        int stack = random.Chance(0.6) ? 1 : random.Between(2, 4);
        for (int k = 0; k < stack; k++)
        {
            bool structured = target.Mutations.Count > 0 && random.Chance(StructuredShare);
            var mutated = structured ? Apply(random.Pick(target.Mutations), input, random) : null;
            input = mutated ?? Apply(random.Pick(ByteMutations.All), input, random) ?? input;
        }
        return input;
    }

    /// <summary>
    /// A structure-aware mutation may meet an input an earlier mutation made unparsable in ways its parser
    /// reports late (a JSON object with a duplicated key throws when enumerated), or values its arithmetic
    /// cannot hold: then it does not apply. A bug in a mutation must not end a long run; it only costs
    /// that mutation (the input falls back to a byte mutation).
    /// </summary>
    static byte[]? Apply(FuzzMutation mutation, byte[] input, FuzzRandom random)
    {
        try { return mutation(input, random); }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or ArithmeticException
                                      or System.Text.Json.JsonException or IndexOutOfRangeException) { return null; }
    }

    /// <summary>The outcome of reading one input, measured on the reading thread.</summary>
    sealed class Attempt
    {
        public Exception? Error;
        public bool Deeper;
        public TimeSpan Elapsed;
        public long Allocated;

        public static Attempt Of(FuzzTarget target, string path)
        {
            var attempt = new Attempt();
            var probe = new FuzzProbe();
            long before = GC.GetAllocatedBytesForCurrentThread();
            var clock = Stopwatch.StartNew();
            try { target.Consume(path, probe); }
            catch (Exception e) { attempt.Error = e; }
            attempt.Elapsed = clock.Elapsed;
            attempt.Allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            attempt.Deeper = probe.ReachedDeeperStage;
            return attempt;
        }
    }

    static FuzzFailure? Check(FuzzTarget target, FuzzOptions options, string path, long index, byte[] input, int seedCount, Attempt result)
    {
        FuzzFailure Failed(FuzzFailureKind kind, string detail) => Fail(options, target, index, input, kind, detail);
        if (result.Error is { } error && error is not DejaException)
            return Failed(FuzzFailureKind.UnexpectedException, $"{error.GetType().FullName}: {error.Message}\n{error.StackTrace}");
        if (result.Error is DejaException refusal && MessageProblem(target, refusal.Message, path) is { } problem)
            return Failed(FuzzFailureKind.BadMessage, $"{problem}: {refusal.Message}");
        if (result.Error is not null && index < seedCount)
            return Failed(FuzzFailureKind.SeedRefused, result.Error.Message);
        if (result.Elapsed > options.TimeLimit)
            return Failed(FuzzFailureKind.TooSlow, $"{result.Elapsed.TotalSeconds:F1} s");
        long limit = target.AllocationLimit(input.Length);
        if (result.Allocated > limit)
            return Failed(FuzzFailureKind.TooMuchAllocation, $"{result.Allocated} bytes allocated for a {input.Length}-byte input (limit {limit})" +
                                                             (result.Error is null ? "" : $"; then refused: {result.Error.Message}"));
        return null;
    }

    /// <summary>Why a refusal message is not what users are promised (one line naming the file or its folder), or null.</summary>
    static string? MessageProblem(FuzzTarget target, string message, string path)
    {
        if (string.IsNullOrWhiteSpace(message)) return "empty message";
        if (message.Contains('\n') || message.Contains('\r')) return "message spans lines";
        if (!target.NamesTheInput(message, path)) return "message names neither the file nor its folder";
        return null;
    }

    static FuzzFailure Fail(FuzzOptions options, FuzzTarget target, long index, byte[] input, FuzzFailureKind kind, string detail)
    {
        string? saved = null;
        if (options.CrashDirectory is { } dir)
        {
            Directory.CreateDirectory(dir);
            saved = Path.Combine(dir, $"{target.Name}-seed{options.Seed}-{index}{Path.GetExtension(target.FileName)}");
            File.WriteAllBytes(saved, input);
            File.WriteAllText(saved + ".txt", $"deja fuzz {target.Name} --seed {options.Seed} --start {index} --count 1\n{kind}: {detail}\n");
        }
        return new FuzzFailure(index, kind, detail, saved);
    }
}
