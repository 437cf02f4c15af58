namespace Deja.Tensors.Optim;

/// <summary>
/// Base of the optimizers: a fixed list of named parameters, per-parameter state created on the first
/// step that parameter has a gradient (as in PyTorch, a parameter without .Grad is skipped and its
/// step count does not advance), and export/import of that state for resuming after a kill.
/// Updates write straight into the parameters' buffers with vector kernels; nothing is recorded.
/// </summary>
public abstract class Optimizer
{
    /// <summary>Per-parameter state: its own step count and named buffers ("exp_avg", ...).</summary>
    protected sealed class ParamState
    {
        public long Step;
        public readonly Dictionary<string, Tensor> Slots = new();
    }

    readonly (string Name, Tensor Value)[] parameters;
    readonly ParamState?[] states;
    readonly string kind;

    /// <summary>The learning rate; settable between steps (schedules).</summary>
    public double LearningRate { get; set; }

    /// <summary>Number of <see cref="Step"/> calls.</summary>
    public long StepCount { get; private set; }

    public IReadOnlyList<(string Name, Tensor Value)> Parameters => parameters;

    protected Optimizer(string kind, IEnumerable<(string Name, Tensor Value)> parameters, double learningRate)
    {
        this.kind = kind;
        this.parameters = parameters.ToArray();
        if (this.parameters.Length == 0) throw new ArgumentException($"{kind}: got an empty parameter list");
        if (!(learningRate >= 0)) throw new ArgumentException($"{kind}: invalid learning rate {learningRate}");
        var names = new HashSet<string>();
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (name, p) in this.parameters)
        {
            if (!names.Add(name)) throw new ArgumentException($"{kind}: parameter name '{name}' appears twice");
            if (!seen.Add(p)) throw new ArgumentException($"{kind}: parameter '{name}' is the same tensor as an earlier one");
            if (!p.IsLeaf) throw new ArgumentException($"{kind}: parameter '{name}' was computed by '{p.GradFnName}'; only leaf tensors can be optimized");
        }
        states = new ParamState?[this.parameters.Length];
        LearningRate = learningRate;
    }

    /// <summary>Names "0", "1", ... for an unnamed parameter list.</summary>
    protected static IEnumerable<(string Name, Tensor Value)> Numbered(IEnumerable<Tensor> parameters)
        => parameters.Select((p, i) => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), p));

    /// <summary>The state buffers every stepped parameter has (checked on import).</summary>
    protected abstract IReadOnlyCollection<string> SlotNames { get; }

    /// <summary>Updates one parameter in place from its gradient; <paramref name="state"/>.Step is already advanced.</summary>
    protected abstract void Update(Tensor param, Tensor grad, ParamState state);

    /// <summary>One optimization step over every parameter that has a gradient.</summary>
    public void Step()
    {
        using var _ = GradMode.NoGrad();
        StepCount++;
        for (int i = 0; i < parameters.Length; i++)
        {
            var (name, p) = parameters[i];
            var g = p.Grad;
            if (g is null) continue;
            if (!Shapes.Equal(g.Shape, p.Shape))
                throw new InvalidOperationException($"{kind}: gradient of '{name}' has shape {Shapes.Str(g.Shape)}, the parameter {Shapes.Str(p.Shape)}");
            var st = states[i] ??= new ParamState();
            st.Step++;
            Update(p, g, st);
        }
    }

    /// <summary>Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)).</summary>
    public void ZeroGrad()
    {
        foreach (var (_, p) in parameters) p.ZeroGrad();
    }

    /// <summary>A zero-filled state buffer shaped like <paramref name="like"/>, owned by the optimizer (no scope disposes it).</summary>
    protected static Tensor NewSlot(ParamState state, string slot, Tensor like)
    {
        var t = Tensor.Zeros(like.Shape);
        TensorScope.Untrack(t);
        state.Slots[slot] = t;
        return t;
    }

    /// <summary>
    /// A copy of the state: later steps do not change it. Its tensors are new, like any op result
    /// (an enclosing TensorScope disposes them when it ends).
    /// </summary>
    public OptimizerState ExportState()
    {
        var s = new OptimizerState { Step = StepCount };
        for (int i = 0; i < parameters.Length; i++)
        {
            var st = states[i];
            if (st is null) continue;
            var name = parameters[i].Name;
            s.Counters[name + ".step"] = st.Step;
            foreach (var (slot, t) in st.Slots) s.Tensors[name + "." + slot] = Tensor.FromArray(t.ReadOnlySpan, t.Shape);
        }
        return s;
    }

    /// <summary>
    /// Replaces the state with a copy of <paramref name="state"/> (from <see cref="ExportState"/>, possibly
    /// of another optimizer instance over parameters with the same names and shapes). Nothing changes
    /// unless every key fits.
    /// </summary>
    public void ImportState(OptimizerState state)
    {
        var index = new Dictionary<string, int>();
        for (int i = 0; i < parameters.Length; i++) index[parameters[i].Name] = i;
        var problems = new List<string>();
        var fresh = new ParamState?[parameters.Length];
        foreach (var (key, step) in state.Counters)
        {
            if (!key.EndsWith(".step", StringComparison.Ordinal) || !index.TryGetValue(key[..^5], out int i))
            { problems.Add($"unexpected counter '{key}'"); continue; }
            if (step < 1) problems.Add($"'{key}' = {step} (a saved state has taken at least one step)");
            fresh[i] = new ParamState { Step = step };
        }
        foreach (var (key, t) in state.Tensors)
        {
            int dot = key.LastIndexOf('.');
            if (dot < 0 || !index.TryGetValue(key[..dot], out int i) || !SlotNames.Contains(key[(dot + 1)..]))
            { problems.Add($"unexpected tensor '{key}'"); continue; }
            var p = parameters[i].Value;
            if (!Shapes.Equal(t.Shape, p.Shape)) { problems.Add($"'{key}' has shape {Shapes.Str(t.Shape)}, the parameter {Shapes.Str(p.Shape)}"); continue; }
            if (fresh[i] is null) { problems.Add($"'{key}' has no step counter '{key[..dot]}.step'"); continue; }
        }
        for (int i = 0; i < fresh.Length; i++)
        {
            if (fresh[i] is null) continue;
            foreach (var slot in SlotNames)
                if (!state.Tensors.ContainsKey(parameters[i].Name + "." + slot)) problems.Add($"missing tensor '{parameters[i].Name}.{slot}'");
        }
        if (state.Step < 0) problems.Add($"negative step count {state.Step}");
        if (problems.Count > 0)
            throw new InvalidDataException($"{kind}: optimizer state does not fit ({problems.Count} problem{(problems.Count > 1 ? "s" : "")}):\n  " +
                                           string.Join("\n  ", problems.Take(20)));
        foreach (var (key, t) in state.Tensors)
        {
            int dot = key.LastIndexOf('.');
            var copy = Tensor.FromArray(t.ReadOnlySpan, t.Shape);
            TensorScope.Untrack(copy);
            fresh[index[key[..dot]]]!.Slots[key[(dot + 1)..]] = copy;
        }
        for (int i = 0; i < states.Length; i++)
        {
            if (states[i] is { } old) foreach (var t in old.Slots.Values) t.Dispose();
            states[i] = fresh[i];
        }
        StepCount = state.Step;
    }
}
