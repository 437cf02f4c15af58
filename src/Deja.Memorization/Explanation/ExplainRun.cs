using System.Text.Json.Nodes;
using Deja.Memorization.Detection;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Explanation;

/// <summary>One token of a prompt with its significance G[position].</summary>
public sealed record TokenScore(int Position, string Token, double Significance);

/// <summary>A prompt's token significances: its real tokens only (no BOS, EOS or padding).</summary>
public sealed record ExplanationRow(int Index, string Prompt, IReadOnlyList<TokenScore> Tokens, bool Truncated)
{
    /// <summary>The <paramref name="count"/> most significant tokens, highest first.</summary>
    public IEnumerable<TokenScore> Top(int count) => Tokens.OrderByDescending(t => t.Significance).ThenBy(t => t.Position).Take(count);

    public JsonObject ToJson() => new()
    {
        ["index"] = Index, ["prompt"] = Prompt, ["truncated"] = Truncated,
        ["tokens"] = new JsonArray([.. Tokens.Select(t => (JsonNode)new JsonObject
        {
            ["position"] = t.Position, ["token"] = t.Token, ["significance"] = t.Significance,
        })]),
        ["deja_version"] = DejaVersion.Text,
    };
}

/// <summary>
/// `deja explain`'s engine: token significance (<see cref="TokenSignificance"/>) for a list of prompts,
/// batch by batch, on the same noise options as detection (<see cref="InitialNoise"/>).
/// </summary>
public sealed class ExplainRun
{
    public required IDiffusionModelView Model { get; init; }
    public required TokenSignificance Method { get; init; }
    public required InitialNoise Noise { get; init; }
    public int BatchSize { get; init; } = 8;

    public IEnumerable<IReadOnlyList<ExplanationRow>> Run(IReadOnlyList<string> prompts)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (BatchSize < 1) throw new DejaException($"explain: --batch must be at least 1, got {BatchSize}");
        Method.Validate();
        using var nullCondition = Model.NullCondition();
        for (int start = 0; start < prompts.Count; start += BatchSize)
        {
            var indices = Enumerable.Range(start, Math.Min(BatchSize, prompts.Count - start)).ToArray();
            var text = indices.Select(i => prompts[i]).ToArray();
            EncodedConditions encoded;
            using (GradMode.NoGrad()) encoded = Model.Encode(text);
            double[][] g;
            using (encoded)
            {
                var batch = new PromptBatch(encoded.Conditions, nullCondition, indices.Select(Noise.For).ToArray(), encoded.TokenCounts);
                g = Method.Compute(Model, batch);
            }
            yield return indices.Select((index, p) => Row(index, text[p], g[p], encoded.Truncated[p])).ToArray();
        }
    }

    ExplanationRow Row(int index, string prompt, double[] significance, bool truncated)
    {
        foreach (var v in significance)
            if (!double.IsFinite(v)) throw new DejaException($"explain: prompt {index} (\"{prompt}\") has a non-finite significance; the model's outputs are not finite there");
        var labels = TokenLabels(prompt, significance.Length);
        return new ExplanationRow(index, prompt, labels.Select(l => new TokenScore(l.Position, l.Token, significance[l.Position])).ToArray(), truncated);
    }

    /// <summary>
    /// The positions shown and their labels: for Stable Diffusion the prompt's real tokens, positions
    /// 1..L after BOS (at most 75), as readable text; for other models every position of the condition.
    /// </summary>
    IReadOnlyList<(int Position, string Token)> TokenLabels(string prompt, int positions)
    {
        if (Model is StableDiffusionView sd)
        {
            var tokenizer = sd.Pipeline.TextEncoder.Tokenizer;
            var encoding = tokenizer.EncodePadded(prompt);
            return Enumerable.Range(1, encoding.Length - 2)
                .Select(p => (p, Deja.Diffusion.Text.ClipTokenizer.ToReadable(encoding.Tokens[p]))).ToArray();
        }
        return Enumerable.Range(0, positions).Select(p => (p, $"#{p}")).ToArray();
    }
}
