namespace Deja.Memorization.Fuzzing;

/// <summary>
/// Runs one input at a time on a thread of its own, so a reader that hangs can be detected and left
/// behind (.NET cannot abort a thread) while the run goes on with a fresh worker.
/// </summary>
internal sealed class FuzzWorker
{
    readonly SemaphoreSlim work = new(0), done = new(0);
    Action? job;

    public FuzzWorker()
    {
        var thread = new Thread(Loop, maxStackSize: 16 << 20) { IsBackground = true, Name = "deja-fuzz" };
        thread.Start();
    }

    void Loop()
    {
        while (true)
        {
            work.Wait();
            job!();
            done.Release();
        }
    }

    /// <summary>Runs <paramref name="action"/> on the worker; false when it has not finished within <paramref name="timeout"/>.</summary>
    public bool Run(Action action, TimeSpan timeout)
    {
        job = action;
        work.Release();
        return done.Wait(timeout);
    }
}
