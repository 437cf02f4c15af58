using System.Text.Json.Nodes;
using Deja.Memorization.Detection;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Localization;

/// <summary>The map names of METHODS.md §4 (as in Kim &amp; Lee's code) and §4.8.</summary>
public static class MapNames
{
    public const string Cov = "cov", ScoreDiff = "score_diff", CovBad = "cov_bad", ScoreDiffBad = "score_diff_bad",
        RawCurvature = "raw_curvature", BrightEnding = "bright_ending";

    /// <summary>Every map, in the order tables list them.</summary>
    public static readonly string[] All = [Cov, ScoreDiff, CovBad, ScoreDiffBad, RawCurvature, BrightEnding];

    /// <summary>The maps that need the less-trained model θ̃ (§4.4).</summary>
    public static bool NeedsBadModel(string map) => map is CovBad or ScoreDiffBad;

    public static IReadOnlyList<string> Parse(string text)
    {
        var maps = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var m in maps)
            if (!All.Contains(m)) throw new DejaException($"localize: unknown map '{m}' (use {string.Join(", ", All)})");
        if (maps.Length == 0) throw new DejaException("localize: --maps names no map");
        return [.. All.Where(maps.Contains)];
    }
}

/// <summary>
/// Kim &amp; Lee (ICML'26) localization by coordinate-wise curvature differences, METHODS.md §4.1–§4.4,
/// plus the raw-curvature ablation and the Bright Ending attention map (§4.8). All maps are taken at
/// the last step of the normal CFG sampling trajectory (w = 7.5, 50 DDIM steps): z is the latent after
/// Steps − 1 DDIM updates, t = timesteps[Steps − 1] (t = 1 for SD's 50 steps, σ₁ = 0.041279).
///
/// Curvature maps estimate diag(∂ε̂/∂z) with Hutchinson's estimator, D = (1/K) Σ_k v_k ⊙ Jᵀv_k over K
/// Rademacher probes, or exactly with the standard basis (<see cref="Probes"/> = null, one VJP per
/// coordinate). The three Jacobians involved — of ε̂_θ(z, c), ε̂_θ(z, ∅) and ε̂_θ̃(z, c) — are each
/// recorded once and replayed for every probe (retained graphs), and one backward gives all three
/// Jᵀv, so K probes cost one forward and K backwards per model, not K forwards. With
/// g = −(ε̂_c − ε̂_u), Δh_∅ = max(0, −Σ_ch D_g) = max(0, Σ_ch (D_c − D_u)); cov_bad uses ε̂_θ̃(z, c) for
/// ε̂_u; raw_curvature is max(0, Σ_ch D_c) (K's unused compute_diag_h_cond_only). Score maps:
/// Δs = Σ_ch ((ε̂_a − ε̂_b)/σ_t)², squared, no root (§4.3).
///
/// Differences from the reference code (METHODS.md §6, Kim &amp; Lee): probes come from a dedicated
/// generator seeded with <see cref="ProbeSeed"/> + 10000·(generation seed), the path K's unused
/// <c>hutchinson_seed</c> intended; <see cref="ConsistentSigma"/> puts the curvature maps in score
/// units (÷σ_t) like score_diff — off by default, K's σ inconsistency (cov without 1/σ) is the default.
/// For v-models ε̂ is the ε converted from v (§0.3), differentiated through the conversion.
/// </summary>
public sealed class CurvatureMaps
{
    /// <summary>Above this many latent coordinates exact diagonals are refused (one VJP per coordinate).</summary>
    public const int ExactLimit = 4096;

    public int Steps { get; init; } = 50;
    public double Guidance { get; init; } = 7.5;
    /// <summary>Hutchinson probes K (§4.2: 16); null = the exact Jacobian diagonal.</summary>
    public int? Probes { get; init; } = 16;
    public long ProbeSeed { get; init; } = 0;
    public bool ConsistentSigma { get; init; }

    public void Validate(IDiffusionModelView model)
    {
        if (Steps < 1) throw new DejaException($"localize: --steps must be at least 1, got {Steps}");
        if (!double.IsFinite(Guidance) || Guidance < 0) throw new DejaException($"localize: --guidance must be a finite number ≥ 0, got {Guidance}");
        if (Probes is { } k && k < 1) throw new DejaException($"localize: --probes must be at least 1 (or 'exact'), got {k}");
        int coordinates = model.LatentShape.Aggregate(1, (a, b) => a * b);
        if (Probes is null && coordinates > ExactLimit)
            throw new DejaException($"localize: --probes exact needs one VJP per latent coordinate; {model.Name}'s latents have {coordinates} " +
                $"({Shapes.Str(model.LatentShape)}), more than the {ExactLimit} allowed; use Hutchinson probes (--probes 16)");
    }

