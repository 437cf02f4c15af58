namespace Deja.Tensors.Tests;

/// <summary>
/// Tests that change the process-wide thread setting (Threading.Threads, and with it OpenBLAS's) run in
/// this collection: alone, after the parallel tests, so no other test sees its setting flip mid-run.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ThreadSensitive
{
    public const string Name = "thread-sensitive";
}
