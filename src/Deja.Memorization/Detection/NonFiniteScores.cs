using System.Globalization;
using Deja.Tensors;

namespace Deja.Memorization.Detection;

/// <summary>
/// A NaN or infinite score is never a result: it means the model's output overflowed or was broken for
/// that prompt, and eval would refuse the whole column later. A run stops at the first one, after
/// writing the rows before it, so the file holds only valid rows.
/// </summary>
public static class NonFiniteScores
{
    /// <summary>The rows before the first row with a non-finite score, and that row (null when every score is finite).</summary>
    public static (IReadOnlyList<DetectionRow> Valid, DetectionRow? First) Split(IReadOnlyList<DetectionRow> rows)
    {
        for (int i = 0; i < rows.Count; i++)
            if (rows[i].Scores.Values.Any(v => !double.IsFinite(v)))
                return (rows.Take(i).ToArray(), rows[i]);
        return (rows, null);
    }

    /// <summary>The error that stops the run at <paramref name="row"/>; <paramref name="kept"/> rows are in <paramref name="outPath"/>.</summary>
    public static DejaException Error(DetectionRow row, string outPath, int kept)
    {
        var (name, value) = row.Scores.First(s => !double.IsFinite(s.Value));
        string prompt = row.Prompt.Length <= 60 ? row.Prompt : row.Prompt[..57] + "...";
        return new DejaException($"detect: prompt {row.Index} (\"{prompt}\") scored {name} = {value.ToString(CultureInfo.InvariantCulture)}, " +
            $"which is not a score (the model's output overflowed or is broken for it); stopped. {outPath} holds {kept} valid row(s); " +
            "the prompt has no row, so a rerun stops at it again");
    }
}
