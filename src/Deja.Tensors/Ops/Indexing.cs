using Deja.Tensors.Kernels;

namespace Deja.Tensors;

// Gathering rows by index (index_select, embedding) and its adjoint, a deterministic scatter-add.
public static partial class Ops
{
    /// <summary>Rows of <paramref name="x"/> (along dim 0) at <paramref name="indices"/>, in that order: [indices.Length, ...].</summary>
    public static Tensor IndexSelect(Tensor x, int[] indices) => GatherRows(x, indices, "index_select");

    static Tensor GatherRows(Tensor x, int[] indices, string op)
    {
        if (x.Rank < 1) throw new ArgumentException($"{op}: cannot index a scalar");
        int rows = x.Shape[0];
        for (int i = 0; i < indices.Length; i++)
            if ((uint)indices[i] >= (uint)rows)
                throw new ArgumentOutOfRangeException(nameof(indices), $"{op}: index {indices[i]} at position {i} is out of range for {rows} rows of {Shapes.Str(x.Shape)}");
        var rest = x.Shape[1..];
        int row = Shapes.Numel(rest);
        var o = Tensor.Empty([indices.Length, .. rest]);
        var ids = (int[])indices.Clone();
        float[] src = x.Array, dst = o.Array;
        int so = x.Offset, dOff = o.Offset;
        void Task(int s, int e)
        {
            for (int i = s; i < e; i++) src.AsSpan(so + ids[i] * row, row).CopyTo(dst.AsSpan(dOff + i * row, row));
        }
        if ((long)ids.Length * row < Elementwise.ParallelThreshold) Task(0, ids.Length);
        else Threading.Chunks(ids.Length, Math.Max(1, Unary.Chunk / Math.Max(1, row)), Task);
        var shape = x.Shape;
        return Autograd.Record(o, op, [x], g => [ScatterAddRows(g, ids, shape)]);
    }

    /// <summary>
    /// Zeros of <paramref name="shape"/> with row ids[i] += g[i]: the adjoint of a gather. Column chunks are
    /// independent tasks and each adds its rows in the order of ids, so repeated ids sum the same way for
    /// any thread count.
    /// </summary>
    static Tensor ScatterAddRows(Tensor g, int[] ids, int[] shape)
    {
        var o = Tensor.Zeros(shape);
        int row = Shapes.Numel(shape.AsSpan(1));
        float[] src = g.Array, dst = o.Array;
        int so = g.Offset, dOff = o.Offset;
        void Task(int c0, int c1)
        {
            for (int i = 0; i < ids.Length; i++)
            {
                var into = dst.AsSpan(dOff + ids[i] * row + c0, c1 - c0);
                Elementwise.AddInPlace(into, src.AsSpan(so + i * row + c0, c1 - c0));
            }
        }
        const int columns = 1024;
        if ((long)ids.Length * row < Elementwise.ParallelThreshold) Task(0, row);
        else Threading.Chunks(row, columns, Task);
        return Autograd.Record(o, "index_select_backward", [g], gg => [IndexSelect(gg, ids)]);
    }

    /// <summary>
    /// Rows of <paramref name="weight"/> [V, D] for <paramref name="ids"/>, shaped [..idsShape, D]
    /// (idsShape defaults to [ids.Length]). The gradient scatter-adds into the rows of weight.
    /// </summary>
    public static Tensor Embedding(Tensor weight, int[] ids, params int[] idsShape)
        => EmbeddingShaped(weight, ids, idsShape.Length == 0 ? [ids.Length] : idsShape);

    static Tensor EmbeddingShaped(Tensor weight, int[] ids, int[] shape)
    {
        if (weight.Rank != 2) throw new ArgumentException($"embedding: weight must be [num_embeddings, dim], got {Shapes.Str(weight.Shape)}");
        if (Shapes.Numel(shape) != ids.Length)
            throw new ArgumentException($"embedding: {ids.Length} ids do not fill shape {Shapes.Str(shape)}");
        var rows = GatherRows(weight, ids, "embedding");
        var o = Reshape(rows, [.. shape, weight.Shape[1]]);
        if (!ReferenceEquals(o, rows)) rows.Dispose();
        return o;
    }

    /// <summary>Embedding with the ids given as a tensor of whole numbers (any shape); the result is [..ids.Shape, D].</summary>
    public static Tensor Embedding(Tensor weight, Tensor ids)
    {
        var values = ids.ReadOnlySpan;
        var idx = new int[values.Length];
        for (int i = 0; i < idx.Length; i++)
        {
            float v = values[i];
            if (v != MathF.Round(v) || v < int.MinValue || v > int.MaxValue)
                throw new ArgumentException($"embedding: id {v} at position {i} is not a whole number");
            idx[i] = (int)v;
        }
        return EmbeddingShaped(weight, idx, ids.Shape);
    }
}
