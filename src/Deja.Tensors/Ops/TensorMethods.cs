namespace Deja.Tensors;

// Instance shorthands for the common ops (x.Exp(), x.Mean(1), x.Permute(0, 2, 1), ...).
public sealed partial class Tensor
{
    public Tensor Exp() => Ops.Exp(this);
    public Tensor Log() => Ops.Log(this);
    public Tensor Sqrt() => Ops.Sqrt(this);
    public Tensor Rsqrt() => Ops.Rsqrt(this);
    public Tensor Pow(float p) => Ops.Pow(this, p);
    public Tensor Square() => Ops.Square(this);
    public Tensor Abs() => Ops.Abs(this);
    public Tensor Tanh() => Ops.Tanh(this);
    public Tensor Sigmoid() => Ops.Sigmoid(this);
    public Tensor Relu() => Ops.Relu(this);
    public Tensor Clamp(float? min = null, float? max = null) => Ops.Clamp(this, min, max);

    /// <summary>Mean over dims (all when none given).</summary>
    public Tensor Mean(params int[] dims) => Ops.Mean(this, dims);
    public Tensor Mean(int dim, bool keepDim) => Ops.Mean(this, [dim], keepDim);
    public Tensor Var(int dim, bool unbiased = true, bool keepDim = false) => Ops.Var(this, [dim], unbiased, keepDim);
    public Tensor Max(params int[] dims) => Ops.Max(this, dims);
    public Tensor Min(params int[] dims) => Ops.Min(this, dims);
    public Tensor Norm() => Ops.Norm(this);
    public Tensor LogSumExp(int dim, bool keepDim = false) => Ops.LogSumExp(this, [dim], keepDim);
    public Tensor Softmax(int dim) => Ops.Softmax(this, dim);
    public Tensor LogSoftmax(int dim) => Ops.LogSoftmax(this, dim);

    public Tensor Permute(params int[] dims) => Ops.Permute(this, dims);
    public Tensor Transpose(int dim0, int dim1) => Ops.Transpose(this, dim0, dim1);
    public Tensor Narrow(int dim, int start, int length) => Ops.Narrow(this, dim, start, length);
    public Tensor Squeeze(int dim) => Ops.Squeeze(this, dim);
    public Tensor Unsqueeze(int dim) => Ops.Unsqueeze(this, dim);
    public Tensor Flatten(int startDim = 0, int endDim = -1) => Ops.Flatten(this, startDim, endDim);
    /// <summary>A materialized broadcast to <paramref name="shape"/> (PyTorch's expand, as a copy).</summary>
    public Tensor Expand(params int[] shape) => Ops.BroadcastTo(this, shape);
}
