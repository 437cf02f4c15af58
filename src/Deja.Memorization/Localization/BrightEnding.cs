using Deja.Diffusion.IO;
using Deja.Diffusion.Models.UNet;
using Deja.Memorization.Detection;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Localization;

/// <summary>
/// Bright Ending (Chen et al., ICLR'25; METHODS.md §4.8): the cross-attention map of a prompt's END token
/// in the first down block with cross-attention is bright where the image is memorized. This class
/// computes that mask m; <see cref="BrightEndingDetector"/> uses it for BE's masked-magnitude detection
/// and localization methods use it as a soft map.
/// <para>
/// The reference hooks the cross-attention layers whose query length is 64² (the two of
/// <c>down_blocks.0</c> at SD1's 64×64 latents); here the layers are chosen by structure (the
/// cross-attention layers of the first down block that has any), so SD2 (5 heads, 96² latents) and
/// models whose first block is a plain DownBlock2D (deja-mini: down_blocks.1, at half the latent
/// resolution) get the same construction.
/// </para>
/// </summary>
public static class BrightEnding
{
    /// <summary>
    /// The end-token index of §4.8: len(tokenizer.encode(prompt)) − 1 with BOS and EOS counted, capped at 76 (the model's max length − 1).
    /// <paramref name="tokenCount"/> is what <see cref="EncodedConditions.TokenCounts"/> (and so
    /// <see cref="PromptBatch.TokenCounts"/>, a detect row's "tokens") holds for the prompt: the
    /// UNTRUNCATED number of ids, BOS and EOS included (<c>ClipEncoding.UntruncatedLength</c>, = the
    /// length of transformers' <c>tokenizer.encode(prompt)</c>). So the index is that of the EOS token
    /// for a prompt that fits, and <paramref name="maxLength"/> − 1 (the EOS the truncation put last) for
    /// one that was cut. Example: "a cat" → [BOS, a, cat, EOS], count 4, index 3.
    /// </summary>
    public static int EndTokenIndex(int tokenCount, int maxLength = 77)
    {
        if (maxLength < 2) throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, "the model's text length must leave room for BOS and EOS");
        if (tokenCount < 2)
            throw new ArgumentOutOfRangeException(nameof(tokenCount), tokenCount, "a token count includes BOS and EOS, so it is at least 2 (pass EncodedConditions.TokenCounts)");
        return Math.Min(tokenCount - 1, maxLength - 1);
    }

    /// <summary><see cref="EndTokenIndex"/> of each count.</summary>
    public static int[] EndTokenIndices(IReadOnlyList<int> tokenCounts, int maxLength = 77)
    {
        ArgumentNullException.ThrowIfNull(tokenCounts);
        return tokenCounts.Select(c => EndTokenIndex(c, maxLength)).ToArray();
    }

    /// <summary>
    /// BE's mask m for each row: the cross-attention probabilities of the END token, in the cross-attention layers of the FIRST down block that has cross-attention (selected by structure: down_blocks.0 in SD, down_blocks.1 in a UNet whose down_blocks.0 is a DownBlock2D), averaged over heads (done by the capture) and over those layers, conditional rows only, reshaped to that block's spatial resolution → [N, h, w]. latents [N,C,H,W], conditions [N, 77, D], endTokenIndex one per row. Runs one conditional UNet forward (no grad).
    /// </summary>
    /// <exception cref="DejaException">The model is not a Stable Diffusion UNet (the analytic model has no attention).</exception>
    public static Tensor EndTokenMaps(IDiffusionModelView model, Tensor latents, int t, Tensor conditions, IReadOnlyList<int> endTokenIndex)
    {
        ArgumentNullException.ThrowIfNull(latents); ArgumentNullException.ThrowIfNull(conditions); ArgumentNullException.ThrowIfNull(endTokenIndex);
        var view = RequireStableDiffusion(model);
        if (latents.Rank != 4) throw new ArgumentException($"bright-ending: latents must be [N, C, H, W], got {Shapes.Str(latents.Shape)}");
        int n = latents.Shape[0];
        if (conditions.Rank != 3 || conditions.Shape[0] != n)
            throw new ArgumentException($"bright-ending: conditions must be [{n}, L, D] for latents {Shapes.Str(latents.Shape)}, got {Shapes.Str(conditions.Shape)}");
        var capture = new EndTokenCapture(view, latents.Shape[2], latents.Shape[3], conditions.Shape[1], endTokenIndex, rowOffset: 0, rows: n);
        using (GradMode.NoGrad())
        using (var scope = TensorScope.Enter())
            view.Forward(latents, t, conditions, capture.Hook);
        return capture.Maps();
    }

    /// <summary>
    /// <see cref="EndTokenMaps(IDiffusionModelView, Tensor, int, Tensor, IReadOnlyList{int})"/> for encoded
    /// prompts: <paramref name="latents"/> holds N = P·n rows, prompt-major (row p·n + j is generation j of
    /// prompt p, as <see cref="PromptBatch.StackedLatents"/>), each row conditioned on its prompt and
    /// masked at that prompt's end token (<see cref="EndTokenIndex"/> of its token count).
    /// </summary>
    public static Tensor EndTokenMaps(IDiffusionModelView model, Tensor latents, int t, EncodedConditions encoded)
    {
        ArgumentNullException.ThrowIfNull(latents); ArgumentNullException.ThrowIfNull(encoded);
        int prompts = encoded.Conditions.Shape[0];
        if (latents.Rank != 4 || prompts == 0 || latents.Shape[0] % prompts != 0)
            throw new ArgumentException($"bright-ending: latents {Shapes.Str(latents.Shape)} must hold n rows for each of the {prompts} prompts");
        int n = latents.Shape[0] / prompts;
        var ends = EndTokenIndices(encoded.TokenCounts, encoded.Conditions.Shape[1]);
        using var conditions = PromptBatch.RepeatRows(encoded.Conditions, n);
        return EndTokenMaps(model, latents, t, conditions, RepeatEach(ends, n));
    }

    /// <summary>
    /// The cross-attention layers whose maps are averaged: every attn2 of the first down block with
    /// cross-attention, e.g. down_blocks.0.attentions.{0,1}.transformer_blocks.0.attn2 in SD.
    /// </summary>
    public static IReadOnlyList<string> MaskLayerPaths(IDiffusionModelView model) => Layers(RequireStableDiffusion(model).Pipeline.UNet.Config).Paths;

    /// <summary>The mask's [h, w] for latents of <paramref name="latentHeight"/> × <paramref name="latentWidth"/>: the selected block's resolution.</summary>
    public static (int Height, int Width) MapSize(IDiffusionModelView model, int latentHeight, int latentWidth)
    {
        var layers = Layers(RequireStableDiffusion(model).Pipeline.UNet.Config);
        return BlockSize(layers.Block, latentHeight, latentWidth);
    }

    /// <summary>
    /// maps [N, h, w] → [N, H, W] by bilinear interpolation as PyTorch's
    /// F.interpolate(mode="bilinear", align_corners=False) (pixel centres aligned, edges clamped); a copy
    /// when the size is already [H, W].
    /// </summary>
    public static Tensor Resize(Tensor maps, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(maps);
        if (maps.Rank != 3) throw new ArgumentException($"bright-ending: maps must be [N, h, w], got {Shapes.Str(maps.Shape)}");
        if (height < 1 || width < 1) throw new ArgumentException($"bright-ending: cannot resize maps to {height}×{width}");
        int n = maps.Shape[0], h = maps.Shape[1], w = maps.Shape[2];
        var src = maps.ReadOnlySpan;
        var dst = new float[(long)n * height * width];
        if (h == height && w == width) src.CopyTo(dst);
        else
        {
            var (y0, y1, fy) = Taps(h, height);
            var (x0, x1, fx) = Taps(w, width);
            for (int i = 0; i < n; i++)
            {
                var m = src.Slice(i * h * w, h * w);
                for (int y = 0; y < height; y++)
                {
                    int r0 = y0[y] * w, r1 = y1[y] * w;
                    float ly = fy[y];
                    for (int x = 0; x < width; x++)
                    {
                        float lx = fx[x];
                        float top = (1 - lx) * m[r0 + x0[x]] + lx * m[r0 + x1[x]];
                        float bottom = (1 - lx) * m[r1 + x0[x]] + lx * m[r1 + x1[x]];
                        dst[((long)i * height + y) * width + x] = (1 - ly) * top + ly * bottom;
                    }
                }
            }
        }
        return Tensor.FromArray(dst, n, height, width);
    }

    /// <summary>Source taps of linear interpolation from <paramref name="size"/> to <paramref name="target"/> samples (align_corners=False).</summary>
    static (int[] Lo, int[] Hi, float[] Frac) Taps(int size, int target)
    {
        var lo = new int[target]; var hi = new int[target]; var frac = new float[target];
        float scale = (float)size / target;
        for (int i = 0; i < target; i++)
        {
            float s = Math.Max((i + 0.5f) * scale - 0.5f, 0f);
            int l = Math.Min((int)s, size - 1);
            lo[i] = l;
            hi[i] = l < size - 1 ? l + 1 : l;
            frac[i] = s - l;
        }
        return (lo, hi, frac);
    }

    internal static StableDiffusionView RequireStableDiffusion(IDiffusionModelView model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model as StableDiffusionView ?? throw new DejaException(
            $"bright-ending: Bright Ending reads the cross-attention maps of a Stable Diffusion UNet; the model {model.Name} has no cross-attention layers (use a pipeline folder, not the analytic model)");
    }

    internal sealed record MaskLayers(int Block, IReadOnlyList<string> Paths);

    internal static MaskLayers Layers(UNet2DConditionConfig config)
    {
        int block = Array.FindIndex(config.DownBlockTypes, b => b.StartsWith("CrossAttn", StringComparison.Ordinal));
        if (block < 0)
            throw new DejaException($"bright-ending: the UNet has no down block with cross-attention (down_block_types {string.Join(", ", config.DownBlockTypes)}), so there is no end-token map to take");
        var paths = new List<string>();
        for (int j = 0; j < config.LayersPerBlock[block]; j++)
            for (int b = 0; b < config.TransformerLayersPerBlock[block]; b++)
                paths.Add($"down_blocks.{block}.attentions.{j}.transformer_blocks.{b}.attn2");
        return new MaskLayers(block, paths);
    }

    /// <summary>The resolution of down block <paramref name="block"/>: each downsampler before it halves a side, rounding up (3×3, stride 2, padding 1).</summary>
    static (int Height, int Width) BlockSize(int block, int height, int width)
    {
        for (int i = 0; i < block; i++) { height = (height + 1) / 2; width = (width + 1) / 2; }
        return (height, width);
    }

    internal static int[] RepeatEach(IReadOnlyList<int> values, int times)
    {
        var result = new int[values.Count * times];
        for (int p = 0; p < values.Count; p++)
            for (int j = 0; j < times; j++) result[p * times + j] = values[p];
        return result;
    }

    /// <summary>
    /// A UNet hook that keeps, for rows [rowOffset, rowOffset + rows) of the forward's batch, the
    /// end-token column of each selected layer's head-averaged probabilities and averages the layers.
    /// The values are copied into plain arrays: tensors made inside a hook belong to the forward's scopes.
    /// </summary>
    internal sealed class EndTokenCapture
    {
        readonly Dictionary<string, bool> layers;
        readonly int[] ends;
        readonly int rowOffset, rows, height, width, contextLength;
        readonly double[] sums;

        public EndTokenCapture(StableDiffusionView view, int latentHeight, int latentWidth, int contextLength, IReadOnlyList<int> endTokenIndex, int rowOffset, int rows)
        {
            var selected = Layers(view.Pipeline.UNet.Config);
            if (endTokenIndex.Count != rows)
                throw new ArgumentException($"bright-ending: {endTokenIndex.Count} end-token indices for {rows} rows (give one per row)");
            for (int r = 0; r < rows; r++)
                if (endTokenIndex[r] < 0 || endTokenIndex[r] >= contextLength)
                    throw new ArgumentException($"bright-ending: end-token index {endTokenIndex[r]} of row {r} is outside the {contextLength} condition tokens");
            layers = selected.Paths.ToDictionary(p => p + CrossAttention.ProbabilitiesSuffix, _ => false);
            ends = [.. endTokenIndex];
            this.rowOffset = rowOffset; this.rows = rows; this.contextLength = contextLength;
            (height, width) = BlockSize(selected.Block, latentHeight, latentWidth);
            sums = new double[rows * height * width];
        }

        public void Hook(string path, Tensor output)
        {
            if (!layers.TryGetValue(path, out bool seen)) return;
            if (seen) throw new InvalidOperationException($"bright-ending: {path} was reported twice in one forward");
            layers[path] = true;
            int hw = height * width;
            if (output.Rank != 3 || output.Shape[0] < rowOffset + rows || output.Shape[1] != hw || output.Shape[2] != contextLength)
                throw new InvalidOperationException($"bright-ending: {path} reported {Shapes.Str(output.Shape)}, expected [≥{rowOffset + rows}, {hw} ({height}×{width}), {contextLength}]");
            var s = output.ReadOnlySpan;
            for (int r = 0; r < rows; r++)
            {
                int e = ends[r];
                long row = (long)(rowOffset + r) * hw;
                for (int q = 0; q < hw; q++) sums[r * hw + q] += s[(int)((row + q) * contextLength + e)];
            }
        }

        /// <summary>The layer-averaged end-token maps [rows, h, w], once every selected layer has reported.</summary>
        public Tensor Maps()
        {
            var missing = layers.Where(kv => !kv.Value).Select(kv => kv.Key).ToList();
            if (missing.Count > 0) throw new InvalidOperationException($"bright-ending: the UNet forward reported no {string.Join(", ", missing)}");
            var maps = new float[sums.Length];
            for (int i = 0; i < maps.Length; i++) maps[i] = (float)(sums[i] / layers.Count);
            return Tensor.FromArray(maps, rows, height, width);
        }
    }
}
