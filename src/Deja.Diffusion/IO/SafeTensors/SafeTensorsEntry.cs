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
