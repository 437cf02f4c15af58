using Deja.Tensors;

namespace Deja.Diffusion.Data;

/// <summary>One drawn object: a shape of a colour and size at one of the 3×3 grid positions.</summary>
public sealed record SceneObject(string Shape, string Colour, string Size, int Row, int Column);

/// <summary>A procedurally drawn scene: one or two objects on a textured background, and its caption.</summary>
public sealed record Scene(IReadOnlyList<SceneObject> Objects, string Texture, string Background)
{
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
