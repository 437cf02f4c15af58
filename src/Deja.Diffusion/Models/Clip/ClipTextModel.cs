using Deja.Diffusion.IO;
using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.Clip;

/// <summary>
/// transformers' <c>CLIPTextModel</c>, the text encoder of Stable Diffusion 1.x/2.x. Parameters carry the
/// checkpoint keys ("text_model.encoder.layers.0.self_attn.q_proj.weight", ...), so
/// <see cref="SafeTensorsFile.LoadModule"/> fills them. Forward: x = token_embedding[ids] + position_embedding[0..L−1];
/// each layer x += attn(LN1(x)) (causal), x += mlp(LN2(x)); last_hidden_state = final_layer_norm(x).
/// Works under autograd (also with respect to the input embeddings, see <see cref="ForwardEmbeds(Tensor, ClipTextOptions)"/>)
/// and under <see cref="GradMode.NoGrad"/>, where each layer's intermediates are freed when it ends.
/// No attention mask: Stable Diffusion pipelines pass none (the causal mask already hides the padding that follows a token).
/// </summary>
public sealed class ClipTextModel : Module
{
    public ClipTextConfig Config { get; }
    public ClipTextTransformer TextModel { get; }

    /// <summary>Builds the model with random weights (PyTorch's default inits, from <paramref name="init"/>, seed 0 when omitted).</summary>
    public ClipTextModel(ClipTextConfig config, Generator? init = null)
    {
        var problems = config.Problems();
        if (problems.Count > 0)
            throw new DejaException("ClipTextModel: unsupported config: " + string.Join("; ", problems));
        Config = config;
        TextModel = Register("text_model", new ClipTextTransformer(config, init ?? new Generator(0)));
    }

    public int HiddenSize => Config.HiddenSize;
    public int NumLayers => Config.NumHiddenLayers;
    /// <summary>The longest sequence the position embeddings cover (77 for Stable Diffusion).</summary>
    public int MaxLength => Config.MaxPositionEmbeddings;

    // ------------------------------------------------------------ forward from token ids

    /// <summary>last_hidden_state [B, L, H] of token ids (B rows of equal length L ≤ <see cref="MaxLength"/>).</summary>
    public Tensor Forward(int[][] ids, int clipSkip = 0) => Forward(ids, new ClipTextOptions { ClipSkip = clipSkip }).LastHiddenState;

    /// <summary>last_hidden_state [B, L, H] of a tensor of whole-number ids [B, L].</summary>
    public Tensor Forward(Tensor ids, int clipSkip = 0) => Forward(ids, new ClipTextOptions { ClipSkip = clipSkip }).LastHiddenState;

    public ClipTextOutput Forward(int[][] ids, ClipTextOptions options) => Run(TokenIds.FromRows(ids, this), options);

    public ClipTextOutput Forward(Tensor ids, ClipTextOptions options) => Run(TokenIds.FromTensor(ids, this), options);

    /// <summary>
    /// The rows of token_embedding for <paramref name="ids"/>, [B, L, H], without position embeddings: the
    /// inputs_embeds to perturb or differentiate with respect to (set RequiresGrad on the result, then
    /// call <see cref="ForwardEmbeds(Tensor, int)"/>).
    /// </summary>
    public Tensor TokenEmbeddings(int[][] ids)
    {
        var t = TokenIds.FromRows(ids, this);
        return TextModel.Embeddings.Tokens(t.Flat, t.Batch, t.Length);
    }

    ClipTextOutput Run(TokenIds ids, ClipTextOptions options)
    {
        CheckClipSkip(options.ClipSkip);
        using var tokens = TextModel.Embeddings.Tokens(ids.Flat, ids.Batch, ids.Length);
        var output = Encode(TextModel.Embeddings.AddPositions(tokens), options);
        if (!options.OutputPooler) return output;
        return output with { PoolerOutput = Pool(output.LastHiddenState, ids) };
    }

    // ------------------------------------------------------------ forward from input embeddings

    /// <summary>
    /// last_hidden_state [B, L, H] of inputs_embeds [B, L, H] (token embeddings; the position embeddings
    /// are added here, as transformers does). Differentiable with respect to <paramref name="inputsEmbeds"/>.
    /// </summary>
    public Tensor ForwardEmbeds(Tensor inputsEmbeds, int clipSkip = 0) =>
        ForwardEmbeds(inputsEmbeds, new ClipTextOptions { ClipSkip = clipSkip }).LastHiddenState;

    /// <summary>As <see cref="ForwardEmbeds(Tensor, int)"/> with options; the pooler needs ids (see <see cref="Pool"/>).</summary>
    public ClipTextOutput ForwardEmbeds(Tensor inputsEmbeds, ClipTextOptions options)
    {
        if (inputsEmbeds.Rank != 3 || inputsEmbeds.Shape[0] < 1 || inputsEmbeds.Shape[1] < 1 || inputsEmbeds.Shape[1] > MaxLength || inputsEmbeds.Shape[2] != HiddenSize)
            throw new ArgumentException($"ClipTextModel: inputs_embeds must be [B, L, {HiddenSize}] with 1 ≤ L ≤ {MaxLength}, got {Shapes.Str(inputsEmbeds.Shape)}");
        if (options.OutputPooler)
            throw new ArgumentException("ClipTextModel: pooler_output needs token ids; call Pool(lastHiddenState, ids) after ForwardEmbeds");
        CheckClipSkip(options.ClipSkip);
        return Encode(TextModel.Embeddings.AddPositions(inputsEmbeds), options);
    }

