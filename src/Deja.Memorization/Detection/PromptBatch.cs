using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Detection;

/// <summary>
/// A batch of P prompts as the detectors see it: their conditions [P, ...], the null condition [1, ...]
/// and the initial noise of each prompt, [n, C, H, W]. When every prompt uses the same noise (the
/// fixed-seed policy of Asthana and Jeon) the unconditional branch is computed once for the batch
/// instead of once per prompt.
/// </summary>
public sealed class PromptBatch
{
    public Tensor Conditions { get; }
    public Tensor NullCondition { get; }
    public IReadOnlyList<Tensor> Latents { get; }
    public int Count => Latents.Count;
    public int Generations { get; }
    public bool SharedLatents { get; }
    /// <summary>
    /// Each prompt's token count as <see cref="EncodedConditions.TokenCounts"/> holds it (untruncated,
    /// BOS and EOS included), when the batch was built from encoded prompts; null otherwise. Methods
    /// that look at a prompt's tokens (Bright Ending's end token) need it.
    /// </summary>
    public IReadOnlyList<int>? TokenCounts { get; }

    public PromptBatch(Tensor conditions, Tensor nullCondition, IReadOnlyList<Tensor> latents, IReadOnlyList<int>? tokenCounts = null)
    {
        ArgumentNullException.ThrowIfNull(conditions); ArgumentNullException.ThrowIfNull(nullCondition); ArgumentNullException.ThrowIfNull(latents);
        if (latents.Count == 0 || conditions.Shape[0] != latents.Count)
            throw new ArgumentException($"prompt batch: {conditions.Shape[0]} conditions but {latents.Count} latent sets");
        if (nullCondition.Shape[0] != 1 || !Shapes.Equal(nullCondition.Shape[1..], conditions.Shape[1..]))
            throw new ArgumentException($"prompt batch: null condition {Shapes.Str(nullCondition.Shape)} does not match conditions {Shapes.Str(conditions.Shape)}");
        var first = latents[0];
        if (first.Rank != 4) throw new ArgumentException($"prompt batch: latents must be [n, C, H, W], got {Shapes.Str(first.Shape)}");
        foreach (var l in latents)
            if (!Shapes.Equal(l.Shape, first.Shape))
                throw new ArgumentException($"prompt batch: all prompts need latents of one shape; got {Shapes.Str(first.Shape)} and {Shapes.Str(l.Shape)}");
        if (tokenCounts is not null && tokenCounts.Count != latents.Count)
            throw new ArgumentException($"prompt batch: {tokenCounts.Count} token counts for {latents.Count} prompts");
        Conditions = conditions; NullCondition = nullCondition; Latents = latents; TokenCounts = tokenCounts;
        Generations = first.Shape[0];
        SharedLatents = latents.All(l => ReferenceEquals(l, first));
    }

    /// <summary>The latents of all prompts stacked prompt-major: row p·n + j is generation j of prompt p.</summary>
    /// <remarks>Always a tensor of its own (a view for one prompt), so the caller may dispose it.</remarks>
    public Tensor StackedLatents() => Latents.Count == 1 ? Latents[0].Detach() : Ops.Concat([.. Latents], 0);

    /// <summary>Each condition repeated n times, prompt-major: [P·n, ...].</summary>
    public Tensor RepeatedConditions() => RepeatRows(Conditions, Generations);

    /// <summary>The null condition repeated <paramref name="count"/> times.</summary>
    public Tensor RepeatedNull(int count) => RepeatRows(NullCondition, count);

    internal static Tensor RepeatRows(Tensor rows, int times)
    {
        if (times == 1) return rows.Detach(); // a view of its own: conditions are constants here
        var parts = new List<Tensor>();
        for (int p = 0; p < rows.Shape[0]; p++)
        {
            var row = Ops.Narrow(rows, 0, p, 1);
            for (int j = 0; j < times; j++) parts.Add(row);
        }
        return Ops.Concat([.. parts], 0);
    }

    /// <summary>
    /// One classifier-free-guidance pass at timestep <paramref name="t"/> on latents [P·n, C, H, W]:
    /// the raw model outputs (unconditional, conditional), each [P·n, C, H, W], from ONE model call with
    /// the batch layout [∅ ; c] of every reference implementation (METHODS.md §0.5). With
    /// <paramref name="shareUnconditional"/> (all prompts on the same noise) the unconditional rows are
    /// computed for the n distinct latents only and repeated.
    /// </summary>
    public (Tensor Uncond, Tensor Cond) CfgOutputs(IDiffusionModelView model, Tensor latents, int t, bool shareUnconditional)
    {
        int rows = Count * Generations;
        if (latents.Shape[0] != rows) throw new ArgumentException($"prompt batch: expected {rows} latent rows, got {latents.Shape[0]}");
        var cond = RepeatedConditions();
        if (shareUnconditional && Count > 1)
        {
            var distinct = Ops.Narrow(latents, 0, 0, Generations);
            var output = model.Forward(Ops.Concat([distinct, latents], 0), t, Ops.Concat([RepeatedNull(Generations), cond], 0));
            var u = Ops.Narrow(output, 0, 0, Generations);
            return (RepeatRows(Ops.Reshape(u, [1, .. u.Shape]), Count).Reshape(latents.Shape), Ops.Narrow(output, 0, Generations, rows));
        }
        var both = model.Forward(Ops.Concat([latents, latents], 0), t, Ops.Concat([RepeatedNull(rows), cond], 0));
        return (Ops.Narrow(both, 0, 0, rows), Ops.Narrow(both, 0, rows, rows));
    }
}
