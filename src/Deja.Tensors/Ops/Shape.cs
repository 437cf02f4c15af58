using Deja.Tensors.Kernels;

namespace Deja.Tensors;

// Layout ops. Tensors are always contiguous, so these copy, except where the result is a contiguous
// run of the input (reshapes, squeezes, a narrow along the leading non-1 dim), which are views sharing
// storage. Each backward is another layout op, so they are differentiable to any order.
public static partial class Ops
{
    // ------------------------------------------------------------ permute

    /// <summary>Reorders dims: output dim i is input dim dims[i]. A copy, except when only size-1 dims move (a view).</summary>
    public static Tensor Permute(Tensor x, params int[] dims)
    {
        int r = x.Rank;
        if (dims.Length != r)
            throw new ArgumentException($"permute: {dims.Length} dims {Shapes.Str(dims)} for a tensor of rank {r} {Shapes.Str(x.Shape)}");
        var perm = new int[r];
        var seen = new bool[r];
        for (int i = 0; i < r; i++)
        {
            perm[i] = Shapes.Axis(dims[i], r, "permute");
            if (seen[perm[i]]) throw new ArgumentException($"permute: dims {Shapes.Str(dims)} repeat dim {perm[i]}; they must be a permutation of 0..{r - 1}");
            seen[perm[i]] = true;
        }
        var outShape = perm.Select(d => x.Shape[d]).ToArray();
        var (_, simple) = PermuteKernel.Simplify(x.Shape, perm);
        bool moves = false;
        for (int i = 0; i < simple.Length; i++) moves |= simple[i] != i;
        if (!moves) return Reshape(x, outShape); // same element order: a view

        var o = Tensor.Empty(outShape);
        PermuteKernel.Apply(x.Array, x.Offset, x.Shape, perm, o.Array, o.Offset);
        var inverse = new int[r];
        for (int i = 0; i < r; i++) inverse[perm[i]] = i;
        return Autograd.Record(o, "permute", [x], g => [Permute(g, inverse)]);
    }

    /// <summary>Swaps two dims (a copy; see <see cref="Permute"/>).</summary>
    public static Tensor Transpose(Tensor x, int dim0, int dim1)
    {
        int a = Shapes.Axis(dim0, x.Rank, "transpose"), b = Shapes.Axis(dim1, x.Rank, "transpose");
        var perm = Enumerable.Range(0, x.Rank).ToArray();
        (perm[a], perm[b]) = (perm[b], perm[a]);
        return Permute(x, perm);
    }

    // ------------------------------------------------------------ narrow, slice, select

    /// <summary>
    /// Elements [start, start + length) along <paramref name="dim"/> (negative start counts from the end).
    /// A zero-copy view when every dim before <paramref name="dim"/> has size 1 (the slice is then one
    /// contiguous run), else a copy.
    /// </summary>
    public static Tensor Narrow(Tensor x, int dim, int start, int length)
    {
        int ax = Shapes.Axis(dim, x.Rank, "narrow");
        int size = x.Shape[ax];
        if (start < 0) start += size;
        if (length < 0 || start < 0 || start + length > size)
            throw new ArgumentOutOfRangeException(nameof(start), $"narrow: start {start} and length {length} do not fit in dim {ax} of size {size} of {Shapes.Str(x.Shape)}");
        if (length == size) return x;
        var shape = (int[])x.Shape.Clone();
        shape[ax] = length;
        int inner = 1, outer = 1;
        for (int i = ax + 1; i < x.Rank; i++) inner *= x.Shape[i];
        for (int i = 0; i < ax; i++) outer *= x.Shape[i];
        Tensor o;
        if (outer == 1) o = x.Alias(shape, start * inner);
        else
        {
            o = Tensor.Empty(shape);
            CopyRowRuns(x.Array, x.Offset + start * inner, size * inner, o.Array, o.Offset, length * inner, outer, length * inner);
        }
        var inShape = x.Shape;
        return Autograd.Record(o, "narrow", [x], g => [NarrowBackward(g, inShape, ax, start)]);
    }

    /// <summary>Zeros of <paramref name="shape"/> with <paramref name="g"/> placed at <paramref name="start"/> along dim: the adjoint of narrow.</summary>
    static Tensor NarrowBackward(Tensor g, int[] shape, int dim, int start)
    {
        var o = Tensor.Zeros(shape);
        int inner = 1, outer = 1, len = g.Shape[dim];
        for (int i = dim + 1; i < shape.Length; i++) inner *= shape[i];
        for (int i = 0; i < dim; i++) outer *= shape[i];
        CopyRowRuns(g.Array, g.Offset, len * inner, o.Array, o.Offset + start * inner, shape[dim] * inner, outer, len * inner);
        return Autograd.Record(o, "narrow_backward", [g], gg => [Narrow(gg, dim, start, len)]);
    }

