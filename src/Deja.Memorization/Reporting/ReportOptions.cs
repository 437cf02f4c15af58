using Deja.Memorization.Evaluation;

namespace Deja.Memorization.Reporting;

/// <summary>What `deja report` lets a user choose; the defaults are the CLI's.</summary>
public sealed record ReportOptions
{
    public string Title { get; init; } = "Deja memorization report";
    /// <summary>Rows of the top-scored prompts table.</summary>
    public int Top { get; init; } = 20;
    /// <summary>Prompts shown in each picture section (token bars, heatmaps, mitigation images): keeps the file small.</summary>
    public int MaxPrompts { get; init; } = 8;
    /// <summary>Histogram bins.</summary>
    public int Bins { get; init; } = 30;
    /// <summary>Score columns to evaluate and plot; null = every column present in all rows (as `deja eval`).</summary>
    public IReadOnlyList<string>? Columns { get; init; }
    /// <summary>The evaluation's bootstrap and flip settings, as `deja eval` (1,000 resamples, seed 0).</summary>
    public EvaluationOptions Evaluation { get; init; } = new();

    public void Validate()
    {
        if (Top < 0) throw new Deja.Tensors.DejaException($"report: --top must be ≥ 0, got {Top}");
        if (MaxPrompts < 1) throw new Deja.Tensors.DejaException($"report: --max-prompts must be ≥ 1, got {MaxPrompts}");
        if (Bins is < 2 or > 200) throw new Deja.Tensors.DejaException($"report: --bins must be between 2 and 200, got {Bins}");
        if (Evaluation.BootstrapResamples < 0) throw new Deja.Tensors.DejaException($"report: --bootstrap must be ≥ 0, got {Evaluation.BootstrapResamples}");
    }
}
