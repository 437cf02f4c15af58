using Deja.Diffusion.Data;
using Deja.Tensors;

namespace Deja.Memorization.Fidelity;

/// <summary>How the judge's images are drawn: which scenes, how often a logo, how much degradation.</summary>
public sealed record JudgeDataOptions
{
    /// <summary>
    /// Objects per scene: 2 → synth's own 1–2 (<see cref="Scene.Random"/>), 3 → also scenes with 3 objects.
    /// Training uses 3, so that a cell's presence is learned apart from how many objects there are.
    /// </summary>
    public int MaxObjects { get; init; } = 2;

    /// <summary>
    /// Share of images with a brand-like logo (a random block pattern of palette colours over one of
    /// synth's brand regions): the judge learns to look past it; the cells it hides carry no label.
    /// </summary>
    public double LogoProbability { get; init; }

    /// <summary>Largest standard deviation of the Gaussian pixel noise added (in [−1, 1] units; each image draws its own in [0, max]).</summary>
    public double MaxNoise { get; init; }

    /// <summary>
    /// Share of images blended with their 3×3 box blur, with a weight drawn in [−1, 1]: positive softens
    /// (generations are softer than renders in places), negative sharpens (an unsharp mask: elsewhere they
    /// have harder, more saturated edges than the renderer's anti-aliasing, which squares off round shapes).
    /// </summary>
    public double BlurProbability { get; init; }

    /// <summary>Objects' offsets from their cell centres are scaled by a factor drawn in [1, this] (synth: 1), so that more of them are clipped by the image border, as some copies are.</summary>
    public double MaxOffsetScale { get; init; } = 1;

    /// <summary>
    /// Per-image colour jitter, the largest change: saturation × [1 − j, 1 + 2j] (deja-mini's generations
    /// are more saturated than their training images), contrast × [1 − j/2, 1 + j/2] and a shift of each
    /// channel by up to ±0.4·j. 0: none.
    /// </summary>
    public double ColourJitter { get; init; }

    /// <summary>
    /// Share of images resampled through a smooth random displacement field (two plane waves per axis,
    /// wavelengths 8–16 pixels, amplitude drawn up to <see cref="MaxWarp"/> pixels): deja-mini copies small
    /// shapes with wobbly edges and bent arms, which the renderer never draws.
    /// </summary>
    public double WarpProbability { get; init; }
    public double MaxWarp { get; init; }

    /// <summary>
    /// Training: scenes of 1–3 objects, 40 % under a logo, and the degradations seen in deja-mini's
    /// generations — per-pixel colour noise (σ up to 0.25, i.e. ±32/255), softness, saturation drift. The
    /// strengths were set by looking at replicating generations next to the training images they copy.
    /// </summary>
    public static JudgeDataOptions Training => new()
    {
        MaxObjects = 3, LogoProbability = 0.4, MaxNoise = 0.25, BlurProbability = 0.4, ColourJitter = 0.2, WarpProbability = 0.5, MaxWarp = 0.8,
        MaxOffsetScale = 1.5,
    };

    /// <summary>Held-out evaluation: synth's own scenes, a fifth of them under a logo (synth's share of template rows), no degradation.</summary>
    public static JudgeDataOptions HeldOut => new() { MaxObjects = 2, LogoProbability = 0.2 };
}

/// <summary>
/// One batch of judge images with their labels: pixels [N, 3, S, S] in [−1, 1] as deja-mini's pipeline
/// produces them, the scenes (ground truth), the brand region drawn over each image (or null) and, per
/// cell, labels with −1 for "no label" (a hidden cell: nothing; an empty cell: presence only).
/// </summary>
public sealed class JudgeBatch
{
    public required int Count { get; init; }
    public required int ImageSize { get; init; }
    public required float[] Pixels { get; init; }
    public required Scene[] Scenes { get; init; }
    public required string?[] Regions { get; init; }
    public required int[] Background { get; init; }
    public required int[] Texture { get; init; }
    /// <summary>[N·9]: 1 present, 0 absent, −1 hidden under a logo.</summary>
    public required int[] Present { get; init; }
    public required int[] Colour { get; init; }
    public required int[] Shape { get; init; }
    public required int[] Size { get; init; }

