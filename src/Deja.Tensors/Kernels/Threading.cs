namespace Deja.Tensors.Kernels;

/// <summary>
/// How many threads Deja's kernels use: env DEJA_THREADS, default = the number of cores.
/// OpenBLAS runs single-threaded inside Deja's loops (see <see cref="Gemm"/>), so the two never
/// oversubscribe the cores. Work is split into chunks whose boundaries do not depend on the thread
/// count, so results are the same for any setting.
/// </summary>
public static class Threading
{
    static int threads = Initial();
    static ParallelOptions options = new() { MaxDegreeOfParallelism = threads };

    static int Initial()
    {
        var env = Environment.GetEnvironmentVariable("DEJA_THREADS");
        if (env is not null && int.TryParse(env, out var n) && n > 0) return n;
        return Environment.ProcessorCount;
    }

    public static int Threads
    {
        get => threads;
        set
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(value), "Threads must be at least 1");
            threads = value;
            options = new ParallelOptions { MaxDegreeOfParallelism = value };
            Blas.SetThreads(value);
        }
    }

    /// <summary>Set on a thread while it runs a body of a parallel loop: loops started inside it (a
    /// partitioned GEMM inside an attention task) run inline instead of oversubscribing the cores.
    /// Their chunking is unchanged, so results are too.</summary>
    [ThreadStatic] static bool insideParallel;

    /// <summary>Runs body(i) for i in [0, count), in parallel when more than one thread is allowed.</summary>
    public static void For(int count, Action<int> body)
    {
        if (count <= 0) return;
        if (threads == 1 || count == 1 || insideParallel) { for (int i = 0; i < count; i++) body(i); return; }
        Parallel.For(0, count, options, i => Nested(body, i));
    }

    static void Nested(Action<int> body, int i)
    {
        bool outer = insideParallel;
        insideParallel = true;
        try { body(i); }
        finally { insideParallel = outer; }
    }

    /// <summary>
    /// Splits [0, length) into fixed-size chunks of <paramref name="chunk"/> (the last may be shorter)
    /// and runs body(start, end) on each; chunk boundaries never depend on the thread count.
    /// </summary>
    public static void Chunks(int length, int chunk, Action<int, int> body)
    {
        if (length <= 0) return;
        int n = (length + chunk - 1) / chunk;
        Action<int> run = c => body(c * chunk, Math.Min(length, (c + 1) * chunk));
        if (n == 1 || threads == 1 || insideParallel) { for (int c = 0; c < n; c++) run(c); return; }
        Parallel.For(0, n, options, c => Nested(run, c));
    }
}
