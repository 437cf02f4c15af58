namespace Deja.Tensors;

public sealed partial class Tensor
{
    public static Tensor operator +(Tensor a, Tensor b) => Ops.Add(a, b);
    public static Tensor operator -(Tensor a, Tensor b) => Ops.Sub(a, b);
    public static Tensor operator *(Tensor a, Tensor b) => Ops.Mul(a, b);
    public static Tensor operator /(Tensor a, Tensor b) => Ops.Div(a, b);
    public static Tensor operator -(Tensor a) => Ops.Neg(a);
    public static Tensor operator +(Tensor a, float s) => Ops.AddScalar(a, s);
    public static Tensor operator +(float s, Tensor a) => Ops.AddScalar(a, s);
    public static Tensor operator -(Tensor a, float s) => Ops.AddScalar(a, -s);
    public static Tensor operator -(float s, Tensor a) => Ops.RSub(s, a);
    public static Tensor operator *(Tensor a, float s) => Ops.MulScalar(a, s);
    public static Tensor operator *(float s, Tensor a) => Ops.MulScalar(a, s);
    public static Tensor operator /(Tensor a, float s) => Ops.MulScalar(a, 1f / s);
    public static Tensor operator /(float s, Tensor a) => Ops.RDiv(s, a);

    public Tensor Reshape(params int[] shape) => Ops.Reshape(this, shape);
    public Tensor Sum() => Ops.Sum(this);
    public Tensor Sum(int dim, bool keepDim = false) => Ops.Sum(this, dim, keepDim);
}