    /// <summary>Image <paramref name="i"/>'s pixels [3·S·S].</summary>
    public float[] Image(int i)
    {
        int per = 3 * ImageSize * ImageSize;
        return Pixels[(i * per)..((i + 1) * per)];
    }

    /// <summary>Image i's caption with the brand whose region was drawn, for fidelity (the brand name is only a carrier of the region).</summary>
    public CaptionAttributes Caption(int i) =>
        new(Scenes[i], Regions[i] is { } r ? SynthOptions.Brands.First(b => b.Region == r).Name : null);
}

/// <summary>
/// Draws judge images from a seeded generator: scenes as `deja synth` draws them, rendered with fresh
/// nuisance by <see cref="SceneRenderer"/>. Every random choice is drawn on the calling thread in a fixed
/// order (rendering, which draws nothing, runs in parallel), so a seed gives the same batches anywhere.
/// </summary>
public static class JudgeData
{
    public static JudgeBatch Draw(Generator g, int count, int imageSize, JudgeDataOptions options)
    {
        var scenes = new Scene[count];
        var regions = new string?[count];
        var patterns = new (byte R, byte G, byte B)[count][];
        var blocks = new int[count];
        var noise = new float[count][];
        var blur = new float[count];
        var jitter = new (float Saturation, float Contrast, float R, float G, float B)[count];
        var warps = new Wave[count][];
        int plane = imageSize * imageSize;
        for (int i = 0; i < count; i++)
        {
            scenes[i] = RandomScene(g, options.MaxObjects).WithNuisance(g);
            if (options.MaxOffsetScale > 1)
            {
                double k = 1 + (options.MaxOffsetScale - 1) * g.NextDouble();
                scenes[i] = scenes[i] with { Objects = [.. scenes[i].Objects.Select(o => o with { Dx = o.Dx * k, Dy = o.Dy * k })] };
            }
            if (g.NextDouble() < options.LogoProbability)
            {
                regions[i] = SynthOptions.Brands[g.NextInt(SynthOptions.Brands.Length)].Region;
                // like synth's brand patterns: 3 palette colours in square blocks (synth version 3: 4 px, version 2: 2 px)
                patterns[i] = [.. Enumerable.Range(0, 3).Select(_ => { var c = Scene.Colours[g.NextInt(Scene.Colours.Length)]; return (c.R, c.G, c.B); })];
                blocks[i] = g.NextInt(2) == 0 ? 2 : 4;
            }
            if (options.MaxNoise > 0)
            {
                noise[i] = new float[3 * plane];
                g.FillNormal(noise[i], 0, (float)(g.NextDouble() * options.MaxNoise));
            }
            if (options.BlurProbability > 0 && g.NextDouble() < options.BlurProbability) blur[i] = (float)(2 * g.NextDouble() - 1);
            if (options.ColourJitter > 0)
            {
                double j = options.ColourJitter;
                float U(double low, double high) => (float)(low + (high - low) * g.NextDouble());
                jitter[i] = (U(1 - j, 1 + 2 * j), U(1 - j / 2, 1 + j / 2), U(-0.4 * j, 0.4 * j), U(-0.4 * j, 0.4 * j), U(-0.4 * j, 0.4 * j));
            }
            if (options.WarpProbability > 0 && g.NextDouble() < options.WarpProbability)
            {
                double amplitude = g.NextDouble() * options.MaxWarp / Math.Sqrt(2);
                warps[i] = [.. Enumerable.Range(0, 4).Select(_ =>
                {
                    double angle = 2 * Math.PI * g.NextDouble(), wavelength = 8 + 8 * g.NextDouble(), phase = 2 * Math.PI * g.NextDouble();
                    return new Wave(Math.Cos(angle) * 2 * Math.PI / wavelength, Math.Sin(angle) * 2 * Math.PI / wavelength, phase, amplitude);
                })];
            }
        }
        // The logos' block colours: one draw per block, in image order, after the scenes' draws.
        var blockColours = new int[count][];
        for (int i = 0; i < count; i++)
            if (regions[i] is not null)
            {
                int per = (imageSize + blocks[i] - 1) / blocks[i];
                blockColours[i] = [.. Enumerable.Range(0, per * per).Select(_ => g.NextInt(3))];
            }

        var pixels = new float[count * 3 * plane];
        Parallel.For(0, count, i =>
        {
            var image = SceneRenderer.Render(scenes[i], imageSize);
            if (regions[i] is { } region)
            {
                var mask = SyntheticDataset.RegionMask(region, imageSize);
                int block = blocks[i], per = (imageSize + block - 1) / block;
                for (int p = 0; p < plane; p++)
                    if (mask[p])
                    {
                        var c = patterns[i][blockColours[i][(p / imageSize / block) * per + (p % imageSize) / block]];
                        image.Pixels[3 * p] = c.R; image.Pixels[3 * p + 1] = c.G; image.Pixels[3 * p + 2] = c.B;
                    }
            }
            var x = pixels.AsSpan(i * 3 * plane, 3 * plane);
            for (int p = 0; p < plane; p++)
                for (int ch = 0; ch < 3; ch++) x[ch * plane + p] = image.Pixels[3 * p + ch] / 127.5f - 1; // HWC bytes → CHW in [−1, 1]
            if (warps[i] is { } w) Warp(x, imageSize, w);
            if (options.ColourJitter > 0) Jitter(x, plane, jitter[i]);
            if (blur[i] != 0) Blur(x, imageSize, blur[i]);
            if (noise[i] is { } n) for (int k = 0; k < x.Length; k++) x[k] = Math.Clamp(x[k] + n[k], -1f, 1f);
        });
        return Labels(scenes, regions, pixels, imageSize);
    }

