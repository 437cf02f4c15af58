using Deja.Diffusion.Data;
using Deja.Memorization.Fidelity;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Fidelity;

/// <summary>The caption parser is the inverse of Scene.Caption(), brand phrases included, and refuses anything else naming the caption.</summary>
public class CaptionAttributesTests
{
    [Fact]
    public void ParsingRoundTripsEveryRandomSceneCaption()
    {
        var g = new Generator(7);
        for (int i = 0; i < 3000; i++)
        {
            var scene = Scene.Random(g);
            var parsed = CaptionAttributes.Parse(scene.Caption());
            Assert.Null(parsed.Brand);
            Assert.Equal(scene.Caption(), parsed.Caption);
            Assert.Equal(scene.Texture, parsed.Scene.Texture);
            Assert.Equal(scene.Background, parsed.Scene.Background);
            Assert.Equal(scene.Objects.Select(o => (o.Size, o.Colour, o.Shape, o.Row, o.Column)),
                         parsed.Scene.Objects.Select(o => (o.Size, o.Colour, o.Shape, o.Row, o.Column)));
        }
    }

    [Fact]
    public void EveryPositionAndThreeObjectsParse()
    {
        var objects = Enumerable.Range(0, 9).Select(c => new SceneObject("ring", "green", "small", c / 3, c % 3)).ToList();
        var scene = new Scene(objects, "dotted", "black");
        var parsed = CaptionAttributes.Parse(scene.Caption());
        Assert.Equal(Enumerable.Range(0, 9), parsed.Scene.Objects.Select(o => o.Row * 3 + o.Column));
        Assert.StartsWith("a small green ring at the top left and a small green ring at the top and ", scene.Caption());
    }

    [Fact]
    public void BrandPhrasesAreReadButAreNoAttribute()
    {
        var scene = new Scene([new SceneObject("circle", "red", "large", 0, 0), new SceneObject("cross", "blue", "small", 1, 1)], "plain", "white");
        foreach (var (name, phrase, region) in SynthOptions.Brands)
        {
            string caption = scene.Caption() + " " + phrase;
            var parsed = CaptionAttributes.Parse(caption);
            Assert.Equal(name, parsed.Brand);
            Assert.Equal(region, parsed.BrandRegion);
            Assert.Equal(caption, parsed.Caption);
            Assert.Equal(scene.Caption(), parsed.Scene.Caption());
        }
        // acme's top-left logo hides the top-left object; the centre one stays
        var acme = CaptionAttributes.Parse(scene.Caption() + " with the acme logo");
        Assert.Equal([1], acme.VisibleObjects(32).Select(v => v.Index));
        Assert.Equal([0, 1], CaptionAttributes.Parse(scene.Caption()).VisibleObjects(32).Select(v => v.Index));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a photograph of an astronaut riding a horse")]
    [InlineData("a large red circle at the top left")]
    [InlineData("a huge red circle at the top left on a white background")]
    [InlineData("a large pink circle at the top left on a white background")]
    [InlineData("a large red circle at the middle center on a white background")]
    [InlineData("a large red circle at the top left on a wavy white background")]
    [InlineData("a large red circle at the top left on a white background with the foo logo")]
    [InlineData("a large red circle at the top left and a small blue ring at the top left on a white background")]
    [InlineData("a large red circle at the top left and  a small blue ring at the center on a white background")]
    [InlineData("A large red circle at the top left on a white background")]
    public void JunkIsRefusedNamingTheCaption(string caption)
    {
        var e = Assert.Throws<DejaException>(() => CaptionAttributes.Parse(caption));
        Assert.Contains($"caption \"{caption}\" cannot be parsed", e.Message);
    }

    [Theory]
    [InlineData("top-left", new[] { 0 })]
    [InlineData("top-right", new[] { 2 })]
    [InlineData("bottom-left", new[] { 6 })]
    [InlineData("bottom-right", new[] { 8 })]
    [InlineData("top-band", new[] { 0, 1, 2 })]
    [InlineData("bottom-band", new[] { 6, 7, 8 })]
    [InlineData("left-band", new[] { 0, 3, 6 })]
    [InlineData("frame", new int[0])]
    [InlineData(null, new int[0])]
    public void LogosHideTheCellsUnderThem(string? region, int[] hidden)
    {
        var cells = LogoOcclusion.HiddenCells(region, 32);
        Assert.Equal(hidden, Enumerable.Range(0, 9).Where(c => cells[c]));
    }

    [Fact]
    public void CoverageIsTheCoveredShareOfTheDisk()
    {
        var all = Enumerable.Repeat(true, 32 * 32).ToArray();
        Assert.Equal(1.0, LogoOcclusion.Coverage(all, 32, 1, 1));
        // the left half of the image (x < 16) covers the left half of the centre cell's disk, centred at x = 16
        var left = Enumerable.Range(0, 32 * 32).Select(p => p % 32 < 16).ToArray();
        Assert.Equal(0.5, LogoOcclusion.Coverage(left, 32, 1, 1), 10);
    }
}
