using Deja.Tensors.Kernels;

namespace Deja.Tensors.Tests.Support;

public static class ThreadCount
{
    /// <summary>Runs <paramref name="body"/> with the kernels limited to <paramref name="threads"/> threads, then restores the setting.</summary>
    public static T With<T>(int threads, Func<T> body)
    {
        int old = Threading.Threads;
        Threading.Threads = threads;
        try { return body(); }
        finally { Threading.Threads = old; }
    }
}
