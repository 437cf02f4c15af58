using Deja.Memorization.Fidelity;

namespace Deja.Memorization.Tests.Fidelity;

/// <summary>Fidelity on hand-made judge readings: known fractions for known mistakes.</summary>
public class FidelityVerdictTests
{
    const string TwoObjects = "a large red circle at the top left and a small blue ring at the center on a striped white background";

    static CellReading Empty => new(false, "red", "circle", "small");

    /// <summary>A reading that finds exactly the caption's scene.</summary>
    static CellReading[] Exact(string caption)
    {
        var cells = Enumerable.Repeat(Empty, 9).ToArray();
        foreach (var o in CaptionAttributes.Parse(caption).Scene.Objects) cells[o.Row * 3 + o.Column] = new CellReading(true, o.Colour, o.Shape, o.Size);
        return cells;
    }

    [Fact]
    public void AnExactReadingHasFidelityOne()
    {
        var v = FidelityVerdict.Judge(CaptionAttributes.Parse(TwoObjects), new JudgePrediction(Exact(TwoObjects), "white", "striped"), 32);
        Assert.Equal(10, v.Attributes.Count); // 4 per object + texture + background colour
        Assert.Equal(1.0, v.Fidelity);
        Assert.Equal(7, v.EmptyCells);
        Assert.Equal(0, v.ExtraObjects);
    }

    [Fact]
    public void OneWrongColourOfTwoObjectsCostsOneTenth()
    {
        var cells = Exact(TwoObjects);
        cells[4] = cells[4] with { Colour = "green" };
        var v = FidelityVerdict.Judge(CaptionAttributes.Parse(TwoObjects), new JudgePrediction(cells, "white", "striped"), 32);
        Assert.Equal(0.9, v.Fidelity, 12);
        var wrong = Assert.Single(v.Attributes, a => !a.Correct);
        Assert.Equal((FidelityVerdict.Colour, (int?)1, "blue", "green"), (wrong.Attribute, wrong.Object, wrong.Expected, wrong.Found));
    }

    [Fact]
    public void AnObjectInTheWrongCellFailsAllFourOfItsAttributes()
    {
        // the circle is drawn one cell to the right, with the right shape, colour and size, and the background is plain
        var cells = Exact(TwoObjects);
        cells[1] = cells[0];
        cells[0] = Empty;
        var v = FidelityVerdict.Judge(CaptionAttributes.Parse(TwoObjects), new JudgePrediction(cells, "white", "plain"), 32);
        Assert.Equal(5.0 / 10, v.Fidelity, 12); // the ring's 4 and the background colour
        Assert.All(v.Attributes.Where(a => a.Object == 0), a => Assert.Equal("empty", a.Found));
        Assert.Equal(1, v.ExtraObjects);
    }

    [Fact]
    public void ObjectsUnderTheLogoAreLeftOutAndTheBrandIsNoAttribute()
    {
        string caption = TwoObjects + " with the acme logo"; // top-left logo over the circle
        var parsed = CaptionAttributes.Parse(caption);
        var withLogo = Exact(TwoObjects);
        withLogo[0] = Empty; // the logo hides the circle: the judge reads the cell empty
        var v = FidelityVerdict.Judge(parsed, new JudgePrediction(withLogo, "white", "striped"), 32);
        Assert.Equal(6, v.Attributes.Count);
        Assert.Equal([0], v.HiddenObjects);
        Assert.Equal(1.0, v.Fidelity);
        Assert.DoesNotContain(v.Attributes, a => a.Object == 0);
        // an image without the logo earns exactly as much: drawing it neither raises nor lowers fidelity
        var without = FidelityVerdict.Judge(parsed, new JudgePrediction(Exact(TwoObjects), "white", "striped"), 32);
        Assert.Equal(v.Fidelity, without.Fidelity);
        Assert.Equal(7, without.EmptyCells); // the cells the caption leaves empty; a hidden empty cell would not count
    }

    [Fact]
    public void TallySumsSharesPerAttribute()
    {
        var parsed = CaptionAttributes.Parse(TwoObjects);
        var cells = Exact(TwoObjects);
        cells[4] = cells[4] with { Colour = "green" };
        var tally = new FidelityTally("t");
        tally.Add(FidelityVerdict.Judge(parsed, new JudgePrediction(Exact(TwoObjects), "white", "striped"), 32));
        tally.Add(FidelityVerdict.Judge(parsed, new JudgePrediction(cells, "black", "striped"), 32));
        Assert.Equal(2, tally.Images);
        Assert.Equal(3.0 / 4, tally.Accuracy(FidelityVerdict.Colour), 12);
        Assert.Equal(0.5, tally.Accuracy(FidelityVerdict.Background), 12);
        Assert.Equal(1.0, tally.Accuracy(FidelityVerdict.Shape), 12);
        Assert.Equal((1.0 + 0.8) / 2, tally.MeanFidelity, 12);
        Assert.Equal(18.0 / 20, tally.AllAttributes, 12);
        Assert.Equal(1, tally.Perfect);
    }
}
