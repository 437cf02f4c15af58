namespace Deja.Tensors;

/// <summary>
/// Keeps large float buffers for reuse. Fresh large arrays cost page faults (the kernel hands out
/// zeroed pages one fault at a time) and .NET zeroes them too; an SD UNet forward allocates the
/// same few sizes over and over, so recycling them removes both costs.
/// Sizes are rounded up to classes with at most 1/8 waste so near-equal requests share buffers.
/// Small buffers are not pooled: the GC's bump allocator is already cheap for them.
/// </summary>
public static class BufferPool
{
    /// <summary>Buffers below this many floats come straight from the GC.</summary>
    public const int MinPooledLength = 16 * 1024;

    static readonly object Gate = new();
    static readonly Dictionary<int, Stack<float[]>> Free = new();
    static long retainedBytes;
    static long outstandingBytes, peakOutstandingBytes;

    /// <summary>The most idle bytes the pool keeps; returns beyond it are left to the GC.
    /// Default: half the machine's memory, overridable with DEJA_POOL_MB.</summary>
    public static long MaxRetainedBytes { get; set; } = DefaultMaxRetained();

    /// <summary>Bytes currently idle in the pool.</summary>
    public static long RetainedBytes { get { lock (Gate) return retainedBytes; } }

    /// <summary>Bytes of pooled-size buffers rented and not yet returned (live tensors and scratch).</summary>
    public static long OutstandingBytes => Interlocked.Read(ref outstandingBytes);

    /// <summary>The most <see cref="OutstandingBytes"/> since the last <see cref="ResetPeak"/>: the
    /// memory the work itself needed, apart from what the pool keeps idle.</summary>
    public static long PeakOutstandingBytes => Interlocked.Read(ref peakOutstandingBytes);

    /// <summary>Starts a new peak measurement at the current outstanding bytes.</summary>
    public static void ResetPeak() => Interlocked.Exchange(ref peakOutstandingBytes, Interlocked.Read(ref outstandingBytes));

    static void CountRent(int cls)
    {
        long now = Interlocked.Add(ref outstandingBytes, (long)cls * 4);
        long peak;
        while (now > (peak = Interlocked.Read(ref peakOutstandingBytes)) &&
               Interlocked.CompareExchange(ref peakOutstandingBytes, now, peak) != peak) { }
    }

    static long DefaultMaxRetained()
    {
        var env = Environment.GetEnvironmentVariable("DEJA_POOL_MB");
        if (env is not null && long.TryParse(env, out var mb) && mb >= 0) return mb << 20;
        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2;
    }

    /// <summary>The length actually handed out for a request of <paramref name="length"/> floats.</summary>
    public static int SizeClass(int length)
    {
        if (length < MinPooledLength) return length;
        // Round up to a multiple of 1/8 of the highest power of two below the length.
        int top = 31 - System.Numerics.BitOperations.LeadingZeroCount((uint)length);
        int step = 1 << (top - 3);
        long rounded = ((long)length + step - 1) / step * step;
        return rounded > Array.MaxLength ? length : (int)rounded;
    }

    /// <summary>A buffer of at least <paramref name="length"/> floats with unspecified contents.</summary>
    public static float[] Rent(int length)
    {
        if (length < MinPooledLength) return length == 0 ? [] : new float[length];
        int cls = SizeClass(length);
        CountRent(cls);
        lock (Gate)
        {
            if (Free.TryGetValue(cls, out var stack) && stack.Count > 0)
            {
                retainedBytes -= (long)cls * 4;
                return stack.Pop();
            }
        }
        var fresh = GC.AllocateUninitializedArray<float>(cls);
        HugePages.Advise(fresh); // before the first touch: one fault per 2 MB instead of per 4 KB
        return fresh;
    }

    /// <summary>Gives a buffer back. Only buffers from <see cref="Rent"/> may be returned, once.</summary>
    public static void Return(float[] buffer)
    {
        int cls = buffer.Length;
        if (cls < MinPooledLength || SizeClass(cls) != cls) return;
        Interlocked.Add(ref outstandingBytes, -(long)cls * 4);
        lock (Gate)
        {
            if (retainedBytes + (long)cls * 4 > MaxRetainedBytes) return;
            if (!Free.TryGetValue(cls, out var stack)) Free[cls] = stack = new Stack<float[]>();
            stack.Push(buffer);
            retainedBytes += (long)cls * 4;
        }
    }

    /// <summary>Drops every idle buffer (they become garbage for the GC).</summary>
    public static void Trim()
    {
        lock (Gate) { Free.Clear(); retainedBytes = 0; }
    }
}
