using System.Security.Cryptography;
using Deja.Diffusion.Schedulers;
using Deja.Tensors;

namespace Deja.Memorization.Models;

/// <summary>What a condition of the analytic model is, by construction (the ground truth).</summary>
public enum MemorizationKind { Normal, Memorized, PartiallyMemorized }

/// <summary>
/// One condition ("prompt") of <see cref="GaussianMixtureModel"/>: its weights over the model's
/// components (summing to 1), its kind and, for partial memorization, the coordinates whose variance
/// collapsed (the region a localization method should find).
/// </summary>
public sealed record MixtureCondition(string Prompt, double[] Weights, MemorizationKind Kind, bool[]? CollapsedMask = null);

/// <summary>
/// An analytic text-to-image diffusion model: every condition is a mixture of diagonal Gaussians in data
/// space (d = C·H·W), the unconditional model is the prior-weighted mixture of all conditions, and the
/// forward process x_t = √ᾱ·x₀ + σ·ε keeps each component Gaussian: N(√ᾱ·μ_k, ᾱ·v_k + σ²). So ε, the
/// score, the Hessian of log p_t (the Jacobian of the score), its diagonal and its products with vectors
/// are exact in closed form — the oracle every method is checked against.
///
/// Two implementations side by side: <see cref="Forward"/> builds ε from differentiable float32 ops (so
/// methods can take gradients, even second order, exactly as on a UNet); the double-precision methods
/// below (<see cref="Epsilon"/>, <see cref="ScoreJvp"/>, <see cref="ScoreHessianDiagonal"/>) are the
/// closed forms.
/// </summary>
public sealed class GaussianMixtureModel : IDiffusionModelView
{
    readonly double[][] means, variances;
    readonly double[] nullWeights;
    readonly Dictionary<string, int> byPrompt;

    public string Name { get; }
    public string Id { get; }
    public ModelFamily Family => ModelFamily.Analytic;
    public Ddim Scheduler { get; }
    public int[] LatentShape { get; }
    public int Dimension { get; }
    public int ComponentCount => means.Length;
    public IReadOnlyList<MixtureCondition> Conditions { get; }

