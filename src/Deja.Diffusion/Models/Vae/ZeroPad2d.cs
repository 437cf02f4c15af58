using Deja.Tensors;
using Deja.Tensors.Kernels;

namespace Deja.Diffusion.Models.Vae;

/// <summary>
/// Zero padding of the two spatial dims of x [N,C,H,W] by different amounts per side (PyTorch's
/// F.pad(x, (left, right, top, bottom))), and its adjoint, cropping. Each is the other's gradient,
/// so both are differentiable to any order. The VAE needs it because diffusers' Downsample2D pads
/// only right and bottom before its stride-2 convolution, which a symmetric conv padding cannot express.
/// </summary>
public static class ZeroPad2d
{
    public static Tensor Pad(Tensor x, int left, int right, int top, int bottom)
    {
        const string op = "zero_pad2d";
        if (x.Rank != 4) throw new ArgumentException($"{op}: input must be [N,C,H,W], got {Shapes.Str(x.Shape)}");
        if (left < 0 || right < 0 || top < 0 || bottom < 0)
            throw new ArgumentException($"{op}: padding must not be negative, got (left {left}, right {right}, top {top}, bottom {bottom})");
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        long ho = (long)h + top + bottom, wo = (long)w + left + right;
        if (ho > int.MaxValue || wo > int.MaxValue)
            throw new ArgumentException($"{op}: input {Shapes.Str(x.Shape)} padded by ({left}, {right}, {top}, {bottom}) is too large");
        int[] shape = [n, c, (int)ho, (int)wo];
        Shapes.Numel(shape);
        var y = Tensor.Empty(shape);
        CopyWindow(x, y, top, left, toWindow: true);
        return Autograd.Record(y, op, [x], g => [Crop(g, left, right, top, bottom)]);
    }

    /// <summary>Removes <paramref name="left"/> columns on the left, ... from x [N,C,H,W].</summary>
    public static Tensor Crop(Tensor x, int left, int right, int top, int bottom)
    {
        const string op = "crop2d";
        if (x.Rank != 4) throw new ArgumentException($"{op}: input must be [N,C,H,W], got {Shapes.Str(x.Shape)}");
        if (left < 0 || right < 0 || top < 0 || bottom < 0)
            throw new ArgumentException($"{op}: crop amounts must not be negative, got (left {left}, right {right}, top {top}, bottom {bottom})");
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        long ho = (long)h - top - bottom, wo = (long)w - left - right;
        if (ho < 0 || wo < 0)
            throw new ArgumentException($"{op}: cannot remove ({left}, {right}, {top}, {bottom}) from input {Shapes.Str(x.Shape)}");
        var y = Tensor.Empty(n, c, (int)ho, (int)wo);
        CopyWindow(y, x, top, left, toWindow: false);
        return Autograd.Record(y, op, [x], g => [Pad(g, left, right, top, bottom)]);
    }

    /// <summary>
    /// Copies between <paramref name="small"/> and the window of <paramref name="large"/> that starts at
    /// (top, left). Copying into the window also zeroes the rest of <paramref name="large"/>.
    /// </summary>
    static void CopyWindow(Tensor small, Tensor large, int top, int left, bool toWindow)
    {
        int planes = small.Shape[0] * small.Shape[1];
        int h = small.Shape[2], w = small.Shape[3], lh = large.Shape[2], lw = large.Shape[3];
        int smallPlane = h * w, largePlane = lh * lw;
        if (planes == 0 || largePlane == 0) return;
        Threading.For(planes, p =>
        {
            var s = small.Span.Slice(p * smallPlane, smallPlane);
            var l = large.Span.Slice(p * largePlane, largePlane);
            if (toWindow)
            {
                l[..(top * lw)].Clear();
                l[((top + h) * lw)..].Clear();
                for (int i = 0; i < h; i++)
                {
                    var row = l.Slice((top + i) * lw, lw);
                    row[..left].Clear();
                    s.Slice(i * w, w).CopyTo(row.Slice(left, w));
                    row[(left + w)..].Clear();
                }
            }
            else
                for (int i = 0; i < h; i++)
                    l.Slice((top + i) * lw + left, w).CopyTo(s.Slice(i * w, w));
        });
    }
}
