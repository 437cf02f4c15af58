using System.Text.RegularExpressions;
using Deja.Diffusion.Data;
using Deja.Tensors;

namespace Deja.Memorization.Fidelity;

/// <summary>
/// What a `deja synth` caption states, read back from its text: the inverse of <see cref="Scene.Caption"/>.
/// The attributes are those of the <see cref="Scene"/> (per object its size, colour, shape and 3×3 grid
/// cell; the background's texture and colour, without nuisance), plus the brand whose phrase a template
/// caption ends with. The brand is kept only to know which cells its logo covers: it is not an attribute
/// (drawing the logo must not raise fidelity).
/// </summary>
public sealed record CaptionAttributes(Scene Scene, string? Brand)
{
    /// <summary>The caption this parses from: the scene's caption, then the brand phrase if any.</summary>
    public string Caption => Brand is null ? Scene.Caption() : $"{Scene.Caption()} {BrandPhrase(Brand)}";

    /// <summary>The brand's template region (synth's region names: "top-left", "frame", …), or null without a brand.</summary>
    public string? BrandRegion => Brand is null ? null : SynthOptions.Brands.First(b => b.Name == Brand).Region;

    static string BrandPhrase(string brand) => SynthOptions.Brands.First(b => b.Name == brand).Phrase;

    // One alternation per word class, built from the lists the renderer draws from, so a colour or shape
    // added there is parsed here too.
    static readonly string Colour = Alternatives(Scene.Colours.Select(c => c.Name));
    static readonly string Shape = Alternatives(Scene.Shapes);
    static readonly string Size = Alternatives(Scene.Sizes);
    static readonly string Texture = Alternatives(Scene.Textures.Where(t => t != "plain"));

    static string Alternatives(IEnumerable<string> words) => string.Join("|", words.Select(Regex.Escape));

    static readonly Regex Whole = new($"^(?<objects>.+) on a (?:(?<texture>{Texture}) )?(?<background>{Colour}) background(?: (?<brand>.+))?$", RegexOptions.CultureInvariant);
    static readonly Regex Object = new($"^a (?<size>{Size}) (?<colour>{Colour}) (?<shape>{Shape}) at (?<position>.+)$", RegexOptions.CultureInvariant);

    /// <summary>The 9 position phrases of the grid, by cell (row·3 + column).</summary>
    static readonly Dictionary<string, int> Positions = Enumerable.Range(0, 9).ToDictionary(c => Scene.PositionName(c / 3, c % 3), c => c);

    /// <summary>Parses a caption of synth's grammar; anything else is refused with a <see cref="DejaException"/> naming the caption.</summary>
    public static CaptionAttributes Parse(string caption)
    {
        ArgumentNullException.ThrowIfNull(caption);
        var m = Whole.Match(caption);
        if (!m.Success) throw Refuse(caption, "it is not \"OBJECT [and OBJECT …] on a [TEXTURE] COLOUR background [BRAND PHRASE]\"");
        string? brand = null;
        if (m.Groups["brand"].Success)
        {
            string phrase = m.Groups["brand"].Value;
            brand = SynthOptions.Brands.FirstOrDefault(b => b.Phrase == phrase).Name
                ?? throw Refuse(caption, $"'{phrase}' is not a brand phrase ({string.Join(", ", SynthOptions.Brands.Select(b => $"\"{b.Phrase}\""))})");
        }
        var objects = new List<SceneObject>();
        // " and " never occurs inside one object's phrase (no position, colour or shape contains it)
        foreach (var part in m.Groups["objects"].Value.Split(" and "))
        {
            var o = Object.Match(part);
            if (!o.Success) throw Refuse(caption, $"'{part}' is not \"a SIZE COLOUR SHAPE at POSITION\"");
            if (!Positions.TryGetValue(o.Groups["position"].Value, out int cell))
                throw Refuse(caption, $"'{o.Groups["position"].Value}' is not a grid position ({string.Join(", ", Positions.Keys)})");
            if (objects.Any(x => x.Row * 3 + x.Column == cell))
                throw Refuse(caption, $"two objects at {o.Groups["position"].Value}: the judge reads one object per grid cell");
            objects.Add(new SceneObject(o.Groups["shape"].Value, o.Groups["colour"].Value, o.Groups["size"].Value, cell / 3, cell % 3));
        }
        string texture = m.Groups["texture"].Success ? m.Groups["texture"].Value : "plain";
        return new CaptionAttributes(new Scene(objects, texture, m.Groups["background"].Value), brand);
    }

    static DejaException Refuse(string caption, string why) => new($"caption \"{caption}\" cannot be parsed: {why}");

    /// <summary>
    /// The objects whose attributes can be checked in an image of this caption: all of them, except where
    /// a brand's logo covers their cell (<see cref="LogoOcclusion"/>). A template image draws its logo over
    /// whatever lies there, so such an object is in no image of the caption, copied or not.
    /// </summary>
    public IReadOnlyList<(int Index, SceneObject Object)> VisibleObjects(int imageSize)
    {
        var hidden = LogoOcclusion.HiddenCells(BrandRegion, imageSize);
        return [.. Scene.Objects.Select((o, i) => (i, o)).Where(x => !hidden[x.o.Row * 3 + x.o.Column])];
    }
}