    // ------------------------------------------------------------ shared

    /// <summary>Runs the layers on <paramref name="embeddings"/> (taken over: freed unless returned as a hidden state).</summary>
    ClipTextOutput Encode(Tensor embeddings, ClipTextOptions options)
    {
        var hidden = options.OutputHiddenStates ? new List<Tensor> { embeddings } : null;
        var h = embeddings;
        int layers = NumLayers - options.ClipSkip;
        var stack = TextModel.Encoder.Layers;
        for (int i = 0; i < layers; i++)
        {
            var next = stack[i].Forward(h);
            if (hidden is null) h.Dispose();
            else hidden.Add(next);
            h = next;
        }
        var last = TextModel.FinalLayerNorm.Forward(h);
        if (hidden is null) h.Dispose();
        return new ClipTextOutput(last, null, hidden);
    }

    void CheckClipSkip(int clipSkip)
    {
        if (clipSkip < 0 || clipSkip > NumLayers)
            throw new ArgumentOutOfRangeException(nameof(clipSkip), clipSkip, $"ClipTextModel: clip_skip must be in 0..{NumLayers} (the model has {NumLayers} layers)");
    }

    /// <summary>
    /// pooler_output [B, H]: the row of <paramref name="lastHiddenState"/> [B, L, H] at each sequence's
    /// end-of-text position, by transformers' rule for this config (see <see cref="ClipTextOptions.OutputPooler"/>).
    /// </summary>
    public Tensor Pool(Tensor lastHiddenState, int[][] ids) => Pool(lastHiddenState, TokenIds.FromRows(ids, this));

    Tensor Pool(Tensor lastHiddenState, TokenIds ids)
    {
        if (lastHiddenState.Rank != 3 || lastHiddenState.Shape[0] != ids.Batch || lastHiddenState.Shape[1] != ids.Length)
            throw new ArgumentException($"ClipTextModel.Pool: hidden states {Shapes.Str(lastHiddenState.Shape)} do not match ids [{ids.Batch}, {ids.Length}]");
        var rows = new int[ids.Batch];
        for (int b = 0; b < ids.Batch; b++) rows[b] = b * ids.Length + EndOfTextPosition(ids.Flat.AsSpan(b * ids.Length, ids.Length));
        using var flat = Ops.Reshape(lastHiddenState, ids.Batch * ids.Length, lastHiddenState.Shape[2]);
        return Ops.IndexSelect(flat, rows);
    }

    /// <summary>
    /// transformers: configs with the legacy eos_token_id 2 (SD's CLIP) take argmax(ids), which is the
    /// first &lt;|endoftext|&gt; (49407, the largest id); others take the first id equal to eos_token_id (0 if none).
    /// </summary>
    int EndOfTextPosition(ReadOnlySpan<int> row)
    {
        if (Config.EosTokenId == 2)
        {
            int best = 0;
            for (int i = 1; i < row.Length; i++) if (row[i] > row[best]) best = i;
            return best;
        }
        int at = row.IndexOf(Config.EosTokenId);
        return at < 0 ? 0 : at;
    }

    /// <summary>Token ids flattened row-major, checked against the vocabulary and the position range.</summary>
    readonly record struct TokenIds(int[] Flat, int Batch, int Length)
    {
        public static TokenIds FromRows(int[][] rows, ClipTextModel m)
        {
            ArgumentNullException.ThrowIfNull(rows);
            if (rows.Length == 0) throw new ArgumentException("ClipTextModel: no token id rows (batch of 0)");
            int length = rows[0]?.Length ?? 0;
            var flat = new int[rows.Length * length];
            for (int b = 0; b < rows.Length; b++)
            {
                if (rows[b] is null || rows[b].Length != length)
                    throw new ArgumentException($"ClipTextModel: token id rows must have equal lengths; row 0 has {length}, row {b} has {rows[b]?.Length.ToString() ?? "null"}");
                rows[b].CopyTo(flat, b * length);
            }
            return Checked(flat, rows.Length, length, m);
        }

        public static TokenIds FromTensor(Tensor ids, ClipTextModel m)
        {
            if (ids.Rank != 2) throw new ArgumentException($"ClipTextModel: token ids must be [B, L], got {Shapes.Str(ids.Shape)}");
            var values = ids.ReadOnlySpan;
            var flat = new int[values.Length];
            for (int i = 0; i < flat.Length; i++)
            {
                float v = values[i];
                if (v != MathF.Round(v) || !(Math.Abs(v) < 1 << 24))
                    throw new ArgumentException($"ClipTextModel: token id {v} at position {i} is not a whole number");
                flat[i] = (int)v;
            }
            return Checked(flat, ids.Shape[0], ids.Shape[1], m);
        }

        static TokenIds Checked(int[] flat, int batch, int length, ClipTextModel m)
        {
            if (batch < 1 || length < 1 || length > m.MaxLength)
                throw new ArgumentException($"ClipTextModel: token ids [{batch}, {length}]: need at least one row and 1 to {m.MaxLength} ids per row (max_position_embeddings)");
            int vocab = m.Config.VocabSize;
            for (int i = 0; i < flat.Length; i++)
                if ((uint)flat[i] >= (uint)vocab)
                    throw new ArgumentOutOfRangeException(nameof(flat), $"ClipTextModel: token id {flat[i]} (row {i / length}, position {i % length}) is outside the vocabulary of {vocab}");
            return new TokenIds(flat, batch, length);
        }
    }
}
