using Deja.Diffusion.Models.Vae;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.Vae;

public class ZeroPad2dTests
{
    [Fact]
    public void PadPlacesTheInputAndZeroesTheBorder()
    {
        var x = Tensor.RandN(new Generator(1), 2, 3, 4, 5);
        // fill the pool with garbage first: the border must be written, not assumed zero
        Tensor.Full(float.NaN, 2, 3, 9, 9).Dispose();
        using var y = ZeroPad2d.Pad(x, left: 1, right: 2, top: 3, bottom: 1);
        Assert.Equal(new[] { 2, 3, 8, 8 }, y.Shape);
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < 3; c++)
                for (int i = 0; i < 8; i++)
                    for (int j = 0; j < 8; j++)
                    {
                        bool inside = i >= 3 && i < 7 && j >= 1 && j < 6;
                        Assert.Equal(inside ? x[n, c, i - 3, j - 1] : 0f, y[n, c, i, j]);
                    }
        using var back = ZeroPad2d.Crop(y, 1, 2, 3, 1);
        Assert.Equal(x.ToArray(), back.ToArray());
    }

    [Fact]
    public void PadAndCropAreEachOthersGradientToSecondOrder()
    {
        var x = Tensor.RandN(new Generator(2), 1, 2, 3, 3).RequireGrad();
        using var r = Tensor.RandN(new Generator(3), 1, 2, 4, 5);
        using var y = ZeroPad2d.Pad(x, 0, 2, 0, 1);
        using var loss = Ops.Sum(y * r);
        var g = Autograd.Grad(loss, x, createGraph: true)!;
        using var expected = ZeroPad2d.Crop(r, 0, 2, 0, 1);
        Assert.Equal(expected.ToArray(), g.ToArray());
        Assert.True(g.RequiresGrad || !r.RequiresGrad);

        var v = Tensor.RandN(new Generator(4), 1, 2, 4, 5).RequireGrad();
        using var cropped = ZeroPad2d.Crop(v, 0, 2, 0, 1);
        using var s = Ops.Sum(cropped * x.Detach());
        s.Backward();
        using var padded = ZeroPad2d.Pad(x.Detach(), 0, 2, 0, 1);
        Assert.Equal(padded.ToArray(), v.Grad!.ToArray());
    }

    [Fact]
    public void BadArgumentsNameTheOp()
    {
        using var x = Tensor.Zeros(1, 1, 2, 2);
        Assert.Contains("zero_pad2d", Assert.Throws<ArgumentException>(() => ZeroPad2d.Pad(x, -1, 0, 0, 0)).Message);
        using var flat = Tensor.Zeros(4);
        Assert.Contains("zero_pad2d", Assert.Throws<ArgumentException>(() => ZeroPad2d.Pad(flat, 0, 1, 0, 1)).Message);
        Assert.Contains("crop2d", Assert.Throws<ArgumentException>(() => ZeroPad2d.Crop(x, 2, 1, 0, 0)).Message);
    }
}
