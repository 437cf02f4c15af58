namespace Deja.Tensors.Nn;

/// <summary>
/// nn.LayerNorm over the last dim (of size <c>normalizedShape</c>); with
/// <c>elementwiseAffine</c>, parameters "weight" (ones) and "bias" (zeros) as in PyTorch.
/// </summary>
public sealed class LayerNorm : Module
{
    public int NormalizedShape { get; }
    public double Eps { get; }
    public Tensor? Weight { get; }
    public Tensor? Bias { get; }

    public LayerNorm(int normalizedShape, double eps = 1e-5, bool elementwiseAffine = true, bool bias = true)
    {
        if (normalizedShape <= 0) throw new ArgumentException($"LayerNorm: normalized size must be positive, got {normalizedShape}");
        NormalizedShape = normalizedShape;
        Eps = eps;
        if (elementwiseAffine)
        {
            Weight = Parameter("weight", Tensor.Ones(normalizedShape));
            if (bias) Bias = Parameter("bias", Tensor.Zeros(normalizedShape));
        }
    }

    public Tensor Forward(Tensor x)
    {
        if (x.Rank < 1 || x.Shape[^1] != NormalizedShape)
            throw new ArgumentException($"LayerNorm: input {Shapes.Str(x.Shape)} does not end in {NormalizedShape} features");
        return Ops.LayerNorm(x, Weight, Bias, Eps);
    }
}
