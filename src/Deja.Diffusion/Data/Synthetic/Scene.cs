using Deja.Tensors;

namespace Deja.Diffusion.Data;

/// <summary>
/// One drawn object: a shape of a colour and size at one of the 3×3 grid positions. The caption names
/// only those; <see cref="Dx"/>, <see cref="Dy"/> (offset from the cell centre, image units),
/// <see cref="Scale"/> and <see cref="Tint"/> (added to R, G, B) are nuisance the caption does not
/// determine, so one caption stands for many images.
/// </summary>
public sealed record SceneObject(string Shape, string Colour, string Size, int Row, int Column)
{
    public double Dx { get; init; }
    public double Dy { get; init; }
    public double Scale { get; init; } = 1;
    public (int R, int G, int B) Tint { get; init; }
}

/// <summary>
/// A procedurally drawn scene: one or two objects on a textured background, and its caption. Beside
/// the objects' nuisance, the background's <see cref="Tint"/>, a linear <see cref="Lighting"/>
/// gradient (added brightness per unit of u and v) and the texture's <see cref="Phase"/> vary freely:
/// without them every caption would be a single image, and a model that generalizes could not be told
/// from one that memorizes.
/// </summary>
public sealed record Scene(IReadOnlyList<SceneObject> Objects, string Texture, string Background)
{
    public (int R, int G, int B) Tint { get; init; }
    public (double U, double V) Lighting { get; init; }
    public (double U, double V) Phase { get; init; }

    /// <summary>How much the nuisance varies: object offset ±0.06 of the image, scale ±15 %, tints ±24 per channel, lighting ±32 across the image.</summary>
    public const double MaxOffset = 0.06, MaxScale = 0.15, MaxLighting = 32;
    public const int MaxTint = 24;

    /// <summary>This scene with freshly drawn nuisance (same caption).</summary>
    public Scene WithNuisance(Generator g)
    {
        double U(double a) => (2 * g.NextDouble() - 1) * a;
        (int, int, int) T() => ((int)Math.Round(U(MaxTint)), (int)Math.Round(U(MaxTint)), (int)Math.Round(U(MaxTint)));
        var objects = Objects.Select(o => o with { Dx = U(MaxOffset), Dy = U(MaxOffset), Scale = 1 + U(MaxScale), Tint = T() }).ToList();
        return this with { Objects = objects, Tint = T(), Lighting = (U(MaxLighting), U(MaxLighting)), Phase = (g.NextDouble(), g.NextDouble()) };
    }

    public static readonly string[] Shapes = ["circle", "square", "triangle", "diamond", "cross", "ring"];
    public static readonly (string Name, byte R, byte G, byte B)[] Colours =
    [
        ("red", 220, 30, 30), ("green", 30, 170, 50), ("blue", 30, 70, 220), ("yellow", 240, 220, 30),
        ("purple", 140, 40, 180), ("orange", 245, 140, 20), ("white", 245, 245, 245), ("black", 20, 20, 20),
    ];
    public static readonly string[] Textures = ["plain", "striped", "checkered", "dotted"];
    public static readonly string[] Sizes = ["small", "large"];
    static readonly string[] Rows = ["top", "middle", "bottom"];
    static readonly string[] Columns = ["left", "center", "right"];

    public static string PositionName(int row, int column) =>
        row == 1 && column == 1 ? "the center" : row == 1 ? $"the middle {Columns[column]}" : column == 1 ? $"the {Rows[row]}" : $"the {Rows[row]} {Columns[column]}";

    /// <summary>"a large red circle at the top left and a small blue ring at the center on a striped white background".</summary>
    public string Caption()
    {
        var parts = Objects.Select(o => $"a {o.Size} {o.Colour} {o.Shape} at {PositionName(o.Row, o.Column)}");
        string background = Texture == "plain" ? $"a {Background} background" : $"a {Texture} {Background} background";
        return string.Join(" and ", parts) + " on " + background;
    }

    /// <summary>A random scene: 1–2 objects at distinct positions, colours distinct from the background.</summary>
    public static Scene Random(Generator g)
    {
        string background = Colours[g.NextInt(Colours.Length)].Name;
        string texture = Textures[g.NextInt(Textures.Length)];
        int count = 1 + g.NextInt(2);
        var objects = new List<SceneObject>();
        var used = new HashSet<int>();
        while (objects.Count < count)
        {
            int cell = g.NextInt(9);
            if (!used.Add(cell)) continue;
            string colour;
            do colour = Colours[g.NextInt(Colours.Length)].Name; while (colour == background);
            objects.Add(new SceneObject(Shapes[g.NextInt(Shapes.Length)], colour, Sizes[g.NextInt(Sizes.Length)], cell / 3, cell % 3));
        }
        return new Scene(objects.OrderBy(o => o.Row * 3 + o.Column).ToList(), texture, background);
    }
}