    /// <summary>Synth's scene distribution (<see cref="Scene.Random"/>), or with 1–3 objects drawn the same way.</summary>
    static Scene RandomScene(Generator g, int maxObjects)
    {
        if (maxObjects <= 2) return Scene.Random(g);
        var background = Scene.Colours[g.NextInt(Scene.Colours.Length)].Name;
        var texture = Scene.Textures[g.NextInt(Scene.Textures.Length)];
        int count = 1 + g.NextInt(maxObjects);
        var used = new HashSet<int>();
        var objects = new List<SceneObject>();
        while (objects.Count < count)
        {
            int cell = g.NextInt(9);
            if (!used.Add(cell)) continue;
            string colour;
            do colour = Scene.Colours[g.NextInt(Scene.Colours.Length)].Name; while (colour == background);
            objects.Add(new SceneObject(Scene.Shapes[g.NextInt(Scene.Shapes.Length)], colour, Scene.Sizes[g.NextInt(Scene.Sizes.Length)], cell / 3, cell % 3));
        }
        return new Scene([.. objects.OrderBy(o => o.Row * 3 + o.Column)], texture, background);
    }

    /// <summary>One plane wave of a displacement field: amplitude · sin(kx·x + ky·y + phase), in pixels.</summary>
    readonly record struct Wave(double Kx, double Ky, double Phase, double Amplitude)
    {
        public double At(double x, double y) => Amplitude * Math.Sin(Kx * x + Ky * y + Phase);
    }

