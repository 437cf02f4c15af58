namespace Deja.Tensors.Nn;

/// <summary>
/// nn.Conv2d with a square kernel (groups 1, dilation 1): parameters "weight" [out, in, k, k] and
/// optional "bias" [out]. PyTorch's default init: kaiming-uniform with a = √5, which is
/// U(−1/√fan_in, 1/√fan_in) with fan_in = in·k·k, for the weight and the bias alike.
/// </summary>
public sealed class Conv2d : Module
{
    public Tensor Weight { get; }
    public Tensor? Bias { get; }
    public int Stride { get; }
    public int Padding { get; }

    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, bool bias = true, Generator? init = null)
    {
        if (inChannels < 1 || outChannels < 1 || kernelSize < 1)
            throw new ArgumentException($"Conv2d: channels and kernel size must be positive, got in {inChannels}, out {outChannels}, kernel {kernelSize}");
        if (stride < 1 || padding < 0)
            throw new ArgumentException($"Conv2d: stride must be at least 1 and padding not negative, got stride {stride}, padding {padding}");
        Stride = stride;
        Padding = padding;
        float bound = 1f / MathF.Sqrt((float)inChannels * kernelSize * kernelSize);
        var g = init ?? new Generator(0);
        Weight = Parameter("weight", Tensor.Uniform(g, -bound, bound, outChannels, inChannels, kernelSize, kernelSize));
        if (bias) Bias = Parameter("bias", Tensor.Uniform(g, -bound, bound, outChannels));
    }

    public Tensor Forward(Tensor x) => Ops.Conv2d(x, Weight, Bias, Stride, Padding);
}
