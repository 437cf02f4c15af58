using System.Text.Json.Nodes;

namespace Deja.Memorization.Fidelity;

/// <summary>
/// Verdicts of one image set summed up: per attribute kind the share found (the judge's accuracy where
/// the image content is what the caption says: synthetic renders, copies of training images; the
/// generation's fidelity per attribute otherwise), mean fidelity per image, and how often the judge
/// finds an object in a cell the caption leaves empty.
/// </summary>
public sealed class FidelityTally(string name)
{
    readonly Dictionary<string, (int Correct, int Total)> counts = FidelityVerdict.AttributeNames.ToDictionary(a => a, _ => (0, 0));

    public string Name { get; } = name;
    public int Images { get; private set; }
    public double FidelitySum { get; private set; }
    public int EmptyCells { get; private set; }
    public int ExtraObjects { get; private set; }
    public int HiddenObjects { get; private set; }
    /// <summary>Images whose every attribute was found.</summary>
    public int Perfect { get; private set; }

    public void Add(FidelityVerdict v)
    {
        Images++;
        FidelitySum += v.Fidelity;
        if (v.Correct == v.Attributes.Count) Perfect++;
        EmptyCells += v.EmptyCells;
        ExtraObjects += v.ExtraObjects;
        HiddenObjects += v.HiddenObjects.Count;
        foreach (var a in v.Attributes)
        {
            var (c, t) = counts[a.Attribute];
            counts[a.Attribute] = (c + (a.Correct ? 1 : 0), t + 1);
        }
    }

    public (int Correct, int Total) Count(string attribute) => counts[attribute];

    /// <summary>Share of <paramref name="attribute"/>'s instances found; NaN when there were none.</summary>
    public double Accuracy(string attribute) => counts[attribute] is var (c, t) && t > 0 ? (double)c / t : double.NaN;

    /// <summary>Share of the attributes of every kind found (each attribute instance weighs the same).</summary>
    public double AllAttributes => counts.Values.Sum(x => x.Total) is var t && t > 0 ? (double)counts.Values.Sum(x => x.Correct) / t : double.NaN;

    public double MeanFidelity => Images > 0 ? FidelitySum / Images : double.NaN;

    /// <summary>Share of the cells the caption leaves empty (and no logo hides) that the judge also reads empty.</summary>
    public double EmptyCellAccuracy => EmptyCells > 0 ? 1 - (double)ExtraObjects / EmptyCells : double.NaN;

    public JsonObject ToJson()
    {
        var attributes = new JsonObject();
        foreach (var a in FidelityVerdict.AttributeNames)
            attributes[a] = new JsonObject { ["correct"] = counts[a].Correct, ["total"] = counts[a].Total, ["accuracy"] = Finite(Accuracy(a)) };
        return new JsonObject
        {
            ["set"] = Name, ["images"] = Images, ["mean_fidelity"] = Finite(MeanFidelity), ["all_attributes"] = Finite(AllAttributes),
            ["perfect_images"] = Perfect, ["attributes"] = attributes,
            ["empty_cells"] = EmptyCells, ["extra_objects"] = ExtraObjects, ["empty_cell_accuracy"] = Finite(EmptyCellAccuracy),
            ["hidden_objects"] = HiddenObjects,
        };
    }

    static JsonNode? Finite(double v) => double.IsFinite(v) ? JsonValue.Create(Math.Round(v, 5)) : null;
}
