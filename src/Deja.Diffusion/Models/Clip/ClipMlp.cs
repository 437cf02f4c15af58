using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.Clip;

/// <summary>CLIPMLP: fc2(act(fc1(x))) with the config's activation (quick_gelu or exact gelu).</summary>
public sealed class ClipMlp : Module
{
    readonly Func<Tensor, Tensor> activation;

    public Linear Fc1 { get; }
    public Linear Fc2 { get; }

    public ClipMlp(int hidden, int intermediate, string activationName, Generator init)
    {
        activation = Activation(activationName);
        Fc1 = Register("fc1", new Linear(hidden, intermediate, init: init));
        Fc2 = Register("fc2", new Linear(intermediate, hidden, init: init));
    }

    public Tensor Forward(Tensor x)
    {
        using var up = Fc1.Forward(x);
        using var act = activation(up);
        return Fc2.Forward(act);
    }

    /// <summary>transformers' ACT2FN entries for the names a CLIP text config may use.</summary>
    static Func<Tensor, Tensor> Activation(string name) => name switch
    {
        "quick_gelu" => Ops.QuickGelu,
        "gelu" => Ops.Gelu,
        _ => throw new ArgumentException($"ClipMlp: hidden_act '{name}' is not supported (supported: {string.Join(", ", IO.ClipTextConfig.SupportedActivations)})"),
    };
}
