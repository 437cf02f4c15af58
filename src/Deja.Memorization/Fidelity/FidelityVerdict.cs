namespace Deja.Memorization.Fidelity;

/// <summary>What the judge reads in one grid cell: whether it holds an object and, if so, which.</summary>
public sealed record CellReading(bool Present, string Colour, string Shape, string Size);

/// <summary>What the judge reads in one image: the 9 cells (row·3 + column) and the background.</summary>
public sealed record JudgePrediction(IReadOnlyList<CellReading> Cells, string Background, string Texture);

/// <summary>One stated attribute and what the judge found; <see cref="Object"/> indexes the caption's objects (null: the background).</summary>
public sealed record AttributeVerdict(string Attribute, int? Object, string Expected, string Found, bool Correct);

/// <summary>
/// Caption fidelity, deja-mini's stand-in for CLIP score: the fraction of the attributes a caption states
/// that the judge finds in the image. Per visible object, 4 attributes — position (its cell holds an
/// object), shape, colour and size, the last three read at that cell, so they only count when the cell
/// holds an object: a red circle drawn in the wrong cell fails all four, not just position — and the
/// background's texture and colour. Objects under a brand's logo are left out (<see cref="LogoOcclusion"/>);
/// the brand phrase itself is no attribute. Objects the caption does not state are counted
/// (<see cref="ExtraObjects"/> of the <see cref="EmptyCells"/> the caption leaves empty and no logo hides)
/// but do not lower fidelity: CLIP score does not see them either.
/// </summary>
public sealed record FidelityVerdict(string Caption, IReadOnlyList<AttributeVerdict> Attributes, IReadOnlyList<int> HiddenObjects, int EmptyCells, int ExtraObjects)
{
    public const string Position = "position", Shape = "shape", Colour = "colour", Size = "size", Texture = "texture", Background = "background";

    /// <summary>The attribute kinds, in report order.</summary>
    public static readonly string[] AttributeNames = [Position, Shape, Colour, Size, Texture, Background];

    public int Correct => Attributes.Count(a => a.Correct);

    /// <summary>Correct / stated attributes (there are always at least the background's two).</summary>
    public double Fidelity => (double)Correct / Attributes.Count;

    public static FidelityVerdict Judge(CaptionAttributes caption, JudgePrediction prediction, int imageSize)
    {
        if (prediction.Cells.Count != 9) throw new ArgumentException($"judge: a prediction has 9 cells, got {prediction.Cells.Count}");
        var verdicts = new List<AttributeVerdict>();
        var visible = caption.VisibleObjects(imageSize);
        foreach (var (index, o) in visible)
        {
            var cell = prediction.Cells[o.Row * 3 + o.Column];
            verdicts.Add(new(Position, index, "object", cell.Present ? "object" : "empty", cell.Present));
            string Read(string value) => cell.Present ? value : "empty";
            verdicts.Add(new(Shape, index, o.Shape, Read(cell.Shape), cell.Present && cell.Shape == o.Shape));
            verdicts.Add(new(Colour, index, o.Colour, Read(cell.Colour), cell.Present && cell.Colour == o.Colour));
            verdicts.Add(new(Size, index, o.Size, Read(cell.Size), cell.Present && cell.Size == o.Size));
        }
        verdicts.Add(new(Texture, null, caption.Scene.Texture, prediction.Texture, prediction.Texture == caption.Scene.Texture));
        verdicts.Add(new(Background, null, caption.Scene.Background, prediction.Background, prediction.Background == caption.Scene.Background));

        var hiddenCells = LogoOcclusion.HiddenCells(caption.BrandRegion, imageSize);
        var stated = caption.Scene.Objects.Select(o => o.Row * 3 + o.Column).ToHashSet();
        var empty = Enumerable.Range(0, 9).Where(c => !stated.Contains(c) && !hiddenCells[c]).ToList();
        int extra = empty.Count(c => prediction.Cells[c].Present);
        var hidden = caption.Scene.Objects.Select((o, i) => (o, i)).Where(x => hiddenCells[x.o.Row * 3 + x.o.Column]).Select(x => x.i).ToList();
        return new FidelityVerdict(caption.Caption, verdicts, hidden, empty.Count, extra);
    }
}
