namespace Deja.Tensors;

/// <summary>
/// Whether ops record a backward graph on this thread. Inside <see cref="NoGrad"/> nothing is
/// recorded, so intermediates can be freed as soon as they are consumed.
/// </summary>
public static class GradMode
{
    [ThreadStatic] static bool disabled;

    public static bool IsEnabled => !disabled;

    /// <summary>A scope in which no op records history: <c>using (GradMode.NoGrad()) { ... }</c></summary>
    public static Restore NoGrad() => Set(false);

    /// <summary>A scope with recording switched on or off.</summary>
    public static Restore Set(bool enabled)
    {
        var r = new Restore(!disabled);
        disabled = !enabled;
        return r;
    }

    public readonly struct Restore : IDisposable
    {
        readonly bool previous;
        internal Restore(bool previous) { this.previous = previous; }
        public void Dispose() => disabled = !previous;
    }
}
