namespace Deja.Tensors;

public sealed partial class Tensor
{
    internal bool requiresGrad;
    internal Node? GradFn;

    /// <summary>Whether gradients flow to this tensor. Settable only on leaves (tensors no op produced).</summary>
    public bool RequiresGrad
    {
        get => requiresGrad;
        set
        {
            if (GradFn is not null && !value)
                throw new InvalidOperationException("RequiresGrad cannot be switched off on a tensor computed by a recorded op; use Detach()");
            requiresGrad = value;
        }
    }

    /// <summary>The accumulated gradient of a leaf after <see cref="Backward"/>.</summary>
    public Tensor? Grad { get; set; }

    /// <summary>True for tensors not produced by a recorded op.</summary>
    public bool IsLeaf => GradFn is null;

    /// <summary>Name of the op that produced this tensor, or null for a leaf.</summary>
    public string? GradFnName => GradFn?.Op;

    /// <summary>Marks this leaf as needing a gradient and returns it.</summary>
    public Tensor RequireGrad(bool requires = true)
    {
        RequiresGrad = requires;
        return this;
    }

    /// <summary>The same data without autograd history (shares storage).</summary>
    public Tensor Detach() => Alias();

    /// <summary>
    /// Back-propagates from this tensor (a scalar, or with an explicit <paramref name="gradient"/>) and
    /// accumulates into the .Grad of every leaf that requires grad.
    /// </summary>
    public void Backward(Tensor? gradient = null, bool retainGraph = false, bool createGraph = false)
        => Autograd.Run([this], [gradient], retainGraph || createGraph, createGraph, null, null);

    /// <summary>Drops the accumulated gradient.</summary>
    public void ZeroGrad()
    {
        Grad?.Dispose();
        Grad = null;
    }
}