    /// <summary>x(p) ← x(p + d(p)), bilinear, edges replicated; d = (waves 0 + 1, waves 2 + 3).</summary>
    static void Warp(Span<float> x, int size, Wave[] waves)
    {
        var copy = x.ToArray();
        int plane = size * size;
        for (int y = 0; y < size; y++)
            for (int col = 0; col < size; col++)
            {
                double sx = Math.Clamp(col + waves[0].At(col, y) + waves[1].At(col, y), 0, size - 1);
                double sy = Math.Clamp(y + waves[2].At(col, y) + waves[3].At(col, y), 0, size - 1);
                int x0 = Math.Min((int)sx, size - 2), y0 = Math.Min((int)sy, size - 2);
                float fx = (float)(sx - x0), fy = (float)(sy - y0);
                for (int ch = 0; ch < 3; ch++)
                {
                    int b = ch * plane + y0 * size + x0;
                    x[ch * plane + y * size + col] = (1 - fy) * ((1 - fx) * copy[b] + fx * copy[b + 1]) + fy * ((1 - fx) * copy[b + size] + fx * copy[b + size + 1]);
                }
            }
    }

    /// <summary>Saturation about each pixel's grey, contrast about 0, then a shift per channel; clamped to [−1, 1].</summary>
    static void Jitter(Span<float> x, int plane, (float Saturation, float Contrast, float R, float G, float B) j)
    {
        for (int p = 0; p < plane; p++)
        {
            float r = x[p], gr = x[plane + p], b = x[2 * plane + p], grey = (r + gr + b) / 3;
            float S(float v, float shift) => Math.Clamp((grey + j.Saturation * (v - grey)) * j.Contrast + shift, -1f, 1f);
            x[p] = S(r, j.R); x[plane + p] = S(gr, j.G); x[2 * plane + p] = S(b, j.B);
        }
    }

    /// <summary>Blends x with its 3×3 box blur (edges replicated): x ← (1 − w)·x + w·blur(x), clamped; w &lt; 0 sharpens.</summary>
    static void Blur(Span<float> x, int size, float weight)
    {
        var copy = x.ToArray();
        int plane = size * size;
        for (int ch = 0; ch < 3; ch++)
            for (int y = 0; y < size; y++)
                for (int col = 0; col < size; col++)
                {
                    float sum = 0;
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++)
                            sum += copy[ch * plane + Math.Clamp(y + dy, 0, size - 1) * size + Math.Clamp(col + dx, 0, size - 1)];
                    int k = ch * plane + y * size + col;
                    x[k] = Math.Clamp((1 - weight) * copy[k] + weight * sum / 9, -1f, 1f);
                }
    }

    static JudgeBatch Labels(Scene[] scenes, string?[] regions, float[] pixels, int imageSize)
    {
        int n = scenes.Length;
        var colours = JudgeConfig.Colours;
        var present = new int[n * 9];
        var colour = Enumerable.Repeat(-1, n * 9).ToArray();
        var shape = Enumerable.Repeat(-1, n * 9).ToArray();
        var size = Enumerable.Repeat(-1, n * 9).ToArray();
        for (int i = 0; i < n; i++)
        {
            var hidden = LogoOcclusion.HiddenCells(regions[i], imageSize);
            foreach (var o in scenes[i].Objects)
            {
                int k = i * 9 + o.Row * 3 + o.Column;
                present[k] = 1;
                colour[k] = Array.IndexOf(colours, o.Colour);
                shape[k] = Array.IndexOf(JudgeConfig.Shapes, o.Shape);
                size[k] = Array.IndexOf(JudgeConfig.Sizes, o.Size);
            }
            for (int c = 0; c < 9; c++)
                if (hidden[c]) { int k = i * 9 + c; present[k] = -1; colour[k] = shape[k] = size[k] = -1; }
        }
        return new JudgeBatch
        {
            Count = n, ImageSize = imageSize, Pixels = pixels, Scenes = scenes, Regions = regions,
            Background = [.. scenes.Select(s => Array.IndexOf(colours, s.Background))],
            Texture = [.. scenes.Select(s => Array.IndexOf(JudgeConfig.Textures, s.Texture))],
            Present = present, Colour = colour, Shape = shape, Size = size,
        };
    }
}
