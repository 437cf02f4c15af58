using Deja.Diffusion.Images;

namespace Deja.Diffusion.Data;

/// <summary>
/// Draws a <see cref="Scene"/> into an RGB image: each pixel is decided at 4×4 sample points and the
/// samples are averaged (anti-aliasing), so shapes stay recognizable at 32×32. The scene's nuisance
/// (offsets, scales, tints, lighting, texture phase) is applied; a scene without it renders as its
/// caption's canonical image.
/// </summary>
public static class SceneRenderer
{
    const int Supersample = 4;

    static (byte R, byte G, byte B) Rgb(string name, (int R, int G, int B) tint)
    {
        var c = Scene.Colours.First(c => c.Name == name);
        static byte Add(byte v, int d) => (byte)Math.Clamp(v + d, 0, 255);
        return (Add(c.R, tint.R), Add(c.G, tint.G), Add(c.B, tint.B));
    }

    /// <summary>Darker or lighter variant of a background colour, for its texture.</summary>
    static (byte, byte, byte) Shade((byte R, byte G, byte B) c)
    {
        int lum = (c.R + c.G + c.B) / 3;
        double f = lum > 128 ? 0.6 : 1.8;
        byte S(byte v) => (byte)Math.Clamp((int)(v * f + (lum > 128 ? 0 : 40)), 0, 255);
        return (S(c.R), S(c.G), S(c.B));
    }

    public static Image Render(Scene scene, int size)
    {
        var image = new Image(size, size, 3);
        var background = Rgb(scene.Background, scene.Tint);
        var shade = Shade(background);
        var objects = scene.Objects.Select(o => (Object: o, Colour: Rgb(o.Colour, o.Tint))).ToArray();
        int n = Supersample;
        for (int py = 0; py < size; py++)
            for (int px = 0; px < size; px++)
            {
                int r = 0, g = 0, b = 0;
                for (int sy = 0; sy < n; sy++)
                    for (int sx = 0; sx < n; sx++)
                    {
                        double u = (px + (sx + 0.5) / n) / size, v = (py + (sy + 0.5) / n) / size; // [0,1) image coords
                        var c = BackgroundAt(scene.Texture, background, shade, u + scene.Phase.U, v + scene.Phase.V);
                        foreach (var (o, colour) in objects)
                            if (Inside(o, u, v)) c = colour;
                        r += c.R; g += c.G; b += c.B;
                    }
                int i = 3 * (py * size + px), k = n * n;
                double light = scene.Lighting.U * ((px + 0.5) / size - 0.5) + scene.Lighting.V * ((py + 0.5) / size - 0.5);
                byte P(int sum) => (byte)Math.Clamp((int)Math.Round(sum / (double)k + light), 0, 255);
                image.Pixels[i] = P(r); image.Pixels[i + 1] = P(g); image.Pixels[i + 2] = P(b);
            }
        return image;
    }

    static (byte R, byte G, byte B) BackgroundAt(string texture, (byte, byte, byte) main, (byte, byte, byte) shade, double u, double v) => texture switch
    {
        "striped" => ((int)(v * 8) % 2 == 0) ? main : shade,
        "checkered" => (((int)(u * 4) + (int)(v * 4)) % 2 == 0) ? main : shade,
        "dotted" => Math.Pow(u * 6 % 1 - 0.5, 2) + Math.Pow(v * 6 % 1 - 0.5, 2) < 0.04 ? shade : main,
        _ => main,
    };

    /// <summary>Whether (u, v) lies in the object: shapes centred in their grid cell, radius by size.</summary>
    static bool Inside(SceneObject o, double u, double v)
    {
        double cx = (o.Column + 0.5) / 3 + o.Dx, cy = (o.Row + 0.5) / 3 + o.Dy;
        double rad = (o.Size == "large" ? 0.16 : 0.09) * o.Scale;
        double dx = (u - cx) / rad, dy = (v - cy) / rad;
        return o.Shape switch
        {
            "circle" => dx * dx + dy * dy <= 1,
            "ring" => dx * dx + dy * dy <= 1 && dx * dx + dy * dy >= 0.36,
            "square" => Math.Abs(dx) <= 0.85 && Math.Abs(dy) <= 0.85,
            "diamond" => Math.Abs(dx) + Math.Abs(dy) <= 1,
            "cross" => (Math.Abs(dx) <= 0.3 && Math.Abs(dy) <= 1) || (Math.Abs(dy) <= 0.3 && Math.Abs(dx) <= 1),
            "triangle" => dy <= 0.8 && dy >= -1 && Math.Abs(dx) <= (dy + 1) / 1.8 * 1.0,
            _ => false,
        };
    }
}
