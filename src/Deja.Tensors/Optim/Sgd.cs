namespace Deja.Tensors.Optim;

/// <summary>
/// Stochastic gradient descent with PyTorch semantics (torch.optim.SGD): weight decay as L2 on the
/// gradient, momentum buffer initialized to the first gradient (no dampening on that step),
/// b ← μ·b + (1 − dampening)·d after, Nesterov d ← d + μ·b. State: "momentum_buffer" when μ &gt; 0.
/// </summary>
public sealed class Sgd : Optimizer
{
    public double Momentum { get; }
    public double Dampening { get; }
    public bool Nesterov { get; }
    public double WeightDecay { get; set; }

    public Sgd(IEnumerable<(string Name, Tensor Value)> parameters, double lr, double momentum = 0, double dampening = 0,
        bool nesterov = false, double weightDecay = 0) : base("SGD", parameters, lr)
    {
        if (!(momentum >= 0)) throw new ArgumentException($"SGD: invalid momentum {momentum}");
        if (!(weightDecay >= 0)) throw new ArgumentException($"SGD: invalid weight decay {weightDecay}");
        if (nesterov && (momentum <= 0 || dampening != 0))
            throw new ArgumentException($"SGD: Nesterov momentum requires a positive momentum and zero dampening (got momentum {momentum}, dampening {dampening})");
        (Momentum, Dampening, Nesterov, WeightDecay) = (momentum, dampening, nesterov, weightDecay);
        slotNames = momentum != 0 ? ["momentum_buffer"] : [];
    }

    public Sgd(IEnumerable<Tensor> parameters, double lr, double momentum = 0, double dampening = 0, bool nesterov = false,
        double weightDecay = 0) : this(Numbered(parameters), lr, momentum, dampening, nesterov, weightDecay) { }

    readonly string[] slotNames;
    protected override IReadOnlyCollection<string> SlotNames => slotNames;

    protected override void Update(Tensor param, Tensor grad, ParamState state)
    {
        bool first = false;
        Tensor? buf = null;
        if (Momentum != 0 && !state.Slots.TryGetValue("momentum_buffer", out buf))
        {
            buf = NewSlot(state, "momentum_buffer", param);
            first = true;
        }
        var c = new SgdScalars((float)LearningRate, (float)WeightDecay, (float)Momentum, (float)(1 - Dampening), Nesterov, first);
        float[] p = param.Array, g = grad.Array;
        int po = param.Offset, go = grad.Offset;
        UpdateKernels.Run(param.Length, (s, e) => UpdateKernels.Sgd(p.AsSpan(po + s, e - s), g.AsSpan(go + s, e - s),
            buf is null ? default : buf.Array.AsSpan(buf.Offset + s, e - s), c));
    }
}
