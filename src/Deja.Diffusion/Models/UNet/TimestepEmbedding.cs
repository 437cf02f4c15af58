using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.UNet;

/// <summary>
/// diffusers' Timesteps (time_proj, no parameters): the sinusoidal embedding of each timestep,
/// frequencies f_i = exp(−ln(10000)·i/(half − freq_shift)), i &lt; half = dim/2, giving [sin(t·f), cos(t·f)],
/// or [cos, sin] with flip_sin_to_cos; a zero column is appended when dim is odd.
/// Computed in float32 the way PyTorch does (exponent, exp, product rounded to float), with sin and
/// cos of the rounded product taken in double.
/// </summary>
public static class TimestepProjection
{
    public static Tensor Compute(ReadOnlySpan<float> timesteps, int dim, bool flipSinToCos, float freqShift)
    {
        if (dim <= 0) throw new ArgumentException($"time_proj: embedding dim must be positive, got {dim}");
        int half = dim / 2, b = timesteps.Length;
        var freq = new float[half];
        float logPeriod = -(float)Math.Log(10000);
        for (int i = 0; i < half; i++) freq[i] = MathF.Exp(logPeriod * i / (half - freqShift));
        var result = Tensor.Zeros(b, dim);
        var r = result.Span;
        for (int n = 0; n < b; n++)
        {
            var row = r.Slice(n * dim, dim);
            for (int i = 0; i < half; i++)
            {
                float arg = timesteps[n] * freq[i];
                float sin = (float)Math.Sin(arg), cos = (float)Math.Cos(arg);
                row[i] = flipSinToCos ? cos : sin;
                row[half + i] = flipSinToCos ? sin : cos;
            }
        }
        return result;
    }
}

/// <summary>diffusers' TimestepEmbedding: linear_1 → SiLU → linear_2.</summary>
public sealed class TimestepEmbedding : Module
{
    readonly Linear linear1, linear2;

    public TimestepEmbedding(int inChannels, int timeEmbedDim, Generator init)
    {
        linear1 = Register("linear_1", new Linear(inChannels, timeEmbedDim, bias: true, init));
        linear2 = Register("linear_2", new Linear(timeEmbedDim, timeEmbedDim, bias: true, init));
    }

    public Tensor Forward(Tensor x)
    {
        using var h = linear1.Forward(x);
        using var a = Ops.Silu(h);
        return linear2.Forward(a);
    }
}
