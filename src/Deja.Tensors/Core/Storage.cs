namespace Deja.Tensors;

/// <summary>
/// A reference-counted float buffer shared by a tensor and its views. Each holder (a tensor, a view,
/// a backward node that saved the tensor) owns one reference; the buffer goes back to the pool when
/// the last one is released. A storage that is never released is simply collected by the GC.
/// </summary>
internal sealed class Storage
{
    float[]? array;
    int refs = 1;
    readonly bool pooled;

    public Storage(int length)
    {
        array = BufferPool.Rent(length);
        pooled = true;
    }

    public Storage(float[] array)
    {
        this.array = array;
        pooled = false;
    }

    public float[] Array => array ?? throw new ObjectDisposedException("Tensor", "the tensor's buffer was released (used after Dispose)");

    public bool IsReleased => array is null;

    public void Retain()
    {
        if (array is null) throw new ObjectDisposedException("Tensor", "cannot share a released tensor buffer");
        Interlocked.Increment(ref refs);
    }

    public void Release()
    {
        int left = Interlocked.Decrement(ref refs);
        if (left > 0) return;
        if (left < 0) throw new InvalidOperationException("tensor storage released more often than retained");
        var a = array;
        array = null;
        if (pooled && a is not null) BufferPool.Return(a);
    }
}
