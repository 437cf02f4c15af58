using System.Text.Json.Nodes;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Detection;

/// <summary>One prompt's result: every detector's scores, and what tokenization did to the prompt.</summary>
public sealed record DetectionRow(int Index, string Prompt, IReadOnlyDictionary<string, double> Scores, int Tokens, bool Truncated);

/// <summary>
/// Scores a list of prompts with one or more detectors, batch by batch: each batch is encoded once, its
/// noise taken from <see cref="InitialNoise"/>, and every detector scores it. Prompts already done (a
/// resumed run) are skipped; rows come back per batch so the caller can persist them before the next.
/// </summary>
public sealed class DetectionRun
{
    public required IDiffusionModelView Model { get; init; }
    public required IReadOnlyList<IMemorizationDetector> Detectors { get; init; }
    public required InitialNoise Noise { get; init; }
    /// <summary>Prompts per model call.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>The method name written into rows: the detector's, or several joined by '+'.</summary>
    public string Method => string.Join("+", Detectors.Select(d => d.Method));

    /// <summary>Everything that determines the scores (not the batch size): each detector's parameters and the noise.</summary>
    public JsonObject Parameters()
    {
        var o = new JsonObject();
        foreach (var d in Detectors) o[d.Method] = d.Parameters(Model);
        o["noise"] = Noise.Describe();
        return o;
    }

    /// <summary>
    /// Scores <paramref name="prompts"/> (index = position in the list), skipping the indices in
    /// <paramref name="done"/>; yields each batch's rows as soon as the batch is scored.
    /// </summary>
    public IEnumerable<IReadOnlyList<DetectionRow>> Run(IReadOnlyList<string> prompts, ISet<int>? done = null)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (BatchSize < 1) throw new ArgumentException($"detect: the batch size must be at least 1, got {BatchSize}");
        if (Detectors.Count == 0) throw new ArgumentException("detect: no detector");
        var todo = Enumerable.Range(0, prompts.Count).Where(i => done is null || !done.Contains(i)).ToArray();
        using var nullCondition = Model.NullCondition();
        for (int start = 0; start < todo.Length; start += BatchSize)
        {
            var indices = todo[start..Math.Min(todo.Length, start + BatchSize)];
            var text = indices.Select(i => prompts[i]).ToArray();
            var scores = indices.Select(_ => new Dictionary<string, double>()).ToArray();
            EncodedConditions encoded;
            using (GradMode.NoGrad()) encoded = Model.Encode(text);
            using (encoded)
            {
                var batch = new PromptBatch(encoded.Conditions, nullCondition, indices.Select(Noise.For).ToArray(), encoded.TokenCounts);
                foreach (var detector in Detectors)
                {
                    var result = detector.Score(Model, batch);
                    for (int p = 0; p < indices.Length; p++)
                        foreach (var (name, value) in result[p]) scores[p][name] = value;
                }
                if (Noise.Policy == SeedPolicy.Index)
                    foreach (var l in batch.Latents) l.Dispose();
                yield return indices.Select((index, p) => new DetectionRow(index, text[p], scores[p], encoded.TokenCounts[p], encoded.Truncated[p])).ToArray();
            }
        }
    }
}
