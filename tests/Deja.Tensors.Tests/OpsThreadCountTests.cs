using Deja.Tensors.Tests.Support;

namespace Deja.Tensors.Tests;

/// <summary>The parallel kernels give the same results with one thread and with two, on tensors large enough to be split.</summary>
[Collection(Deja.Tensors.Tests.ThreadSensitive.Name)]
public class OpsThreadCountTests
{
    static readonly Tensor Big = Rand.Normal(21, 3, 1000, 1000); // 3M elements

    static void Same(Func<Tensor> op, string what)
    {
        var one = ThreadCount.With(1, () => op().ToArray());
        var two = ThreadCount.With(2, () => op().ToArray());
        Close.All(one, two, 1e-5, 0, what);
    }

    [Fact]
    public void UnaryKernels()
    {
        Same(() => Ops.Exp(Big), "exp");
        Same(() => Ops.Gelu(Big), "gelu");
        Same(() => Ops.GeluTanh(Big), "gelu_tanh");
        Same(() => Ops.Silu(Big), "silu");
        Same(() => Ops.Clamp(Big, -1f, 1f), "clamp");
    }

    [Fact]
    public void Reductions()
    {
        Same(() => Ops.Sum(Big), "sum all");
        Same(() => Ops.Sum(Big, [0]), "sum dim 0");
        Same(() => Ops.Sum(Big, [0, 2]), "sum dims 0, 2");
        Same(() => Ops.Sum(Big, [2]), "sum dim 2");
        Same(() => Ops.Mean(Big, [1]), "mean dim 1");
        Same(() => Ops.Var(Big, [1, 2]), "var");
        Same(() => Ops.Max(Big, [1]), "max");
        Same(() => Ops.Min(Big), "min all");
        Same(() => Ops.LogSumExp(Big, [2]), "logsumexp rows");
        Same(() => Ops.LogSumExp(Big, [0, 1]), "logsumexp columns");
        Same(() => Ops.LogSumExp(Big, []), "logsumexp all");
        Same(() => Ops.Norm(Big), "norm");
        Same(() => Ops.Softmax(Big, 2), "softmax rows");
        Same(() => Ops.LogSoftmax(Big, 1), "log_softmax columns");
    }

    [Fact]
    public void LayoutKernels()
    {
        Same(() => Ops.Permute(Big, 2, 0, 1), "permute tiles");
        Same(() => Ops.Permute(Ops.Reshape(Big, 3, 1000, 25, 40), 0, 2, 1, 3), "permute runs");
        Same(() => Ops.Concat([Big, Big], 1), "concat");
        Same(() => Ops.Narrow(Big, 2, 10, 900), "narrow");
    }

    [Fact]
    public void Backward()
    {
        Tensor GradOf(Func<Tensor, Tensor> f)
        {
            var x = Big.Detach().RequireGrad();
            Ops.Sum(Ops.Mul(f(x), Big)).Backward();
            return x.Grad!;
        }
        Same(() => GradOf(x => Ops.Max(x, [0, 2])), "max backward (permuted mask)");
        Same(() => GradOf(x => Ops.Softmax(x, 1)), "softmax backward");
        Same(() => GradOf(Ops.Gelu), "gelu backward");
    }
}
