namespace Deja.Tensors.Nn;

/// <summary>
/// Base of every layer and model. Children and parameters are registered under names, and a
/// parameter's dotted path (e.g. "down_blocks.0.resnets.1.conv1.weight") is its checkpoint key, so
/// loading a checkpoint is a lookup by key.
/// </summary>
public abstract class Module
{
    readonly List<(string Name, Module Child)> children = [];
    readonly List<(string Name, Tensor Value)> parameters = [];
    readonly List<(string Name, Tensor Value)> buffers = [];

    /// <summary>Training mode (dropout active); switch with <see cref="Train"/> / <see cref="Eval"/>.</summary>
    public bool Training { get; private set; } = true;

    protected T Register<T>(string name, T child) where T : Module
    {
        CheckName(name);
        children.Add((name, child));
        return child;
    }

    /// <summary>Registers a trainable tensor (it is marked RequiresGrad).</summary>
    protected Tensor Parameter(string name, Tensor value)
    {
        CheckName(name);
        value.RequiresGrad = true;
        TensorScope.Untrack(value);
        parameters.Add((name, value));
        return value;
    }

    /// <summary>Registers a tensor that is saved and loaded but not trained.</summary>
    protected Tensor Buffer(string name, Tensor value)
    {
        CheckName(name);
        TensorScope.Untrack(value);
        buffers.Add((name, value));
        return value;
    }

    void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"module member name '{name}' must be non-empty and contain no '.'");
        if (children.Any(c => c.Name == name) || parameters.Any(p => p.Name == name) || buffers.Any(b => b.Name == name))
            throw new ArgumentException($"module member '{name}' registered twice in {GetType().Name}");
    }

    public IEnumerable<(string Name, Module Child)> NamedChildren() => children;

    /// <summary>Every trainable tensor with its dotted path.</summary>
    public IEnumerable<(string Name, Tensor Value)> NamedParameters(string prefix = "")
    {
        foreach (var (n, p) in parameters) yield return (prefix + n, p);
        foreach (var (n, c) in children)
            foreach (var x in c.NamedParameters(prefix + n + ".")) yield return x;
    }

    public IEnumerable<(string Name, Tensor Value)> NamedBuffers(string prefix = "")
    {
        foreach (var (n, b) in buffers) yield return (prefix + n, b);
        foreach (var (n, c) in children)
            foreach (var x in c.NamedBuffers(prefix + n + ".")) yield return x;
    }

    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(p => p.Value);

    /// <summary>Number of trainable scalars.</summary>
    public long ParameterCount() => Parameters().Sum(p => (long)p.Length);

    /// <summary>Parameters and buffers by checkpoint key (the tensors themselves, not copies).</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var d = new Dictionary<string, Tensor>();
        foreach (var (n, p) in NamedParameters()) d[n] = p;
        foreach (var (n, b) in NamedBuffers()) d[n] = b;
        return d;
    }

    /// <summary>
    /// Copies values into this module's tensors by key. With <paramref name="strict"/>, a missing or
    /// unexpected key is an error; a shape mismatch always is. Nothing is written unless all checks pass.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> values, bool strict = true)
    {
        var own = StateDict();
        var problems = new List<string>();
        foreach (var (k, t) in own)
        {
            if (!values.TryGetValue(k, out var v)) { if (strict) problems.Add($"missing key '{k}' {Shapes.Str(t.Shape)}"); continue; }
            if (!Shapes.Equal(v.Shape, t.Shape)) problems.Add($"'{k}': checkpoint has {Shapes.Str(v.Shape)}, model expects {Shapes.Str(t.Shape)}");
        }
        if (strict)
            foreach (var k in values.Keys)
                if (!own.ContainsKey(k)) problems.Add($"unexpected key '{k}'");
        if (problems.Count > 0)
            throw new InvalidDataException($"{GetType().Name}: state dict does not fit ({problems.Count} problem{(problems.Count > 1 ? "s" : "")}):\n  " +
                                           string.Join("\n  ", problems.Take(20)) + (problems.Count > 20 ? $"\n  ... and {problems.Count - 20} more" : ""));
        foreach (var (k, t) in own)
            if (values.TryGetValue(k, out var v)) t.CopyFrom(v);
    }

    public Module Train(bool on = true)
    {
        Training = on;
        foreach (var (_, c) in children) c.Train(on);
        return this;
    }

    public Module Eval() => Train(false);

    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.ZeroGrad();
    }

    /// <summary>Switches gradient tracking of every parameter (freeze with false).</summary>
    public void SetRequiresGrad(bool on)
    {
        foreach (var p in Parameters()) p.RequiresGrad = on;
    }
}

/// <summary>An indexed list of children named "0", "1", ... as in PyTorch's nn.ModuleList.</summary>
public sealed class ModuleList<T> : Module where T : Module
{
    readonly List<T> items = [];

    public ModuleList() { }
    public ModuleList(IEnumerable<T> modules) { foreach (var m in modules) Add(m); }

    public T Add(T module)
    {
        items.Add(Register(items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), module));
        return module;
    }

    public int Count => items.Count;
    public T this[int i] => items[i];
    public IEnumerator<T> GetEnumerator() => items.GetEnumerator();
}

/// <summary>nn.Linear: weight [out, in], optional bias [out]; PyTorch's default init.</summary>
public sealed class Linear : Module
{
    public Tensor Weight { get; }
    public Tensor? Bias { get; }

    public Linear(int inFeatures, int outFeatures, bool bias = true, Generator? init = null)
    {
        float bound = 1f / MathF.Sqrt(Math.Max(inFeatures, 1));
        var g = init ?? new Generator(0);
        Weight = Parameter("weight", Init.Uniform(g, -bound, bound, outFeatures, inFeatures));
        if (bias) Bias = Parameter("bias", Init.Uniform(g, -bound, bound, outFeatures));
    }

    public Tensor Forward(Tensor x) => Ops.Linear(x, Weight, Bias);
}
