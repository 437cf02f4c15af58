using Deja.Tensors;

namespace Deja.Cli;

/// <summary>conv2d at the shape of SD's 64×64 UNet level: x [2,320,64,64], 320 channels out, 3×3 pad 1.</summary>
public static class ConvBench
{
    const int N = 2, C = 320, H = 64, W = 64, O = 320, K = 3;
    const double ForwardFlops = 2.0 * N * O * C * K * K * H * W;

    public static BenchResult Forward(Generator g)
    {
        using var scope = TensorScope.Enter();
        var x = Tensor.RandN(g, N, C, H, W);
        var w = Tensor.RandN(g, O, C, K, K);
        var b = Tensor.RandN(g, O);
        var secs = BenchTimer.Median(() => { using var y = Ops.Conv2d(x, w, b, 1, 1); }, warmup: 1, runs: 5);
        return new BenchResult("conv3x3_sd_fwd", secs, ForwardFlops / secs / 1e9, BenchTimer.PeakRssMb());
    }

    /// <summary>Forward plus the gradients of input, weight and bias (3× the forward FLOPs).</summary>
    public static BenchResult ForwardBackward(Generator g)
    {
        using var scope = TensorScope.Enter();
        var x = Tensor.RandN(g, N, C, H, W).RequireGrad();
        var w = Tensor.RandN(g, O, C, K, K).RequireGrad();
        var b = Tensor.RandN(g, O).RequireGrad();
        var gy = Tensor.RandN(g, N, O, H, W);
        var secs = BenchTimer.Median(() =>
        {
            using var step = TensorScope.Enter();
            var y = Ops.Conv2d(x, w, b, 1, 1);
            var grads = Autograd.Grad([y], [x, w, b], [gy]);
            foreach (var t in grads) t?.Dispose();
        }, warmup: 1, runs: 5);
        return new BenchResult("conv3x3_sd_fwdbwd", secs, 3 * ForwardFlops / secs / 1e9, BenchTimer.PeakRssMb());
    }
}
