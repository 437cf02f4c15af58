using System.Text.Json.Nodes;
using Deja.Memorization.Models;

namespace Deja.Memorization.Detection;

/// <summary>A per-prompt memorization detector: higher scores mean "more likely memorized".</summary>
public interface IMemorizationDetector
{
    /// <summary>The method's name as written in results files ("anisotropy", "magnitude", "sharpness", "bright-ending").</summary>
    string Method { get; }

    /// <summary>The score columns every result row carries; the first is the detector's decision score.</summary>
    IReadOnlyList<string> ScoreNames { get; }

    /// <summary>The effective parameters on <paramref name="model"/> (defaults resolved), as written into each row.</summary>
    JsonObject Parameters(IDiffusionModelView model);

    /// <summary>Model calls per batch of prompts, whatever the batch size.</summary>
    int ModelCallsPerBatch { get; }

    /// <summary>Scores of each prompt of the batch, keyed by <see cref="ScoreNames"/>.</summary>
    IReadOnlyList<IReadOnlyDictionary<string, double>> Score(IDiffusionModelView model, PromptBatch batch);
}
