namespace Deja.Tensors.Nn;

/// <summary>
/// nn.GroupNorm: normalizes x [N, C, ...] over groups of C/numGroups channels; with
/// <c>affine</c>, per-channel parameters "weight" (ones) and "bias" (zeros) as in PyTorch.
/// </summary>
public sealed class GroupNorm : Module
{
    public int NumGroups { get; }
    public int NumChannels { get; }
    public double Eps { get; }
    public Tensor? Weight { get; }
    public Tensor? Bias { get; }

    public GroupNorm(int numGroups, int numChannels, double eps = 1e-5, bool affine = true)
    {
        if (numGroups <= 0 || numChannels % numGroups != 0)
            throw new ArgumentException($"GroupNorm: {numChannels} channels cannot be split into {numGroups} groups");
        NumGroups = numGroups;
        NumChannels = numChannels;
        Eps = eps;
        if (affine)
        {
            Weight = Parameter("weight", Tensor.Ones(numChannels));
            Bias = Parameter("bias", Tensor.Zeros(numChannels));
        }
    }

    public Tensor Forward(Tensor x)
    {
        CheckChannels(x);
        return Ops.GroupNorm(x, NumGroups, Weight, Bias, Eps);
    }

    /// <summary>SiLU(Forward(x)) fused into one kernel.</summary>
    public Tensor ForwardSilu(Tensor x)
    {
        CheckChannels(x);
        return Ops.GroupNormSilu(x, NumGroups, Weight, Bias, Eps);
    }

    // Without affine parameters the op cannot see the expected channel count, so check it here.
    void CheckChannels(Tensor x)
    {
        if (x.Rank < 2 || x.Shape[1] != NumChannels)
            throw new ArgumentException($"GroupNorm: input {Shapes.Str(x.Shape)} does not have {NumChannels} channels in dim 1");
    }
}
