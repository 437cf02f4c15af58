using System.Runtime.InteropServices;

namespace Deja.Tensors;

/// <summary>
/// A dense float32 tensor in row-major order. Its elements are a contiguous run of a reference-counted
/// <see cref="Storage"/>; reshapes and leading-dimension slices are views on the same storage, every
/// other layout change makes a contiguous copy (so kernels only ever see contiguous data).
/// Dispose releases this tensor's reference to the buffer: the data stays valid while a view or a
/// backward node still holds it, and the buffer returns to the pool when the last holder lets go.
/// </summary>
public sealed partial class Tensor : IDisposable
{
    internal readonly Storage storage;
    internal readonly int offset;
    readonly int[] shape;
    bool disposed;

    internal Tensor(Storage storage, int offset, int[] shape, bool track = true)
    {
        this.storage = storage;
        this.offset = offset;
        this.shape = shape;
        Length = Shapes.Numel(shape);
        if (track) TensorScope.Track(this);
    }

    /// <summary>The sizes of the dimensions. Do not modify the returned array.</summary>
    public int[] Shape => shape;
    public int Rank => shape.Length;
    /// <summary>Number of elements.</summary>
    public int Length { get; }
    /// <summary>Size of dimension <paramref name="dim"/>; negative dims count from the end.</summary>
    public int Size(int dim) => shape[Shapes.Axis(dim, Rank, "Size")];

    /// <summary>The elements, row-major. Writing through this span bypasses autograd.</summary>
    public Span<float> Span => storage.Array.AsSpan(offset, Length);
    public ReadOnlySpan<float> ReadOnlySpan => storage.Array.AsSpan(offset, Length);
    /// <summary>The backing array and the offset of element 0 in it, for kernels.</summary>
    internal float[] Array => storage.Array;
    internal int Offset => offset;
    public bool IsDisposed => disposed;

    // ---------------------------------------------------------------- creation

    /// <summary>A tensor with unspecified contents (pooled memory).</summary>
    public static Tensor Empty(params int[] shape)
    {
        Shapes.Validate(shape, "Empty");
        return new Tensor(new Storage(Shapes.Numel(shape)), 0, (int[])shape.Clone());
    }

    public static Tensor Zeros(params int[] shape)
    {
        var t = Empty(shape);
        t.Span.Clear();
        return t;
    }

    public static Tensor Ones(params int[] shape) => Full(1f, shape);

    public static Tensor Full(float value, params int[] shape)
    {
        var t = Empty(shape);
        t.Span.Fill(value);
        return t;
    }

    public static Tensor Scalar(float value) => Full(value);

    public static Tensor ZerosLike(Tensor t) => Zeros(t.shape);
    public static Tensor OnesLike(Tensor t) => Ones(t.shape);
    public static Tensor EmptyLike(Tensor t) => Empty(t.shape);

    /// <summary>Copies <paramref name="data"/> into a new tensor of the given shape.</summary>
    public static Tensor FromArray(ReadOnlySpan<float> data, params int[] shape)
    {
        Shapes.Validate(shape, "FromArray");
        if (data.Length != Shapes.Numel(shape))
            throw new ArgumentException($"FromArray: {data.Length} values do not fill shape {Shapes.Str(shape)} ({Shapes.Numel(shape)} elements)");
        var t = Empty(shape);
        data.CopyTo(t.Span);
        return t;
    }

    /// <summary>Wraps <paramref name="data"/> without copying; the tensor aliases the array.</summary>
    public static Tensor Wrap(float[] data, params int[] shape)
    {
        Shapes.Validate(shape, "Wrap");
        if (data.Length != Shapes.Numel(shape))
            throw new ArgumentException($"Wrap: {data.Length} values do not fill shape {Shapes.Str(shape)} ({Shapes.Numel(shape)} elements)");
        return new Tensor(new Storage(data), 0, (int[])shape.Clone());
    }

    /// <summary>Evenly spaced values start, start+step, ... below end (as float32).</summary>
    public static Tensor Arange(int count, float start = 0, float step = 1)
    {
        var t = Empty(count);
        var s = t.Span;
        for (int i = 0; i < count; i++) s[i] = start + i * step;
        return t;
    }

    /// <summary>A new tensor sharing this tensor's storage (one more reference), without autograd history.</summary>
    internal Tensor Alias(int[]? newShape = null, int extraOffset = 0, bool track = true)
    {
        storage.Retain();
        return new Tensor(storage, offset + extraOffset, newShape ?? shape, track);
    }

    // ---------------------------------------------------------------- reading

    public float[] ToArray() => ReadOnlySpan.ToArray();

    /// <summary>The value of a one-element tensor.</summary>
    public float Item()
    {
        if (Length != 1) throw new InvalidOperationException($"Item: tensor of shape {Shapes.Str(shape)} has {Length} elements, not 1");
        return ReadOnlySpan[0];
    }

    /// <summary>Element at a full index (slow; for tests and debugging).</summary>
    [System.Runtime.CompilerServices.IndexerName("Element")]
    public float this[params int[] index]
    {
        get => ReadOnlySpan[Shapes.FlatIndex(shape, index)];
        set => Span[Shapes.FlatIndex(shape, index)] = value;
    }

    public override string ToString()
    {
        var head = string.Join(", ", ReadOnlySpan[..Math.Min(Length, 8)].ToArray().Select(v => v.ToString("G6")));
        return $"Tensor{Shapes.Str(shape)}[{head}{(Length > 8 ? ", ..." : "")}]" + (RequiresGrad ? " requires_grad" : "");
    }

    // ---------------------------------------------------------------- writing

    /// <summary>Copies the values of <paramref name="src"/> (same number of elements) into this tensor.</summary>
    public void CopyFrom(Tensor src)
    {
        if (src.Length != Length)
            throw new ArgumentException($"CopyFrom: source {Shapes.Str(src.shape)} and destination {Shapes.Str(shape)} differ in size");
        src.ReadOnlySpan.CopyTo(Span);
    }

    public void Fill(float value) => Span.Fill(value);

    // ---------------------------------------------------------------- lifetime

    /// <summary>Releases this tensor's reference to its buffer. Idempotent.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        storage.Release();
    }
}
