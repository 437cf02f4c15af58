using Deja.Tensors;

namespace Deja.Diffusion.IO;

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
