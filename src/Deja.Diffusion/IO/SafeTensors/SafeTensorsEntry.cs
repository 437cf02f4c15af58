using Deja.Tensors;

namespace Deja.Diffusion.IO;

/// <summary>
/// One tensor listed in a safetensors header. <see cref="Begin"/>/<see cref="End"/> are the header's
/// data_offsets: byte positions relative to the start of the data area (the first byte after the header).
/// </summary>
public sealed record SafeTensorsEntry(string Name, SafeTensorsDType DType, int[] Shape, long Begin, long End)
{
    public long ElementCount { get; } = Count(Shape);
    public long ByteLength => End - Begin;

    static long Count(int[] shape)
    {
        long n = 1;
        foreach (var d in shape) n *= d; // dims are validated to be < 2^31 and the product to fit in bytes
        return n;
    }

    public override string ToString() => $"{Name} {DType} {Shapes.Str(Shape)} [{Begin},{End})";
}

/// <summary>Integer tensor data (token ids, timesteps) read from a safetensors file, row-major.</summary>
public sealed class Int64Tensor
{
    public Int64Tensor(long[] data, int[] shape)
    {
        Shapes.Validate(shape, "Int64Tensor");
        if (data.Length != Shapes.Numel(shape))
            throw new ArgumentException($"Int64Tensor: {data.Length} values do not fill shape {Shapes.Str(shape)}");
        Data = data;
        Shape = (int[])shape.Clone();
    }

    public long[] Data { get; }
    public int[] Shape { get; }
    public int Length => Data.Length;

    /// <summary>Element at a full index.</summary>
    public long this[params int[] index] => Data[Shapes.FlatIndex(Shape, index)];

    public override string ToString() =>
        $"Int64Tensor{Shapes.Str(Shape)}[{string.Join(", ", Data.Take(8))}{(Length > 8 ? ", ..." : "")}]";
}
