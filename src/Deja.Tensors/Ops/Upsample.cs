using Deja.Tensors.Kernels;

namespace Deja.Tensors;

public static partial class Ops
{
    /// <summary>
    /// Nearest-neighbour 2× upsampling, x [N,C,H,W] → [N,C,2H,2W], like PyTorch's
    /// F.interpolate(x, scale_factor=2, mode="nearest"). Its gradient is <see cref="SumPool2x"/>
    /// (and that one's is this op again), so it is differentiable to any order.
    /// </summary>
    public static unsafe Tensor UpsampleNearest2x(Tensor x)
    {
        if (x.Rank != 4) throw new ArgumentException($"upsample_nearest2x: input must be [N,C,H,W], got {Shapes.Str(x.Shape)}");
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        var y = Tensor.Empty(n, c, Checked(2L * h, x), Checked(2L * w, x));
        Shapes.Numel(y.Shape);
        fixed (float* px = x.Array) fixed (float* py = y.Array)
            Upsample2x.Up(px + x.Offset, n * c * h, w, py + y.Offset);
        return Autograd.Record(y, "upsample_nearest2x", [x], g => [SumPool2x(g)]);
    }

    /// <summary>
    /// Sum over each 2×2 block, x [N,C,2H,2W] → [N,C,H,W] (2× average pooling without the ¼):
    /// the adjoint of <see cref="UpsampleNearest2x"/>. Height and width must be even.
    /// </summary>
    public static unsafe Tensor SumPool2x(Tensor x)
    {
        if (x.Rank != 4 || x.Shape[2] % 2 != 0 || x.Shape[3] % 2 != 0)
            throw new ArgumentException($"sum_pool2x: input must be [N,C,H,W] with even H and W, got {Shapes.Str(x.Shape)}");
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2] / 2, w = x.Shape[3] / 2;
        var y = Tensor.Empty(n, c, h, w);
        fixed (float* px = x.Array) fixed (float* py = y.Array)
            Upsample2x.BlockSum(px + x.Offset, n * c * h, w, py + y.Offset);
        return Autograd.Record(y, "sum_pool2x", [x], g => [UpsampleNearest2x(g)]);
    }

    static int Checked(long size, Tensor x) => size <= int.MaxValue ? (int)size
        : throw new ArgumentException($"upsample_nearest2x: input {Shapes.Str(x.Shape)} is too large to upsample");
}