    /// <summary>
    /// Elements [start, end) along <paramref name="dim"/>, Python style: negative positions count from the
    /// end and out-of-range positions are clamped (an empty result when end ≤ start).
    /// </summary>
    public static Tensor Slice(Tensor x, int dim, int start, int end)
    {
        int ax = Shapes.Axis(dim, x.Rank, "slice");
        int size = x.Shape[ax];
        if (start < 0) start += size;
        if (end < 0) end += size;
        start = Math.Clamp(start, 0, size);
        end = Math.Clamp(end, start, size);
        return Narrow(x, ax, start, end - start);
    }

    /// <summary>The sub-tensor at <paramref name="index"/> along <paramref name="dim"/>, which is removed. A view for the leading dim.</summary>
    public static Tensor Select(Tensor x, int dim, int index)
    {
        int ax = Shapes.Axis(dim, x.Rank, "select");
        int size = x.Shape[ax];
        int i = index < 0 ? index + size : index;
        if (i < 0 || i >= size)
            throw new ArgumentOutOfRangeException(nameof(index), $"select: index {index} is out of range for dim {ax} of size {size} of {Shapes.Str(x.Shape)}");
        var n = Narrow(x, ax, i, 1);
        var r = Reshape(n, x.Shape.Where((_, d) => d != ax).ToArray());
        if (!ReferenceEquals(n, x) && !ReferenceEquals(n, r)) n.Dispose();
        return r;
    }

    /// <summary>x[index] along the first dim (a view).</summary>
    public static Tensor Select(Tensor x, int index) => Select(x, 0, index);

    // ------------------------------------------------------------ concat, stack, split, chunk

    /// <summary>Joins tensors along <paramref name="dim"/>; all other dims must agree.</summary>
    public static Tensor Concat(Tensor[] tensors, int dim)
    {
        if (tensors.Length == 0) throw new ArgumentException("concat: no tensors to join");
        var first = tensors[0];
        int ax = Shapes.Axis(dim, first.Rank, "concat");
        int total = 0;
        for (int t = 0; t < tensors.Length; t++)
        {
            var s = tensors[t].Shape;
            bool fits = s.Length == first.Rank;
            for (int i = 0; fits && i < s.Length; i++) fits = i == ax || s[i] == first.Shape[i];
            if (!fits)
                throw new ArgumentException($"concat: tensor {t} has shape {Shapes.Str(s)} but tensor 0 has {Shapes.Str(first.Shape)}; all dims except {ax} must match");
            total += s[ax];
        }
        if (tensors.Length == 1) return first;
        var shape = (int[])first.Shape.Clone();
        shape[ax] = total;
        var o = Tensor.Empty(shape);
        int inner = 1, outer = 1;
        for (int i = ax + 1; i < shape.Length; i++) inner *= shape[i];
        for (int i = 0; i < ax; i++) outer *= shape[i];
        var offsets = new int[tensors.Length];
        for (int t = 0, at = 0; t < tensors.Length; t++) { offsets[t] = at; at += tensors[t].Shape[ax]; }
        for (int t = 0; t < tensors.Length; t++)
        {
            var x = tensors[t];
            int run = x.Shape[ax] * inner;
            CopyRowRuns(x.Array, x.Offset, run, o.Array, o.Offset + offsets[t] * inner, total * inner, outer, run);
        }
        var inputs = (Tensor[])tensors.Clone();
        return Autograd.Record(o, "concat", inputs, g =>
        {
            var grads = new Tensor?[inputs.Length];
            for (int t = 0; t < inputs.Length; t++)
                if (inputs[t].RequiresGrad) grads[t] = Narrow(g, ax, offsets[t], inputs[t].Shape[ax]);
            return grads;
        });
    }

    /// <summary>Joins equally shaped tensors along a new dim at <paramref name="dim"/>.</summary>
    public static Tensor Stack(Tensor[] tensors, int dim = 0)
    {
        if (tensors.Length == 0) throw new ArgumentException("stack: no tensors to join");
        var shape = tensors[0].Shape;
        for (int t = 1; t < tensors.Length; t++)
            if (!Shapes.Equal(tensors[t].Shape, shape))
                throw new ArgumentException($"stack: tensor {t} has shape {Shapes.Str(tensors[t].Shape)} but tensor 0 has {Shapes.Str(shape)}");
        int ax = Shapes.Axis(dim, shape.Length + 1, "stack");
        var parts = tensors.Select(t => Unsqueeze(t, ax)).ToArray();
        var o = Concat(parts, ax);
        foreach (var p in parts) if (!ReferenceEquals(p, o)) p.Dispose();
        return o;
    }

