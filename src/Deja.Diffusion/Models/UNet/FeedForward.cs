using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.UNet;

/// <summary>
/// diffusers' FeedForward with GEGLU (SD's transformer blocks): net.0.proj Linear(C → 2·4C), value ·
/// gelu(gate) over the two halves, net.1 dropout (p = 0, no parameters), net.2 Linear(4C → C).
/// </summary>
public sealed class FeedForward : Module
{
    readonly Net net;

    public FeedForward(string path, int dim, int mult, Generator init)
    {
        Path = path;
        net = Register("net", new Net(dim, mult * dim, init));
    }

    public string Path { get; }

    /// <summary>The feed-forward output [B, L, C] (without the residual).</summary>
    internal Tensor Forward(Tensor x, UNetPass pass)
    {
        using var scope = TensorScope.Enter();
        var hidden = Hidden(x, pass);
        using (pass.Time(UNetOpKind.Linear)) return scope.Keep(net.Out.Forward(hidden));
    }

    /// <summary>
    /// residual + feed-forward(x) (inference: accumulated into <paramref name="residual"/>, owned by the caller).
    /// Processing the rows in cache-sized tiles (projection, gate, output GEMM per tile) was measured
    /// slower: OpenBLAS loses more on the shorter GEMMs than the round trip through memory costs.
    /// </summary>
    internal Tensor ForwardPlus(Tensor x, Tensor residual, UNetPass pass)
    {
        using var scope = TensorScope.Enter();
        var hidden = Hidden(x, pass);
        return scope.Keep(UNetOps.LinearPlus(hidden, net.Out.Weight, net.Out.Bias, residual, pass));
    }

    Tensor Hidden(Tensor x, UNetPass pass)
    {
        Tensor projected;
        using (pass.Time(UNetOpKind.Linear)) projected = net.Geglu.Proj.Forward(x);
        using (projected) return UNetOps.GatedGelu(projected, pass);
    }

    /// <summary>The "net" list: GEGLU at index 0, the output Linear at 2 (index 1 is the dropout).</summary>
    sealed class Net : Module
    {
        public Net(int dim, int inner, Generator init)
        {
            Geglu = Register("0", new GegluProjection(dim, inner, init));
            Out = Register("2", new Linear(inner, dim, bias: true, init));
        }

        public GegluProjection Geglu { get; }
        public Linear Out { get; }
    }

    sealed class GegluProjection : Module
    {
        public GegluProjection(int dim, int inner, Generator init) => Proj = Register("proj", new Linear(dim, 2 * inner, bias: true, init));

        public Linear Proj { get; }
    }
}
