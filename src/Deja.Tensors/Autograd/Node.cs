namespace Deja.Tensors;

/// <summary>Computes the gradients of an op's inputs from the gradient of its output
/// (entries may be null for inputs that need none).</summary>
public delegate Tensor?[] BackwardFn(Tensor gradOutput);

/// <summary>
/// One recorded op in the backward graph: its inputs, the function mapping the output gradient to
/// input gradients, and references to the tensors that function reads (so they outlive a Dispose).
/// </summary>
internal sealed class Node
{
    public readonly string Op;
    public readonly Tensor[] Inputs;
    BackwardFn? fn;
    Tensor[] saved;

    public Node(string op, Tensor[] inputs, BackwardFn fn, Tensor[] toSave)
    {
        Op = op;
        Inputs = inputs;
        this.fn = fn;
        saved = new Tensor[toSave.Length];
        for (int i = 0; i < toSave.Length; i++) saved[i] = toSave[i].Alias(track: false); // owned by the node, never by a scope
    }

    public bool IsReleased => fn is null;

    public Tensor?[] Apply(Tensor gradOutput)
    {
        var f = fn ?? throw new InvalidOperationException(
            $"Backward through '{Op}' a second time: its saved tensors were freed by the first backward; pass retainGraph: true to the first one");
        var grads = f(gradOutput);
        if (grads.Length != Inputs.Length)
            throw new InvalidOperationException($"backward of '{Op}' returned {grads.Length} gradients for {Inputs.Length} inputs");
        return grads;
    }

    /// <summary>Frees what the backward function captured; a later Apply throws a clear error.</summary>
    public void Release()
    {
        fn = null;
        foreach (var s in saved) s.Dispose();
        saved = [];
    }
}
