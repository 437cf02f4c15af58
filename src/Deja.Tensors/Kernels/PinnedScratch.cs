using System.Runtime.InteropServices;

namespace Deja.Tensors.Kernels;

/// <summary>Pooled buffers pinned for the length of one kernel call; all go back to the pool on Dispose.</summary>
internal sealed unsafe class PinnedScratch : IDisposable
{
    readonly List<(float[] Array, GCHandle Handle)> rented = [];

    /// <summary>A pinned buffer of at least <paramref name="length"/> floats (unspecified contents).</summary>
    public float* Rent(long length, string op)
    {
        if (length > Array.MaxLength) throw new ArgumentException($"{op}: a scratch buffer of {length} floats is larger than an array can hold");
        var a = BufferPool.Rent((int)length);
        var h = GCHandle.Alloc(a, GCHandleType.Pinned);
        rented.Add((a, h));
        return (float*)h.AddrOfPinnedObject();
    }

    public void Dispose()
    {
        foreach (var (a, h) in rented)
        {
            h.Free();
            BufferPool.Return(a);
        }
        rented.Clear();
    }
}
