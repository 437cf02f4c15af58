namespace Deja.Tensors.Optim;

/// <summary>
/// Adam with PyTorch semantics (torch.optim.Adam, single-tensor path): weight decay is L2, added to
/// the gradient; bias correction as torch: step_size = lr / (1 − β1ᵗ),
/// denom = √v / √(1 − β2ᵗ) + eps; optional AMSGrad. State per parameter: "exp_avg", "exp_avg_sq"
/// (and "max_exp_avg_sq" with AMSGrad), and its own step count t.
/// </summary>
public class Adam : Optimizer
{
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }
    public double WeightDecay { get; set; }
    public bool AmsGrad { get; }

    /// <summary>True for AdamW: p ← p·(1 − lr·wd) before the Adam update instead of L2 on the gradient.</summary>
    protected bool Decoupled { get; }

    public Adam(IEnumerable<(string Name, Tensor Value)> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0, bool amsGrad = false)
        : this("Adam", parameters, lr, beta1, beta2, eps, weightDecay, amsGrad, decoupled: false) { }

    public Adam(IEnumerable<Tensor> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0, bool amsGrad = false)
        : this(Numbered(parameters), lr, beta1, beta2, eps, weightDecay, amsGrad) { }

    protected Adam(string kind, IEnumerable<(string Name, Tensor Value)> parameters, double lr, double beta1, double beta2,
        double eps, double weightDecay, bool amsGrad, bool decoupled) : base(kind, parameters, lr)
    {
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentException($"{kind}: invalid beta1 {beta1} (must be in [0, 1))");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentException($"{kind}: invalid beta2 {beta2} (must be in [0, 1))");
        if (!(eps >= 0)) throw new ArgumentException($"{kind}: invalid eps {eps}");
        if (!(weightDecay >= 0)) throw new ArgumentException($"{kind}: invalid weight decay {weightDecay}");
        (Beta1, Beta2, Eps, WeightDecay, AmsGrad, Decoupled) = (beta1, beta2, eps, weightDecay, amsGrad, decoupled);
        slotNames = amsGrad ? ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] : ["exp_avg", "exp_avg_sq"];
    }

    readonly string[] slotNames;
    protected override IReadOnlyCollection<string> SlotNames => slotNames;

    protected override void Update(Tensor param, Tensor grad, ParamState state)
    {
        if (state.Step == 1)
            foreach (var slot in slotNames) NewSlot(state, slot, param);
        double lr = LearningRate, t = state.Step;
        var c = new AdamScalars(
            Decay: Decoupled && WeightDecay != 0 ? (float)(1 - lr * WeightDecay) : 1f,
            L2: Decoupled ? 0f : (float)WeightDecay,
            OneMinusBeta1: (float)(1 - Beta1),
            Beta2: (float)Beta2,
            OneMinusBeta2: (float)(1 - Beta2),
            StepSize: (float)(lr / (1 - Math.Pow(Beta1, t))),
            Bias2Sqrt: (float)Math.Sqrt(1 - Math.Pow(Beta2, t)),
            Eps: (float)Eps);
        float[] p = param.Array, g = grad.Array, m = state.Slots["exp_avg"].Array, v = state.Slots["exp_avg_sq"].Array;
        int po = param.Offset, go = grad.Offset, mo = state.Slots["exp_avg"].Offset, vo = state.Slots["exp_avg_sq"].Offset;
        var vmaxT = AmsGrad ? state.Slots["max_exp_avg_sq"] : null;
        UpdateKernels.Run(param.Length, (s, e) => UpdateKernels.Adam(p.AsSpan(po + s, e - s), g.AsSpan(go + s, e - s),
            m.AsSpan(mo + s, e - s), v.AsSpan(vo + s, e - s), vmaxT is null ? default : vmaxT.Array.AsSpan(vmaxT.Offset + s, e - s), c));
    }
}

/// <summary>
/// AdamW with PyTorch semantics (torch.optim.AdamW): decoupled weight decay p ← p − lr·wd·p applied
/// before the Adam update (default wd 0.01), then exactly <see cref="Adam"/>'s update without L2.
/// </summary>
public sealed class AdamW : Adam
{
    public AdamW(IEnumerable<(string Name, Tensor Value)> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0.01, bool amsGrad = false)
        : base("AdamW", parameters, lr, beta1, beta2, eps, weightDecay, amsGrad, decoupled: true) { }

    public AdamW(IEnumerable<Tensor> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0.01, bool amsGrad = false)
        : this(Numbered(parameters), lr, beta1, beta2, eps, weightDecay, amsGrad) { }
}