    /// <param name="shape">The latent shape [C, H, W].</param>
    /// <param name="means">Component means μ_k (each of length C·H·W).</param>
    /// <param name="variances">Component variances v_k per coordinate (positive).</param>
    /// <param name="conditions">The conditions; the unconditional model weighs them equally.</param>
    public GaussianMixtureModel(int[] shape, double[][] means, double[][] variances, IReadOnlyList<MixtureCondition> conditions,
        PredictionType prediction = PredictionType.Epsilon, string name = "analytic")
    {
        ArgumentNullException.ThrowIfNull(shape); ArgumentNullException.ThrowIfNull(means);
        ArgumentNullException.ThrowIfNull(variances); ArgumentNullException.ThrowIfNull(conditions);
        if (shape.Length != 3 || shape.Any(s => s < 1)) throw new ArgumentException($"analytic model: latent shape must be [C, H, W], got [{string.Join(", ", shape)}]");
        int d = shape[0] * shape[1] * shape[2];
        if (means.Length == 0 || means.Length != variances.Length) throw new ArgumentException("analytic model: need as many component means as variances, at least one");
        for (int k = 0; k < means.Length; k++)
        {
            if (means[k].Length != d || variances[k].Length != d) throw new ArgumentException($"analytic model: component {k} must have {d} coordinates");
            if (variances[k].Any(v => !(v > 0))) throw new ArgumentException($"analytic model: component {k} has a non-positive variance");
        }
        if (conditions.Count == 0) throw new ArgumentException("analytic model: no conditions");
        if (prediction == PredictionType.Sample) throw new ArgumentException("analytic model: only epsilon and v_prediction outputs are supported");
        byPrompt = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int c = 0; c < conditions.Count; c++)
        {
            var w = conditions[c].Weights;
            if (w.Length != means.Length || w.Any(x => x < 0) || Math.Abs(w.Sum() - 1) > 1e-9)
                throw new ArgumentException($"analytic model: condition '{conditions[c].Prompt}' needs {means.Length} non-negative weights summing to 1");
            if (!byPrompt.TryAdd(conditions[c].Prompt, c)) throw new ArgumentException($"analytic model: duplicate condition '{conditions[c].Prompt}'");
        }
        this.means = means; this.variances = variances;
        Conditions = conditions;
        LatentShape = [.. shape];
        Dimension = d;
        nullWeights = new double[means.Length];
        foreach (var c in conditions)
            for (int k = 0; k < nullWeights.Length; k++) nullWeights[k] += c.Weights[k] / conditions.Count;
        Scheduler = new Ddim(NoiseSchedule.Create("scaled_linear"), prediction);
        Name = name;
        Id = Fingerprint(shape, means, variances, conditions, prediction);
    }

    // ------------------------------------------------------------------ the methods' view

    public EncodedConditions Encode(IReadOnlyList<string> prompts)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new ArgumentException("analytic model: no prompts to encode");
        var data = new float[prompts.Count * ComponentCount];
        for (int p = 0; p < prompts.Count; p++)
        {
            if (!byPrompt.TryGetValue(prompts[p], out int c))
                throw new ArgumentException($"analytic model '{Name}' has no condition '{prompts[p]}' (it has {Conditions.Count}, e.g. '{Conditions[0].Prompt}')");
            for (int k = 0; k < ComponentCount; k++) data[p * ComponentCount + k] = (float)Conditions[c].Weights[k];
        }
        return new EncodedConditions(Tensor.FromArray(data, prompts.Count, ComponentCount), new int[prompts.Count], new bool[prompts.Count]);
    }

    public Tensor NullCondition() => Tensor.FromArray(nullWeights.Select(w => (float)w).ToArray(), 1, ComponentCount);

    /// <summary>The null condition's weights (the unconditional mixture), in double precision.</summary>
    public double[] NullWeights => [.. nullWeights];

    public double[] WeightsOf(string prompt) =>
        byPrompt.TryGetValue(prompt, out int c) ? [.. Conditions[c].Weights] : throw new ArgumentException($"analytic model: no condition '{prompt}'");

    /// <summary>
    /// ε (or v) for latents [B, C, H, W] and weights [B, K], from differentiable ops: responsibilities
    /// r = softmax_k(log w_k − ½·Σ(x − m_k)²/V_k − ½·Σ log V_k), score = −Σ_k r_k (x − m_k)/V_k, ε = −σ·score.
    /// </summary>
    public Tensor Forward(Tensor latents, int t, Tensor conditions)
    {
        ArgumentNullException.ThrowIfNull(latents); ArgumentNullException.ThrowIfNull(conditions);
        int b = latents.Shape[0], K = ComponentCount, d = Dimension;
        if (latents.Rank != 4 || latents.Length != b * d)
            throw new ArgumentException($"analytic model: latents must be [B, {string.Join(", ", LatentShape)}], got {Shapes.Str(latents.Shape)}");
        if (!Shapes.Equal(conditions.Shape, [b, K]))
            throw new ArgumentException($"analytic model: conditions must be [{b}, {K}] mixture weights, got {Shapes.Str(conditions.Shape)}");
        var (m, invV, logDet, alphaBar) = Diffused(t);
        float sigma = (float)Math.Sqrt(1 - alphaBar);
        // log w, differentiable in the weights (prompt mitigation optimizes them); an absent component must
        // stay absent at any distance, so a constant −1e30 is added where w ≤ 0 (its clamped log has no gradient)
        var absent = new float[b * K];
        var ws = conditions.ReadOnlySpan;
        for (int i = 0; i < ws.Length; i++) if (!(ws[i] > 0)) absent[i] = -1e30f;
        var logW = Ops.Log(Ops.Clamp(conditions, 1e-30f, null)) + Tensor.FromArray(absent, b, K);

        var x = Ops.Reshape(latents, b, 1, d);
        var diff = x - Ops.Reshape(m, 1, K, d);                                  // [B, K, d]
        var scaled = diff * Ops.Reshape(invV, 1, K, d);
        var q = Ops.Sum(diff * scaled, 2);                                        // Mahalanobis² [B, K]
        var logits = logW - q * 0.5f - Ops.Reshape(logDet, 1, K) * 0.5f;
        var r = Ops.Softmax(logits, 1);
        var score = -Ops.Sum(Ops.Reshape(r, b, K, 1) * scaled, 1);              // [B, d]
        var eps = score * -sigma;
        var output = Scheduler.Prediction == PredictionType.VPrediction
            ? (eps - Ops.Reshape(latents, b, d) * sigma) * (1f / (float)Math.Sqrt(alphaBar))   // v = (ε − σx)/√ᾱ
            : eps;
        return Ops.Reshape(output, latents.Shape);
    }

    (Tensor Means, Tensor InvVar, Tensor LogDet, double AlphaBar) Diffused(int t)
    {
        double a = AlphaBar(t), s2 = 1 - a, sa = Math.Sqrt(a);
        int K = ComponentCount, d = Dimension;
        var m = new float[K * d]; var iv = new float[K * d]; var ld = new float[K];
        for (int k = 0; k < K; k++)
        {
            double logDet = 0;
            for (int i = 0; i < d; i++)
            {
                double v = a * variances[k][i] + s2;
                m[k * d + i] = (float)(sa * means[k][i]);
                iv[k * d + i] = (float)(1 / v);
                logDet += Math.Log(v);
            }
            ld[k] = (float)logDet;
        }
        return (Tensor.FromArray(m, K, d), Tensor.FromArray(iv, K, d), Tensor.FromArray(ld, K), a);
    }

    /// <summary>ᾱ_t of the model's schedule (the float32 Stable Diffusion values, widened).</summary>
    public double AlphaBar(int t) => Scheduler.Schedule.AlphaBar(t);

    // ------------------------------------------------------------------ closed forms (double precision)

    /// <summary>Responsibilities r_k(x) and per-component g_k = −(x − m_k)/V_k at timestep t under weights w.</summary>
    (double[] R, double[][] G) Posterior(double[] x, int t, double[] w)
    {
        if (x.Length != Dimension) throw new ArgumentException($"analytic model: x must have {Dimension} coordinates");
        if (w.Length != ComponentCount) throw new ArgumentException($"analytic model: weights must have {ComponentCount} entries");
        double a = AlphaBar(t), s2 = 1 - a, sa = Math.Sqrt(a);
        int K = ComponentCount, d = Dimension;
        var logit = new double[K]; var g = new double[K][];
        for (int k = 0; k < K; k++)
        {
            g[k] = new double[d];
            if (w[k] <= 0) { logit[k] = double.NegativeInfinity; continue; }
            double q = 0, logDet = 0;
            for (int i = 0; i < d; i++)
            {
                double v = a * variances[k][i] + s2, diff = x[i] - sa * means[k][i];
                q += diff * diff / v; logDet += Math.Log(v);
                g[k][i] = -diff / v;
            }
            logit[k] = Math.Log(w[k]) - 0.5 * q - 0.5 * logDet;
        }
        double max = logit.Max(), sum = 0;
        var r = new double[K];
        for (int k = 0; k < K; k++) { r[k] = Math.Exp(logit[k] - max); sum += r[k]; }
        for (int k = 0; k < K; k++) r[k] /= sum;
        return (r, g);
    }

    /// <summary>The exact score ∇ log p_t(x | w) = Σ_k r_k·g_k.</summary>
    public double[] Score(double[] x, int t, double[] w)
    {
        var (r, g) = Posterior(x, t, w);
        return Mix(r, g);
    }

    /// <summary>Σ_k r_k·g_k: the score from the posterior's responsibilities and per-component scores.</summary>
    static double[] Mix(double[] r, double[][] g)
    {
        var s = new double[g[0].Length];
        for (int k = 0; k < r.Length; k++)
            if (r[k] > 0) for (int i = 0; i < s.Length; i++) s[i] += r[k] * g[k][i];
        return s;
    }

    /// <summary>
    /// The exact Jacobian of ε(x, t, w) in the weights, one row per component k:
    /// ∂ε/∂w_k = −σ·(r_k/w_k)·(g_k − s), from ∂r_j/∂w_k = (r_k/w_k)(δ_jk − r_j) (zero for an absent component).
    /// </summary>
    public double[][] EpsilonWeightJacobian(double[] x, int t, double[] w)
    {
        var (r, g) = Posterior(x, t, w);
        double sigma = Math.Sqrt(1 - AlphaBar(t));
        var s = Mix(r, g);
        var jac = new double[r.Length][];
        for (int k = 0; k < r.Length; k++)
        {
            jac[k] = new double[Dimension];
            if (!(w[k] > 0)) continue;
            double f = -sigma * r[k] / w[k];
            for (int i = 0; i < s.Length; i++) jac[k][i] = f * (g[k][i] - s[i]);
        }
        return jac;
    }

    /// <summary>The exact ε(x, t, w) = −σ_t·score.</summary>
    public double[] Epsilon(double[] x, int t, double[] w)
    {
        double sigma = Math.Sqrt(1 - AlphaBar(t));
        return Score(x, t, w).Select(s => -sigma * s).ToArray();
    }

    /// <summary>
    /// The exact product H·v of the Hessian of log p_t(x | w) (the score's Jacobian) with v:
    /// H = Σ_k r_k (g_k g_kᵀ − diag(1/V_k)) − s sᵀ.
    /// </summary>
    public double[] ScoreJvp(double[] x, int t, double[] w, double[] v)
    {
        if (v.Length != Dimension) throw new ArgumentException($"analytic model: v must have {Dimension} coordinates");
        var (r, g) = Posterior(x, t, w);
        double a = AlphaBar(t), s2 = 1 - a;
        int d = Dimension;
        var s = new double[d]; var hv = new double[d];
        for (int k = 0; k < r.Length; k++)
        {
            if (r[k] == 0) continue;
            double gv = 0;
            for (int i = 0; i < d; i++) { gv += g[k][i] * v[i]; s[i] += r[k] * g[k][i]; }
            for (int i = 0; i < d; i++) hv[i] += r[k] * (g[k][i] * gv - v[i] / (a * variances[k][i] + s2));
        }
        double sv = 0;
        for (int i = 0; i < d; i++) sv += s[i] * v[i];
        for (int i = 0; i < d; i++) hv[i] -= s[i] * sv;
        return hv;
    }

    /// <summary>The exact diagonal of the Hessian of log p_t(x | w): Σ_k r_k (g_k² − 1/V_k) − s².</summary>
    public double[] ScoreHessianDiagonal(double[] x, int t, double[] w)
    {
        var (r, g) = Posterior(x, t, w);
        double a = AlphaBar(t), s2 = 1 - a;
        int d = Dimension;
        var s = new double[d]; var diag = new double[d];
        for (int k = 0; k < r.Length; k++)
        {
            if (r[k] == 0) continue;
            for (int i = 0; i < d; i++)
            {
                s[i] += r[k] * g[k][i];
                diag[i] += r[k] * (g[k][i] * g[k][i] - 1 / (a * variances[k][i] + s2));
            }
        }
        for (int i = 0; i < d; i++) diag[i] -= s[i] * s[i];
        return diag;
    }

    static string Fingerprint(int[] shape, double[][] means, double[][] variances, IReadOnlyList<MixtureCondition> conditions, PredictionType prediction)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(double v) => h.AppendData(BitConverter.GetBytes(v));
        foreach (var s in shape) Add(s);
        Add((int)prediction);
        foreach (var m in means) foreach (var v in m) Add(v);
        foreach (var m in variances) foreach (var v in m) Add(v);
        foreach (var c in conditions) { h.AppendData(System.Text.Encoding.UTF8.GetBytes(c.Prompt)); foreach (var v in c.Weights) Add(v); }
        return "analytic-" + Convert.ToHexStringLower(h.GetHashAndReset())[..16];
    }
}