    public JsonObject Parameters(IDiffusionModelView model) => new()
    {
        ["steps"] = Steps, ["guidance"] = Guidance, ["probes"] = Probes is { } k ? k : "exact",
        ["probe_seed"] = ProbeSeed, ["consistent_sigma"] = ConsistentSigma,
        ["timestep"] = DetectorSchedule.Timesteps(model, "localize", Steps)[Steps - 1],
    };

    /// <summary>
    /// The latents z [N, C, H, W] where the maps are taken: Steps − 1 guided DDIM updates of x_T [N, ...]
    /// under one condition [1, ...]; also returns t and the trajectory's final sample x₀ (one more
    /// update from z, what the generation shows).
    /// </summary>
    public (Tensor Z, int T, Tensor Final) Trajectory(IDiffusionModelView model, Tensor xT, Tensor condition, Tensor nullCondition)
    {
        Validate(model);
        var timesteps = DetectorSchedule.Timesteps(model, "localize", Steps);
        int n = xT.Shape[0];
        using var _ = GradMode.NoGrad();
        using var nulls = PromptBatch.RepeatRows(nullCondition, n);
        using var conds = PromptBatch.RepeatRows(condition, n);
        using var both = Ops.Concat([nulls, conds], 0);
        var x = xT * 1f;
        Tensor? z = null;
        for (int k = 0; k < Steps; k++)
        {
            int t = timesteps[k];
            if (k == Steps - 1) z = x * 1f;
            using var scope = TensorScope.Enter();
            var output = model.Forward(Ops.Concat([x, x], 0), t, both);
            var u = Ops.Narrow(output, 0, 0, n);
            var c = Ops.Narrow(output, 0, n, n);
            var guided = u + (c - u) * (float)Guidance;
            var next = scope.Keep(model.Scheduler.Step(guided, t, x, Steps).PrevSample);
            x.Dispose();
            x = next;
        }
        return (z!, timesteps[Steps - 1], x);
    }

