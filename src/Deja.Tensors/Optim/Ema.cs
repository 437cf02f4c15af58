using Deja.Tensors.Nn;

namespace Deja.Tensors.Optim;

/// <summary>
/// Exponential moving average of parameters: after each optimizer step, <see cref="Update"/> sets
/// shadow ← shadow − (1 − d)·(shadow − param) (= d·shadow + (1 − d)·param). The shadows start as
/// copies of the parameters. With <c>warmup</c> (the default, diffusers' EMAModel with
/// use_ema_warmup=False, update_after_step=0, min_decay=0), update number k uses
/// d = min(decay, (1 + s)/(10 + s)) with s = k − 1, and d = 0 for k = 1 (the first update copies);
/// without warmup d = decay throughout. Parameters that do not require grad are copied, not averaged
/// (as diffusers does).
/// </summary>
public sealed class Ema
{
    readonly (string Name, Tensor Param, Tensor Shadow)[] entries;

    public double Decay { get; }
    public bool Warmup { get; }

    /// <summary>Number of <see cref="Update"/> calls.</summary>
    public long Step { get; private set; }

    public Ema(IEnumerable<(string Name, Tensor Value)> parameters, double decay = 0.9999, bool warmup = true)
    {
        if (!(decay >= 0 && decay <= 1)) throw new ArgumentException($"Ema: invalid decay {decay} (must be in [0, 1])");
        Decay = decay;
        Warmup = warmup;
        var names = new HashSet<string>();
        entries = parameters.Select(p =>
        {
            if (!names.Add(p.Name)) throw new ArgumentException($"Ema: parameter name '{p.Name}' appears twice");
            var shadow = Tensor.FromArray(p.Value.ReadOnlySpan, p.Value.Shape);
            TensorScope.Untrack(shadow);
            return (p.Name, p.Value, shadow);
        }).ToArray();
    }

    public Ema(Module module, double decay = 0.9999, bool warmup = true) : this(module.NamedParameters(), decay, warmup) { }

    /// <summary>The decay update number <paramref name="k"/> (1-based) uses.</summary>
    public double DecayAt(long k)
    {
        if (!Warmup) return Decay;
        long s = k - 1;
        return s <= 0 ? 0 : Math.Min(Decay, (1.0 + s) / (10.0 + s));
    }

    /// <summary>Moves every shadow towards its parameter's current value.</summary>
    public void Update()
    {
        Step++;
        float oneMinus = (float)(1 - DecayAt(Step));
        foreach (var (_, p, sh) in entries)
        {
            if (!p.RequiresGrad) { sh.CopyFrom(p); continue; }
            float[] s = sh.Array, v = p.Array;
            int so = sh.Offset, vo = p.Offset;
            UpdateKernels.Run(p.Length, (a, e) => UpdateKernels.EmaUpdate(s.AsSpan(so + a, e - a), v.AsSpan(vo + a, e - a), oneMinus));
        }
    }

    /// <summary>The averaged value of one parameter (the live shadow; do not dispose it).</summary>
    public Tensor Shadow(string name)
    {
        foreach (var (n, _, sh) in entries) if (n == name) return sh;
        throw new KeyNotFoundException($"Ema: no parameter named '{name}'");
    }

    /// <summary>Copies the averages into the tracked parameters themselves (e.g. before evaluation or saving).</summary>
    public void CopyToParameters()
    {
        foreach (var (_, p, sh) in entries) p.CopyFrom(sh);
    }

    /// <summary>Copies the averages into another module's parameters with the same names (e.g. an inference copy).</summary>
    public void CopyTo(Module module) => CopyTo(module.NamedParameters());

    public void CopyTo(IEnumerable<(string Name, Tensor Value)> targets)
    {
        var byName = entries.ToDictionary(e => e.Name, e => e.Shadow);
        var list = targets.ToList();
        var problems = new List<string>();
        foreach (var (n, t) in list)
        {
            if (!byName.TryGetValue(n, out var sh)) problems.Add($"no average for '{n}'");
            else if (!Shapes.Equal(sh.Shape, t.Shape)) problems.Add($"'{n}': average {Shapes.Str(sh.Shape)}, target {Shapes.Str(t.Shape)}");
        }
        if (problems.Count > 0) throw new ArgumentException("Ema.CopyTo: targets do not fit:\n  " + string.Join("\n  ", problems.Take(20)));
        foreach (var (n, t) in list) t.CopyFrom(byName[n]);
    }

    /// <summary>A copy of the shadows (keyed by parameter name) and the update count.</summary>
    public OptimizerState ExportState()
    {
        var s = new OptimizerState { Step = Step };
        foreach (var (n, _, sh) in entries) s.Tensors[n] = Tensor.FromArray(sh.ReadOnlySpan, sh.Shape);
        return s;
    }

    /// <summary>Restores shadows and update count; every parameter must be present with its shape.</summary>
    public void ImportState(OptimizerState state)
    {
        var problems = new List<string>();
        foreach (var (n, _, sh) in entries)
        {
            if (!state.Tensors.TryGetValue(n, out var t)) problems.Add($"missing '{n}'");
            else if (!Shapes.Equal(t.Shape, sh.Shape)) problems.Add($"'{n}' has shape {Shapes.Str(t.Shape)}, the parameter {Shapes.Str(sh.Shape)}");
        }
        var names = entries.Select(e => e.Name).ToHashSet();
        foreach (var k in state.Tensors.Keys)
            if (!names.Contains(k)) problems.Add($"unexpected tensor '{k}'");
        if (state.Step < 0) problems.Add($"negative step count {state.Step}");
        if (problems.Count > 0) throw new InvalidDataException("Ema: state does not fit:\n  " + string.Join("\n  ", problems.Take(20)));
        foreach (var (n, _, sh) in entries) sh.CopyFrom(state.Tensors[n]);
        Step = state.Step;
    }
}
