using Deja.Diffusion.Data;

namespace Deja.Memorization.Fidelity;

/// <summary>
/// Which grid cells a brand's logo hides. `deja synth` draws a template's pattern over its region after
/// the scene, so an object in a cell under a corner logo or a band is not in the image at all: neither
/// the judge nor anyone can see its shape or colour. Such cells carry no label when the judge is trained
/// on an image with a logo, and their objects are left out of a caption's attributes when fidelity is
/// computed — for a copy that draws the logo and for a generation that does not alike, so drawing the
/// logo neither raises nor lowers fidelity.
/// <para>A cell is hidden when more than half of the disk of a large object at the cell's centre
/// (radius 0.16 of the image, the renderer's) lies in the region. For synth's regions this is all or
/// nothing: a corner logo hides its corner cell, a band its row or column, the frame nothing.</para>
/// </summary>
public static class LogoOcclusion
{
    /// <summary>Radius of a large object, as a fraction of the image side (SceneRenderer's).</summary>
    public const double ObjectRadius = 0.16;

    /// <summary>Fraction of the disk above which a cell counts as hidden.</summary>
    public const double HiddenAbove = 0.5;

    static readonly Dictionary<(string, int), bool[]> cache = [];

    /// <summary>Per cell (row·3 + column), whether <paramref name="region"/> hides it; all false for no region.</summary>
    public static bool[] HiddenCells(string? region, int imageSize)
    {
        if (region is null) return new bool[9];
        lock (cache)
        {
            if (cache.TryGetValue((region, imageSize), out var known)) return (bool[])known.Clone();
            var mask = SyntheticDataset.RegionMask(region, imageSize);
            var hidden = new bool[9];
            for (int cell = 0; cell < 9; cell++) hidden[cell] = Coverage(mask, imageSize, cell / 3, cell % 3) > HiddenAbove;
            cache[(region, imageSize)] = hidden;
            return (bool[])hidden.Clone();
        }
    }

    /// <summary>The fraction of the pixels whose centres lie in the large-object disk of cell (row, column) that the mask covers.</summary>
    public static double Coverage(bool[] mask, int size, int row, int column)
    {
        double cx = (column + 0.5) / 3, cy = (row + 0.5) / 3;
        int inside = 0, covered = 0;
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                double dx = (x + 0.5) / size - cx, dy = (y + 0.5) / size - cy;
                if (dx * dx + dy * dy > ObjectRadius * ObjectRadius) continue;
                inside++;
                if (mask[y * size + x]) covered++;
            }
        return inside == 0 ? 0 : (double)covered / inside;
    }
}
