using System.Numerics.Tensors;

namespace Deja.Tensors.Kernels;

public enum BinaryOp { Add, Sub, Mul, Div, Max, Min }

/// <summary>Vectorized elementwise kernels over spans, with NumPy broadcasting for binary ops.</summary>
public static class Elementwise
{
    /// <summary>Below this many elements a kernel runs on the calling thread.</summary>
    public const int ParallelThreshold = 1 << 16;
    const int Chunk = 1 << 15;

    public static void Add(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> o) => TensorPrimitives.Add(a, b, o);
    public static void AddInPlace(Span<float> a, ReadOnlySpan<float> b) => TensorPrimitives.Add(a, b, a);

    static void Apply(BinaryOp op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> o)
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(a, b, o); break;
            case BinaryOp.Sub: TensorPrimitives.Subtract(a, b, o); break;
            case BinaryOp.Mul: TensorPrimitives.Multiply(a, b, o); break;
            case BinaryOp.Div: TensorPrimitives.Divide(a, b, o); break;
            case BinaryOp.Max: TensorPrimitives.Max(a, b, o); break;
            case BinaryOp.Min: TensorPrimitives.Min(a, b, o); break;
        }
    }

    static void ApplyScalarRight(BinaryOp op, ReadOnlySpan<float> a, float b, Span<float> o)
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(a, b, o); break;
            case BinaryOp.Sub: TensorPrimitives.Subtract(a, b, o); break;
            case BinaryOp.Mul: TensorPrimitives.Multiply(a, b, o); break;
            case BinaryOp.Div: TensorPrimitives.Divide(a, b, o); break;
            case BinaryOp.Max: TensorPrimitives.Max(a, b, o); break;
            case BinaryOp.Min: TensorPrimitives.Min(a, b, o); break;
        }
    }

    static void ApplyScalarLeft(BinaryOp op, float a, ReadOnlySpan<float> b, Span<float> o)
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(b, a, o); break;
            case BinaryOp.Sub: TensorPrimitives.Subtract(a, b, o); break;
            case BinaryOp.Mul: TensorPrimitives.Multiply(b, a, o); break;
            case BinaryOp.Div: TensorPrimitives.Divide(a, b, o); break;
            case BinaryOp.Max: TensorPrimitives.Max(b, a, o); break;
            case BinaryOp.Min: TensorPrimitives.Min(b, a, o); break;
        }
    }

    /// <summary>o = a op b with broadcasting; <paramref name="outShape"/> is the broadcast shape.</summary>
    public static void Binary(BinaryOp op, float[] a, int aOff, int[] aShape, float[] b, int bOff, int[] bShape,
        float[] o, int oOff, int[] outShape)
    {
        int n = Shapes.Numel(outShape);
        if (n == 0) return;
        int r = outShape.Length;
        // Strides of a and b in output coordinates, 0 where broadcast.
        var sa = BroadcastStrides(aShape, outShape);
        var sb = BroadcastStrides(bShape, outShape);
        // Kind of each dim: 0 both vary, 1 only a varies (b broadcast), 2 only b varies, 3 neither.
        static int Kind(int sa, int sb, int d) => d == 1 ? -1 : (sa != 0 ? 0 : 2) + (sb != 0 ? 0 : 1);
        // The longest trailing run of dims with one kind (size-1 dims fit any kind) is handled by one span call.
        int kind = -1, split = r;
        for (int i = r - 1; i >= 0; i--)
        {
            int k = Kind(sa[i], sb[i], outShape[i]);
            if (k == -1) { split = i; continue; }
            if (kind == -1) kind = k;
            if (k != kind) break;
            split = i;
        }
        if (kind == -1) kind = 0;
        int run = 1;
        for (int i = split; i < r; i++) run *= outShape[i];
        int outer = n / run;
        // Outer coordinates → offsets into a and b.
        var outerShape = outShape[..split];
        var saOuter = sa[..split];
        var sbOuter = sb[..split];
        void Row(int idx)
        {
            int ao = aOff, bo = bOff, rem = idx;
            for (int d = split - 1; d >= 0; d--)
            {
                int c = rem % outerShape[d];
                rem /= outerShape[d];
                ao += c * saOuter[d];
                bo += c * sbOuter[d];
            }
            var dst = o.AsSpan(oOff + idx * run, run);
            switch (kind)
            {
                case 0: Apply(op, a.AsSpan(ao, run), b.AsSpan(bo, run), dst); break;
                case 1: ApplyScalarRight(op, a.AsSpan(ao, run), b[bo], dst); break;
                case 2: ApplyScalarLeft(op, a[ao], b.AsSpan(bo, run), dst); break;
                default: dst.Fill(Scalar(op, a[ao], b[bo])); break;
            }
        }
        if (outer == 1 && run >= ParallelThreshold && kind == 0)
        {
            Threading.Chunks(run, Chunk, (s, e) => Apply(op, a.AsSpan(aOff + s, e - s), b.AsSpan(bOff + s, e - s), o.AsSpan(oOff + s, e - s)));
            return;
        }
        if (outer == 1) { Row(0); return; }
        if (n >= ParallelThreshold)
        {
            int rowsPerTask = Math.Max(1, Chunk / Math.Max(run, 1));
            Threading.Chunks(outer, rowsPerTask, (s, e) => { for (int i = s; i < e; i++) Row(i); });
        }
        else for (int i = 0; i < outer; i++) Row(i);
    }

    static float Scalar(BinaryOp op, float a, float b) => op switch
    {
        BinaryOp.Add => a + b,
        BinaryOp.Sub => a - b,
        BinaryOp.Mul => a * b,
        BinaryOp.Div => a / b,
        BinaryOp.Max => MathF.Max(a, b),
        _ => MathF.Min(a, b),
    };

    /// <summary>Strides of a tensor of <paramref name="shape"/> seen through broadcasting to <paramref name="outShape"/>.</summary>
    public static int[] BroadcastStrides(int[] shape, int[] outShape)
    {
        int r = outShape.Length, pad = r - shape.Length;
        var own = Shapes.Strides(shape);
        var s = new int[r];
        for (int i = 0; i < r; i++)
            s[i] = i < pad || shape[i - pad] == 1 ? 0 : own[i - pad];
        return s;
    }

    /// <summary>
    /// Sums a contiguous [outer, reduce, inner] block over its middle axis into [outer, inner].
    /// Each output element adds its terms in index order, so the result does not depend on threads.
    /// </summary>
    public static void SumMiddle(ReadOnlySpan<float> x, Span<float> o, int outer, int reduce, int inner)
    {
        if (inner == 1)
        {
            for (int i = 0; i < outer; i++) o[i] = PairwiseSum(x.Slice(i * reduce, reduce));
            return;
        }
        for (int i = 0; i < outer; i++)
        {
            var dst = o.Slice(i * inner, inner);
            x.Slice(i * reduce * inner, inner).CopyTo(dst);
            for (int k = 1; k < reduce; k++) TensorPrimitives.Add(dst, x.Slice((i * reduce + k) * inner, inner), dst);
        }
    }

    /// <summary>Sum with blocked pairwise accumulation (error grows like log n, not n).</summary>
    public static float PairwiseSum(ReadOnlySpan<float> x)
    {
        const int Block = 1024;
        if (x.Length <= Block) return TensorPrimitives.Sum(x);
        int half = (x.Length / 2 + Block - 1) / Block * Block;
        return PairwiseSum(x[..half]) + PairwiseSum(x[half..]);
    }
}
