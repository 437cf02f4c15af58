namespace Deja.Tensors;

/// <summary>
/// Tape-based reverse-mode differentiation. Ops call <see cref="Record"/>; <see cref="Tensor.Backward"/>
/// and <see cref="Grad"/> walk the recorded graph from outputs to inputs.
/// Backward functions are written with the same differentiable ops, so with createGraph the
/// gradients carry a graph of their own and can be differentiated again (Hessian-vector products).
/// </summary>
public static class Autograd
{
    /// <summary>
    /// When set, every backward node's wall time is added here under its op name (seconds, calls):
    /// `deja bench train --profile` reads it. Set and read it on one thread at a time.
    /// </summary>
    public static Dictionary<string, (double Seconds, long Calls)>? BackwardProfile { get; set; }

    /// <summary>
    /// Attaches a backward node to <paramref name="output"/> if recording is on and any input needs a
    /// gradient. <paramref name="save"/> lists the tensors <paramref name="backward"/> reads.
    /// </summary>
    public static Tensor Record(Tensor output, string op, Tensor[] inputs, BackwardFn backward, params Tensor[] save)
    {
        if (!GradMode.IsEnabled) return output;
        bool any = false;
        foreach (var i in inputs) any |= i.RequiresGrad;
        if (!any) return output;
        output.GradFn = new Node(op, inputs, backward, save);
        output.requiresGrad = true;
        return output;
    }

    /// <summary>
    /// Gradients of <paramref name="outputs"/> (weighted by <paramref name="gradOutputs"/>, default 1 for
    /// scalars) with respect to <paramref name="inputs"/>, without touching any .Grad.
    /// An input the outputs do not depend on gets null.
    /// </summary>
    public static Tensor?[] Grad(Tensor[] outputs, Tensor[] inputs, Tensor?[]? gradOutputs = null,
        bool retainGraph = false, bool createGraph = false)
    {
        var result = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance);
        var targets = new HashSet<Tensor>(inputs, ReferenceEqualityComparer.Instance);
        Run(outputs, gradOutputs, retainGraph || createGraph, createGraph, targets, result);
        var o = new Tensor?[inputs.Length];
        for (int i = 0; i < inputs.Length; i++) o[i] = result.TryGetValue(inputs[i], out var g) ? g : null;
        return o;
    }

    /// <summary>Gradient of one output with respect to one input.</summary>
    public static Tensor? Grad(Tensor output, Tensor input, Tensor? gradOutput = null, bool retainGraph = false, bool createGraph = false)
        => Grad([output], [input], [gradOutput], retainGraph, createGraph)[0];

    internal static void Run(Tensor[] roots, Tensor?[]? rootGrads, bool retainGraph, bool createGraph,
        HashSet<Tensor>? targets, Dictionary<Tensor, Tensor>? captured)
    {
        using var mode = GradMode.Set(createGraph);
        var grads = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < roots.Length; i++)
        {
            var r = roots[i];
            if (!r.RequiresGrad)
                throw new InvalidOperationException($"Backward: output {i} of shape {Shapes.Str(r.Shape)} does not require grad (was it computed under NoGrad, or from tensors that need no gradient?)");
            var g = rootGrads is not null && i < rootGrads.Length ? rootGrads[i] : null;
            if (g is null)
            {
                if (r.Length != 1)
                    throw new InvalidOperationException($"Backward: output of shape {Shapes.Str(r.Shape)} is not a scalar; pass its gradient explicitly");
                g = Tensor.OnesLike(r);
            }
            else
            {
                if (!Shapes.Equal(g.Shape, r.Shape))
                    throw new ArgumentException($"Backward: gradient of shape {Shapes.Str(g.Shape)} for an output of shape {Shapes.Str(r.Shape)}");
                // With createGraph a gradOutput that requires grad stays in the graph: differentiating
                // the result with respect to it gives Jacobian-vector products (the double-VJP trick).
                if (!(createGraph && g.RequiresGrad)) g = g.Alias();
            }
            Accumulate(grads, r, g, createGraph);
        }

        foreach (var t in TopologicalOrder(roots))
        {
            if (!grads.Remove(t, out var g)) continue;
            bool kept = false;
            if (targets is not null && targets.Contains(t))
            {
                // With createGraph the gradient itself is returned (it carries the graph).
                if (createGraph) { captured![t] = g; kept = true; }
                else captured![t] = g.Alias();
            }
            if (t.GradFn is null)
            {
                if (targets is null && t.RequiresGrad)
                {
                    // Out of place: a gradient may alias a caller's tensor, which must not change.
                    if (t.Grad is null) { t.Grad = g; kept = true; }
                    else { var old = t.Grad; t.Grad = old + g; if (!createGraph) old.Dispose(); }
                    TensorScope.Untrack(t.Grad); // a .Grad outlives the scope backward ran in
                }
            }
            else
            {
                var node = t.GradFn;
                var profile = BackwardProfile;
                long started = profile is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
                var inGrads = node.Apply(g);
                if (profile is not null)
                {
                    profile.TryGetValue(node.Op, out var sofar);
                    profile[node.Op] = (sofar.Seconds + System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds, sofar.Calls + 1);
                }
                for (int k = 0; k < inGrads.Length; k++)
                {
                    var ig = inGrads[k];
                    var input = node.Inputs[k];
                    if (ig is null || !input.RequiresGrad) { if (ig is not null && !ReferenceEquals(ig, g)) ig.Dispose(); continue; }
                    if (!Shapes.Equal(ig.Shape, input.Shape))
                        throw new InvalidOperationException($"backward of '{node.Op}' gave a gradient of shape {Shapes.Str(ig.Shape)} for input {k} of shape {Shapes.Str(input.Shape)}");
                    // A pass-through gradient (add, reshape to the same shape, ...) must keep its graph when
                    // createGraph; only without it does g get disposed below, so the input needs its own reference.
                    if (ReferenceEquals(ig, g) && !createGraph) ig = g.Alias();
                    Accumulate(grads, input, ig, createGraph);
                }
                if (!retainGraph) node.Release();
            }
            if (!kept && !createGraph) g.Dispose();
        }
        foreach (var g in grads.Values) g.Dispose();
    }

    static void Accumulate(Dictionary<Tensor, Tensor> grads, Tensor t, Tensor g, bool createGraph)
    {
        if (!grads.TryGetValue(t, out var prev)) { grads[t] = g; return; }
        if (createGraph) { grads[t] = prev + g; return; }
        var sum = Tensor.Empty(t.Shape);
        Kernels.Elementwise.Add(prev.ReadOnlySpan, g.ReadOnlySpan, sum.Span);
        prev.Dispose();
        g.Dispose();
        grads[t] = sum;
    }

    /// <summary>Tensors reachable from the roots, each after every tensor computed from it.</summary>
    static List<Tensor> TopologicalOrder(Tensor[] roots)
    {
        var post = new List<Tensor>();
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Tensor t, int next)>();
        foreach (var r in roots)
        {
            if (!seen.Add(r)) continue;
            stack.Push((r, 0));
            while (stack.Count > 0)
            {
                var (t, next) = stack.Pop();
                var inputs = t.GradFn?.Inputs;
                if (inputs is not null && next < inputs.Length)
                {
                    stack.Push((t, next + 1));
                    var child = inputs[next];
                    if (child.RequiresGrad && seen.Add(child)) stack.Push((child, 0));
                }
                else post.Add(t);
            }
        }
        post.Reverse();
        return post;
    }
}
