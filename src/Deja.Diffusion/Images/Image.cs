using Deja.Tensors;

namespace Deja.Diffusion.Images;

/// <summary>An 8-bit image, rows top to bottom, channels interleaved (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA).</summary>
public sealed class Image
{
    public int Width { get; }
    public int Height { get; }
    public int Channels { get; }
    public byte[] Pixels { get; }

    public Image(int width, int height, int channels, byte[]? pixels = null)
    {
        if (width <= 0 || height <= 0) throw new ArgumentException($"image: size {width}×{height} must be positive");
        if (channels is < 1 or > 4) throw new ArgumentException($"image: {channels} channels (1–4 supported)");
        Width = width; Height = height; Channels = channels;
        long n = (long)width * height * channels;
        if (pixels is not null && pixels.Length != n) throw new ArgumentException($"image: {pixels.Length} bytes for {width}×{height}×{channels}");
        Pixels = pixels ?? new byte[n];
    }

    /// <summary>[C,H,W] tensor in [0,1] (3 channels: gray is replicated, alpha dropped).</summary>
    public Tensor ToTensor01()
    {
        var t = Tensor.Empty(3, Height, Width);
        var d = t.Span;
        int plane = Width * Height;
        for (int p = 0; p < plane; p++)
            for (int c = 0; c < 3; c++)
            {
                int src = Channels >= 3 ? c : 0;
                d[c * plane + p] = Pixels[p * Channels + src] / 255f;
            }
        return t;
    }

    /// <summary>
    /// From a [3,H,W] (or [1,3,H,W]) tensor in [0,1]: clamped, then rounded like
    /// diffusers' numpy_to_pil ((x·255).round()).
    /// </summary>
    public static Image FromTensor01(Tensor t)
    {
        var shape = t.Shape;
        if (shape.Length == 4 && shape[0] == 1) shape = shape[1..];
        if (shape.Length != 3 || shape[0] is not (1 or 3))
            throw new ArgumentException($"image: expected a [3,H,W] or [1,3,H,W] tensor, got {Shapes.Str(t.Shape)}");
        int c = shape[0], h = shape[1], w = shape[2], plane = h * w;
        var img = new Image(w, h, 3);
        var s = t.ReadOnlySpan;
        for (int p = 0; p < plane; p++)
            for (int k = 0; k < 3; k++)
            {
                float v = s[(c == 1 ? 0 : k) * plane + p];
                v = float.IsNaN(v) ? 0 : Math.Clamp(v, 0f, 1f);
                img.Pixels[p * 3 + k] = (byte)MathF.Round(v * 255f, MidpointRounding.ToEven);
            }
        return img;
    }
}
