using Deja.Tensors.Nn;
using Deja.Diffusion.IO;
using Deja.Diffusion.Text;
using Deja.Tensors;

namespace Deja.Diffusion.Models.Clip;

/// <summary>Prompt embeddings [B, L, H] (the UNet's encoder_hidden_states) with each prompt's tokenization.</summary>
public sealed record PromptEmbeddings(Tensor Embeddings, IReadOnlyList<ClipEncoding> Encodings) : IDisposable
{
    public void Dispose() => Embeddings.Dispose();
}

/// <summary>
/// Prompt text → text-encoder embeddings, as a Stable Diffusion pipeline's encode_prompt does it: the
/// CLIP tokenizer pads/truncates each prompt to <see cref="ClipTokenizer.ModelMaxLength"/> ids (no
/// attention mask), the <see cref="ClipTextModel"/> encodes them (optionally with clip skip). Encoding
/// runs without recording gradients, in batches of <see cref="BatchSize"/>. For gradients with respect to
/// the prompt embedding use <see cref="Model"/> directly (<see cref="ClipTextModel.TokenEmbeddings"/> and
/// <see cref="ClipTextModel.ForwardEmbeds(Tensor, int)"/>).
/// </summary>
public sealed class TextEncoder
{
    readonly object cacheLock = new();
    Tensor? unconditional;
    int batchSize = 8;

    public ClipTokenizer Tokenizer { get; }
    public ClipTextModel Model { get; }
    /// <summary>diffusers' clip_skip (0: the model's last_hidden_state).</summary>
    public int ClipSkip { get; }

    /// <summary>Prompts per text-encoder forward (memory vs. speed; results do not depend on it beyond float rounding).</summary>
    public int BatchSize
    {
        get => batchSize;
        set => batchSize = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(BatchSize), value, "TextEncoder: batch size must be at least 1");
    }

    /// <summary>Sequence length of every encoding (77 for Stable Diffusion).</summary>
    public int Length => Tokenizer.ModelMaxLength;
    public int HiddenSize => Model.HiddenSize;

    public TextEncoder(ClipTokenizer tokenizer, ClipTextModel model, int clipSkip = 0)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(model);
        if (tokenizer.ModelMaxLength > model.MaxLength)
            throw new DejaException($"TextEncoder: the tokenizer pads to {tokenizer.ModelMaxLength} ids, but the text encoder has only {model.MaxLength} positions");
        int largestId = tokenizer.AddedTokens.Select(t => t.Id).Append(tokenizer.VocabularySize - 1).Max();
        if (largestId >= model.Config.VocabSize)
            throw new DejaException($"TextEncoder: the tokenizer produces ids up to {largestId}, but the text encoder's vocabulary has {model.Config.VocabSize} rows");
        if (clipSkip < 0 || clipSkip > model.NumLayers)
            throw new ArgumentOutOfRangeException(nameof(clipSkip), clipSkip, $"TextEncoder: clip_skip must be in 0..{model.NumLayers}");
        Tokenizer = tokenizer;
        Model = model;
        ClipSkip = clipSkip;
    }

    /// <summary>Opens the pipeline folder at <paramref name="directory"/> (validating it) and loads its tokenizer and text encoder.</summary>
    public static TextEncoder Load(string directory, int clipSkip = 0) => Load(PipelineFolder.Open(directory), clipSkip);

    /// <summary>
    /// Loads tokenizer/ and text_encoder/ of a pipeline. The weights are loaded strictly (a missing,
    /// unexpected or mis-shaped tensor is an <see cref="InvalidDataException"/> naming it) and frozen
    /// (RequiresGrad off), since Deja differentiates with respect to inputs, not weights.
    /// </summary>
    public static TextEncoder Load(PipelineFolder folder, int clipSkip = 0, WeightsHashes? hashes = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var tokenizer = ClipTokenizer.Load(folder.Tokenizer.Directory);
        var model = LoadModel(folder.TextEncoderConfig, folder.TextEncoderWeights, hashes);
        return new TextEncoder(tokenizer, model, clipSkip);
    }

    /// <summary>
    /// A <see cref="ClipTextModel"/> of <paramref name="config"/> filled strictly from a safetensors file, frozen;
    /// the file's content hash goes to <paramref name="hashes"/> when given.
    /// </summary>
    public static ClipTextModel LoadModel(ClipTextConfig config, string weightsPath, WeightsHashes? hashes = null)
    {
        ClipTextModel model;
        using (var file = SafeTensorsFile.Open(weightsPath))
        {
            ModelSize.CheckFits(CheckpointLayout.ClipTextItems(config), file, config.Source);
            using (Init.Skip()) model = new ClipTextModel(config); // every parameter is loaded below
            file.LoadModule(model);
            hashes?.Record(file);
        }
        model.SetRequiresGrad(false);
        model.Eval();
        return model;
    }

    /// <summary>Embeddings [prompts.Count, Length, H] of the prompts, with their tokenizations (truncation flags included).</summary>
    public PromptEmbeddings EncodePrompts(IReadOnlyList<string> prompts)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new ArgumentException("TextEncoder: no prompts to encode", nameof(prompts));
        var encodings = new ClipEncoding[prompts.Count];
        for (int i = 0; i < prompts.Count; i++)
            encodings[i] = Tokenizer.EncodePadded(prompts[i] ?? throw new ArgumentException($"TextEncoder: prompt {i} is null", nameof(prompts)));
        return new PromptEmbeddings(EncodeIds(encodings.Select(e => e.Ids).ToArray()), encodings);
    }

    /// <summary>Embeddings [B, L, H] of already tokenized rows, in batches of <see cref="BatchSize"/>.</summary>
    public Tensor EncodeIds(int[][] ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Length == 0) throw new ArgumentException("TextEncoder: no token id rows to encode", nameof(ids));
        using var _ = GradMode.NoGrad();
        if (ids.Length <= BatchSize) return Model.Forward(ids, ClipSkip);
        int rowLength = ids[0]?.Length ?? 0;
        for (int i = 1; i < ids.Length; i++)
            if (ids[i]?.Length != rowLength)
                throw new ArgumentException($"TextEncoder: token id rows must have equal lengths; row 0 has {rowLength}, row {i} has {ids[i]?.Length.ToString() ?? "null"}", nameof(ids));
        var result = Tensor.Empty(ids.Length, rowLength, HiddenSize);
        try
        {
            int rowSize = rowLength * HiddenSize;
            for (int start = 0; start < ids.Length; start += BatchSize)
            {
                int count = Math.Min(BatchSize, ids.Length - start);
                using var part = Model.Forward(ids[start..(start + count)], ClipSkip);
                part.ReadOnlySpan.CopyTo(result.Span.Slice(start * rowSize, count * rowSize));
            }
        }
        catch
        {
            result.Dispose();
            throw;
        }
        return result;
    }

    /// <summary>
    /// The embedding [1, Length, H] of the empty prompt "" (the unconditional input of classifier-free
    /// guidance), computed once; each call returns a fresh copy the caller owns.
    /// </summary>
    public Tensor EncodeUnconditional()
    {
        lock (cacheLock)
        {
            if (unconditional is null)
            {
                var computed = EncodeIds([Tokenizer.EncodePadded("").Ids]);
                TensorScope.Untrack(computed); // the cache outlives whatever scope the first caller is in
                unconditional = computed;
            }
            return Tensor.FromArray(unconditional.ReadOnlySpan, unconditional.Shape);
        }
    }
}