    /// <summary>Splits along <paramref name="dim"/> into pieces of the given sizes (which must add up to the dim).</summary>
    public static Tensor[] Split(Tensor x, int[] sizes, int dim = 0)
    {
        int ax = Shapes.Axis(dim, x.Rank, "split");
        if (sizes.Any(s => s < 0) || sizes.Sum() != x.Shape[ax])
            throw new ArgumentException($"split: sizes {Shapes.Str(sizes)} do not add up to {x.Shape[ax]}, the size of dim {ax} of {Shapes.Str(x.Shape)}");
        var parts = new Tensor[sizes.Length];
        for (int i = 0, at = 0; i < sizes.Length; at += sizes[i], i++) parts[i] = Narrow(x, ax, at, sizes[i]);
        return parts;
    }

    /// <summary>Splits along <paramref name="dim"/> into pieces of <paramref name="size"/> (the last may be smaller), as torch.split.</summary>
    public static Tensor[] Split(Tensor x, int size, int dim = 0)
    {
        int ax = Shapes.Axis(dim, x.Rank, "split");
        if (size <= 0) throw new ArgumentException($"split: piece size must be positive, got {size}");
        int n = x.Shape[ax];
        var sizes = new List<int>();
        for (int at = 0; at < n; at += size) sizes.Add(Math.Min(size, n - at));
        if (sizes.Count == 0) sizes.Add(0);
        return Split(x, sizes.ToArray(), ax);
    }

    /// <summary>
    /// torch.chunk: pieces of ⌈size/n⌉ along <paramref name="dim"/> (the last may be smaller, and there may be
    /// fewer than n pieces when the size does not divide well).
    /// </summary>
    public static Tensor[] Chunk(Tensor x, int n, int dim = 0)
    {
        if (n <= 0) throw new ArgumentException($"chunk: number of chunks must be positive, got {n}");
        int ax = Shapes.Axis(dim, x.Rank, "chunk");
        int size = x.Shape[ax];
        return Split(x, Math.Max(1, (size + n - 1) / n), ax);
    }

    // ------------------------------------------------------------ views

    /// <summary>Removes every size-1 dim (a view).</summary>
    public static Tensor Squeeze(Tensor x) => Reshape(x, x.Shape.Where(s => s != 1).ToArray());

    /// <summary>Removes <paramref name="dim"/> if its size is 1; otherwise returns x unchanged (as PyTorch).</summary>
    public static Tensor Squeeze(Tensor x, int dim)
    {
        int ax = Shapes.Axis(dim, x.Rank, "squeeze");
        return x.Shape[ax] != 1 ? x : Reshape(x, x.Shape.Where((_, d) => d != ax).ToArray());
    }

    /// <summary>Inserts a size-1 dim at <paramref name="dim"/> (−1 appends) (a view).</summary>
    public static Tensor Unsqueeze(Tensor x, int dim)
    {
        int ax = Shapes.Axis(dim, x.Rank + 1, "unsqueeze");
        var shape = new List<int>(x.Shape);
        shape.Insert(ax, 1);
        return Reshape(x, shape.ToArray());
    }

    /// <summary>Merges dims startDim..endDim into one (a view).</summary>
    public static Tensor Flatten(Tensor x, int startDim = 0, int endDim = -1)
    {
        if (x.Rank == 0) return Reshape(x, 1);
        int a = Shapes.Axis(startDim, x.Rank, "flatten"), b = Shapes.Axis(endDim, x.Rank, "flatten");
        if (a > b) throw new ArgumentException($"flatten: start dim {startDim} comes after end dim {endDim} in {Shapes.Str(x.Shape)}");
        int merged = 1;
        for (int i = a; i <= b; i++) merged *= x.Shape[i];
        return Reshape(x, [.. x.Shape[..a], merged, .. x.Shape[(b + 1)..]]);
    }

    // ------------------------------------------------------------ copying helper

    /// <summary>Copies <paramref name="rows"/> runs of <paramref name="length"/> floats between strided rows, in parallel when large.</summary>
    static void CopyRowRuns(float[] src, int srcOffset, int srcStride, float[] dst, int dstOffset, int dstStride, int rows, int length)
    {
        if (length == 0 || rows == 0) return;
        void Task(int s, int e)
        {
            for (int i = s; i < e; i++) src.AsSpan(srcOffset + i * srcStride, length).CopyTo(dst.AsSpan(dstOffset + i * dstStride, length));
        }
        if ((long)rows * length < Elementwise.ParallelThreshold) Task(0, rows);
        else if (rows == 1) Threading.Chunks(length, Unary.Chunk, (s, e) => src.AsSpan(srcOffset + s, e - s).CopyTo(dst.AsSpan(dstOffset + s, e - s)));
        else Threading.Chunks(rows, Math.Max(1, Unary.Chunk / length), Task);
    }
}
