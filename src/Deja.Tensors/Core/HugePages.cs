using System.Runtime.InteropServices;

namespace Deja.Tensors;

/// <summary>
/// Asks Linux to back large, not yet touched buffers with 2 MB pages. Loading a checkpoint writes
/// gigabytes into fresh memory, and the first write to each 4 KB page is a page fault; with
/// transparent huge pages in "madvise" mode (the common default) one fault maps 2 MB instead.
/// Measured on the 2-core development VM: first touch of 1 GiB 3.8 s → 2.2 s.
/// Purely advisory: any failure (other OS, THP disabled, old kernel) is ignored.
/// </summary>
public static unsafe partial class HugePages
{
    const int MadvHugePage = 14;
    const long HugePageBytes = 2L << 20;

    static bool unavailable = !OperatingSystem.IsLinux();

    /// <summary>Advises the whole 2 MB-aligned pages inside <paramref name="buffer"/>; smaller buffers are left alone.</summary>
    public static void Advise(Span<float> buffer)
    {
        if (unavailable || (long)buffer.Length * sizeof(float) < 2 * HugePageBytes) return;
        fixed (float* p = buffer)
        {
            long start = ((long)p + HugePageBytes - 1) & ~(HugePageBytes - 1);
            long end = ((long)p + (long)buffer.Length * sizeof(float)) & ~(HugePageBytes - 1);
            if (end <= start) return;
            try
            {
                if (madvise((nint)start, (nuint)(end - start), MadvHugePage) != 0) unavailable = true;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                unavailable = true;
            }
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int madvise(nint address, nuint length, int advice);
}
