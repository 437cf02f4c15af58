namespace Deja.Tensors;

/// <summary>
/// Disposes, when it ends, every tensor created on this thread while it was the innermost scope,
/// except those passed to <see cref="Keep"/>. It lets inference code free intermediates as soon as a
/// block is done with them, so full-size Stable Diffusion runs in a few GB. Tensors a backward node
/// saved stay valid (the node holds its own reference to the buffer).
/// <code>using (var s = TensorScope.Enter()) { var h = ...; return s.Keep(h); }</code>
/// </summary>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] static TensorScope? current;

    readonly TensorScope? outer;
    readonly HashSet<Tensor> tracked = new(ReferenceEqualityComparer.Instance);
    bool ended;

    TensorScope(TensorScope? outer) { this.outer = outer; }

    public static TensorScope Enter()
    {
        var s = new TensorScope(current);
        current = s;
        return s;
    }

    internal static void Track(Tensor t) => current?.tracked.Add(t);

    /// <summary>Removes <paramref name="t"/> from every active scope (it now lives elsewhere: a parameter, a .Grad).</summary>
    public static void Untrack(Tensor t)
    {
        for (var s = current; s is not null; s = s.outer) s.tracked.Remove(t);
    }

    /// <summary>Exempts <paramref name="t"/> from this scope; it belongs to the enclosing scope, if any.</summary>
    public Tensor Keep(Tensor t)
    {
        if (tracked.Remove(t)) outer?.tracked.Add(t);
        return t;
    }

    public void Dispose()
    {
        if (ended) return;
        ended = true;
        if (current != this) throw new InvalidOperationException("TensorScope: scopes must end in the reverse order they were entered");
        current = outer;
        foreach (var t in tracked) t.Dispose();
        tracked.Clear();
    }
}