    /// <summary>
    /// The requested maps at z [N, C, H, W], t, each [N, H, W] at latent resolution, for one condition
    /// [1, ...]; <paramref name="seeds"/> (one per row, the generation's seed) seed the probes. The bad
    /// model (same latent shape, conditioned on the main model's text states) is needed for cov_bad and
    /// score_diff_bad. bright_ending is not computed here (see <see cref="BrightEnding"/>).
    /// </summary>
    public Dictionary<string, float[][]> Compute(IDiffusionModelView model, IDiffusionModelView? bad, Tensor z, int t,
        Tensor condition, Tensor nullCondition, IReadOnlyList<long> seeds, IReadOnlyCollection<string> maps)
    {
        Validate(model);
        int n = z.Shape[0], ch = z.Shape[1], h = z.Shape[2], w = z.Shape[3], plane = h * w, size = ch * plane;
        if (seeds.Count != n) throw new ArgumentException($"localize: {seeds.Count} seeds for {n} latents");
        bool wantBad = maps.Any(MapNames.NeedsBadModel);
        if (wantBad && bad is null) throw new DejaException("localize: cov_bad and score_diff_bad need a less-trained model (--bad-model DIR)");
        bool curvature = maps.Contains(MapNames.Cov) || maps.Contains(MapNames.CovBad) || maps.Contains(MapNames.RawCurvature);
        bool needU = maps.Contains(MapNames.Cov) || maps.Contains(MapNames.ScoreDiff);
        float sigma = model.Scheduler.Schedule.Sigma(t);
        var result = new Dictionary<string, float[][]>();

        using var scope = TensorScope.Enter();
        using var conds = PromptBatch.RepeatRows(condition, n);
        using var nulls = PromptBatch.RepeatRows(nullCondition, n);
        using var grad = GradMode.Set(curvature);
        // Disjoint graphs, one leaf each: one backward then yields each Jacobian's Jᵀv separately.
        Tensor Leaf() { var l = z.Detach() * 1f; l.RequiresGrad = curvature; return l; }
        var zc = Leaf();
        var epsC = model.Scheduler.Epsilon(model.Forward(zc, t, conds), zc, t);
        Tensor? zu = null, epsU = null, zb = null, epsB = null;
        if (needU) { zu = Leaf(); epsU = model.Scheduler.Epsilon(model.Forward(zu, t, nulls), zu, t); }
        if (wantBad) { zb = Leaf(); epsB = bad!.Scheduler.Epsilon(bad.Forward(zb, t, conds), zb, t); }

        float[] c = epsC.Detach().ToArray();
        if (maps.Contains(MapNames.ScoreDiff)) result[MapNames.ScoreDiff] = ScoreMap(c, epsU!.Detach().ToArray(), n, ch, plane, sigma);
        if (maps.Contains(MapNames.ScoreDiffBad)) result[MapNames.ScoreDiffBad] = ScoreMap(c, epsB!.Detach().ToArray(), n, ch, plane, sigma);

        if (curvature)
        {
            var outputs = new List<Tensor> { epsC };
            var inputs = new List<Tensor> { zc };
            if (maps.Contains(MapNames.Cov)) { outputs.Add(epsU!); inputs.Add(zu!); }
            if (maps.Contains(MapNames.CovBad)) { outputs.Add(epsB!); inputs.Add(zb!); }
            var diag = inputs.Select(_ => new double[n * size]).ToArray();
            var generators = seeds.Select(s => new Generator(ProbeSeed + 10000 * s)).ToArray();
            int probes = Probes ?? size;
            var v = new float[n * size];
            for (int k = 0; k < probes; k++)
            {
                if (Probes is null) { Array.Clear(v); for (int r = 0; r < n; r++) v[r * size + k] = 1; }
                else for (int r = 0; r < n; r++) generators[r].FillRademacher(v.AsSpan(r * size, size));
                using var probeScope = TensorScope.Enter();
                var seed = Tensor.FromArray(v, z.Shape);
                var grads = Autograd.Grad([.. outputs], [.. inputs], [.. outputs.Select(_ => seed)], retainGraph: k + 1 < probes);
                for (int i = 0; i < grads.Length; i++)
                {
                    var g = (grads[i] ?? throw new InvalidOperationException("localize: the model output does not depend on the latents")).ReadOnlySpan;
                    var d = diag[i];
                    for (int j = 0; j < d.Length; j++) d[j] += (double)v[j] * g[j];
                }
            }
            // D = (1/K)·Σ v ⊙ Jᵀv (Hutchinson); the basis sum is the diagonal itself.
            double scale = (Probes is { } kk ? 1.0 / kk : 1.0) * (ConsistentSigma ? 1.0 / sigma : 1.0);
            double[] dc = diag[0];
            int next = 1;
            if (maps.Contains(MapNames.Cov)) result[MapNames.Cov] = CurvatureMap(dc, diag[next++], n, ch, plane, scale);
            if (maps.Contains(MapNames.CovBad)) result[MapNames.CovBad] = CurvatureMap(dc, diag[next++], n, ch, plane, scale);
            if (maps.Contains(MapNames.RawCurvature)) result[MapNames.RawCurvature] = CurvatureMap(dc, null, n, ch, plane, scale);
        }
        return result;
    }

    /// <summary>max(0, Σ_ch (D_a − D_b)) per pixel (D_b = 0 for the raw ablation), scaled.</summary>
    static float[][] CurvatureMap(double[] a, double[]? b, int n, int ch, int plane, double scale)
    {
        var maps = new float[n][];
        for (int r = 0; r < n; r++)
        {
            var m = maps[r] = new float[plane];
            for (int p = 0; p < plane; p++)
            {
                double s = 0;
                for (int c = 0; c < ch; c++)
                {
                    int j = (r * ch + c) * plane + p;
                    s += a[j] - (b is null ? 0 : b[j]);
                }
                m[p] = (float)Math.Max(0, s * scale);
            }
        }
        return maps;
    }

    /// <summary>Σ_ch ((ε̂_a − ε̂_b)/σ)² per pixel (§4.3).</summary>
    static float[][] ScoreMap(float[] a, float[] b, int n, int ch, int plane, float sigma)
    {
        var maps = new float[n][];
        for (int r = 0; r < n; r++)
        {
            var m = maps[r] = new float[plane];
            for (int p = 0; p < plane; p++)
            {
                double s = 0;
                for (int c = 0; c < ch; c++)
                {
                    int j = (r * ch + c) * plane + p;
                    double d = (a[j] - b[j]) / sigma;
                    s += d * d;
                }
                m[p] = (float)s;
            }
        }
        return maps;
    }
}
