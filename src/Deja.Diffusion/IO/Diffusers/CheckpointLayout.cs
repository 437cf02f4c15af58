namespace Deja.Diffusion.IO;

/// <summary>
/// The tensor names and shapes that a diffusers/transformers checkpoint of a given config contains
/// (the state dict of the PyTorch model). Used to check a weights file before building a model, to
/// produce full-size test files, and as a readable map of the architectures.
/// </summary>
public static class CheckpointLayout
{
    public readonly record struct Item(string Name, int[] Shape);

    /// <summary>UNet2DConditionModel (SD1/SD2 blocks): about 686 tensors, 859.5 M parameters for SD1.</summary>
    public static List<Item> UNet(UNet2DConditionConfig c) => [.. UNetItems(c)];

    /// <summary>
    /// The items of <see cref="UNet"/>, produced lazily a few at a time: a size check can stop as soon as
    /// a damaged config turns out to describe more than the weights file holds, without building the list.
    /// </summary>
    public static IEnumerable<Item> UNetItems(UNet2DConditionConfig c)
    {
        var o = new List<Item>();
        int n = c.BlockOutChannels.Length, c0 = c.BlockOutChannels[0], temb = c.TimeEmbedDim;
        Conv(o, "conv_in", c0, c.InChannels, c.ConvInKernel);
        Linear(o, "time_embedding.linear_1", temb, c0);
        Linear(o, "time_embedding.linear_2", temb, temb);

        for (int i = 0; i < n; i++)
        {
            int input = i == 0 ? c0 : c.BlockOutChannels[i - 1], output = c.BlockOutChannels[i];
            bool attn = c.DownBlockTypes[i].StartsWith("CrossAttn", StringComparison.Ordinal);
            for (int j = 0; j < c.LayersPerBlock[i]; j++)
            {
                ResNet(o, $"down_blocks.{i}.resnets.{j}", j == 0 ? input : output, output, temb);
                if (attn) Transformer(o, $"down_blocks.{i}.attentions.{j}", output, c.CrossAttentionDim[i], c.TransformerLayersPerBlock[i], c.UseLinearProjection);
                foreach (var item in Drain(o)) yield return item;
            }
            if (i < n - 1) Conv(o, $"down_blocks.{i}.downsamplers.0.conv", output, output, 3);
        }

        int last = c.BlockOutChannels[^1];
        ResNet(o, "mid_block.resnets.0", last, last, temb);
        Transformer(o, "mid_block.attentions.0", last, c.CrossAttentionDim[^1], c.TransformerLayersPerBlock[^1], c.UseLinearProjection);
        ResNet(o, "mid_block.resnets.1", last, last, temb);

        int previous = last;
        for (int i = 0; i < n; i++)
        {
            int r = n - 1 - i; // up block i mirrors down block r
            int output = c.BlockOutChannels[r], input = c.BlockOutChannels[Math.Max(r - 1, 0)];
            bool attn = c.UpBlockTypes[i].StartsWith("CrossAttn", StringComparison.Ordinal);
            int layers = c.LayersPerBlock[r] + 1;
            for (int j = 0; j < layers; j++)
            {
                // Each resnet takes the running features concatenated with one skip connection.
                int skip = j == layers - 1 ? input : output;
                ResNet(o, $"up_blocks.{i}.resnets.{j}", (j == 0 ? previous : output) + skip, output, temb);
                if (attn) Transformer(o, $"up_blocks.{i}.attentions.{j}", output, c.CrossAttentionDim[r], c.TransformerLayersPerBlock[r], c.UseLinearProjection);
                foreach (var item in Drain(o)) yield return item;
            }
            if (i < n - 1) Conv(o, $"up_blocks.{i}.upsamplers.0.conv", output, output, 3);
            previous = output;
        }

        Norm(o, "conv_norm_out", c0);
        Conv(o, "conv_out", c.OutChannels, c0, c.ConvOutKernel);
        foreach (var item in Drain(o)) yield return item;
    }

    /// <summary>The buffered items, emptying the buffer (a copy, so the caller may keep adding).</summary>
    static Item[] Drain(List<Item> o)
    {
        var items = o.ToArray();
        o.Clear();
        return items;
    }

    /// <summary>CLIPTextModel (the position_ids buffer is not part of saved checkpoints).</summary>
    public static List<Item> ClipText(ClipTextConfig c) => [.. ClipTextItems(c)];

    /// <summary>The items of <see cref="ClipText"/>, lazily (see <see cref="UNetItems"/>).</summary>
    public static IEnumerable<Item> ClipTextItems(ClipTextConfig c)
    {
        var o = new List<Item>();
        int h = c.HiddenSize;
        o.Add(new("text_model.embeddings.token_embedding.weight", [c.VocabSize, h]));
        o.Add(new("text_model.embeddings.position_embedding.weight", [c.MaxPositionEmbeddings, h]));
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            var p = $"text_model.encoder.layers.{i}";
            foreach (var proj in new[] { "q_proj", "k_proj", "v_proj", "out_proj" }) Linear(o, $"{p}.self_attn.{proj}", h, h);
            Norm(o, $"{p}.layer_norm1", h);
            Linear(o, $"{p}.mlp.fc1", c.IntermediateSize, h);
            Linear(o, $"{p}.mlp.fc2", h, c.IntermediateSize);
            Norm(o, $"{p}.layer_norm2", h);
            foreach (var item in Drain(o)) yield return item;
        }
        Norm(o, "text_model.final_layer_norm", h);
        foreach (var item in Drain(o)) yield return item;
    }

    /// <summary>AutoencoderKL with the current attention naming (to_q/to_k/to_v/to_out.0).</summary>
    public static List<Item> Vae(AutoencoderKLConfig c) => [.. VaeItems(c)];

    /// <summary>The items of <see cref="Vae"/>, lazily (see <see cref="UNetItems"/>).</summary>
    public static IEnumerable<Item> VaeItems(AutoencoderKLConfig c)
    {
        var o = new List<Item>();
        int n = c.BlockOutChannels.Length, c0 = c.BlockOutChannels[0], last = c.BlockOutChannels[^1], latent = c.LatentChannels;

        Conv(o, "encoder.conv_in", c0, c.InChannels, 3);
        for (int i = 0; i < n; i++)
        {
            int input = i == 0 ? c0 : c.BlockOutChannels[i - 1], output = c.BlockOutChannels[i];
            for (int j = 0; j < c.LayersPerBlock; j++)
            {
                ResNet(o, $"encoder.down_blocks.{i}.resnets.{j}", j == 0 ? input : output, output, null);
                foreach (var item in Drain(o)) yield return item;
            }
            if (i < n - 1) Conv(o, $"encoder.down_blocks.{i}.downsamplers.0.conv", output, output, 3);
        }
        VaeMid(o, "encoder.mid_block", last);
        Norm(o, "encoder.conv_norm_out", last);
        Conv(o, "encoder.conv_out", 2 * latent, last, 3);
        Conv(o, "quant_conv", 2 * latent, 2 * latent, 1);
        Conv(o, "post_quant_conv", latent, latent, 1);

        Conv(o, "decoder.conv_in", last, latent, 3);
        VaeMid(o, "decoder.mid_block", last);
        int previous = last;
        for (int i = 0; i < n; i++)
        {
            int output = c.BlockOutChannels[n - 1 - i];
            for (int j = 0; j < c.LayersPerBlock + 1; j++)
            {
                ResNet(o, $"decoder.up_blocks.{i}.resnets.{j}", j == 0 ? previous : output, output, null);
                foreach (var item in Drain(o)) yield return item;
            }
            if (i < n - 1) Conv(o, $"decoder.up_blocks.{i}.upsamplers.0.conv", output, output, 3);
            previous = output;
        }
        Norm(o, "decoder.conv_norm_out", c0);
        Conv(o, "decoder.conv_out", c.OutChannels, c0, 3);
        foreach (var item in Drain(o)) yield return item;
    }

    static void VaeMid(List<Item> o, string p, int ch)
    {
        ResNet(o, $"{p}.resnets.0", ch, ch, null);
        Norm(o, $"{p}.attentions.0.group_norm", ch);
        foreach (var proj in new[] { "to_q", "to_k", "to_v", "to_out.0" }) Linear(o, $"{p}.attentions.0.{proj}", ch, ch);
        ResNet(o, $"{p}.resnets.1", ch, ch, null);
    }

    static void ResNet(List<Item> o, string p, int cin, int cout, int? temb)
    {
        Norm(o, $"{p}.norm1", cin);
        Conv(o, $"{p}.conv1", cout, cin, 3);
        if (temb is int t) Linear(o, $"{p}.time_emb_proj", cout, t);
        Norm(o, $"{p}.norm2", cout);
        Conv(o, $"{p}.conv2", cout, cout, 3);
        if (cin != cout) Conv(o, $"{p}.conv_shortcut", cout, cin, 1);
    }

    static void Transformer(List<Item> o, string p, int ch, int cross, int layers, bool linearProjection)
    {
        Norm(o, $"{p}.norm", ch);
        Projection(o, $"{p}.proj_in", ch, linearProjection);
        for (int k = 0; k < layers; k++)
        {
            var b = $"{p}.transformer_blocks.{k}";
            Norm(o, $"{b}.norm1", ch);
            Attention(o, $"{b}.attn1", ch, ch);
            Norm(o, $"{b}.norm2", ch);
            Attention(o, $"{b}.attn2", ch, cross);
            Norm(o, $"{b}.norm3", ch);
            Linear(o, $"{b}.ff.net.0.proj", 8 * ch, ch); // GEGLU: value and gate halves, 4x width each
            Linear(o, $"{b}.ff.net.2", ch, 4 * ch);
        }
        Projection(o, $"{p}.proj_out", ch, linearProjection);
    }

    static void Projection(List<Item> o, string p, int ch, bool linear)
    {
        if (linear) Linear(o, p, ch, ch);
        else Conv(o, p, ch, ch, 1);
    }

    static void Attention(List<Item> o, string p, int ch, int context)
    {
        o.Add(new($"{p}.to_q.weight", [ch, ch]));
        o.Add(new($"{p}.to_k.weight", [ch, context]));
        o.Add(new($"{p}.to_v.weight", [ch, context]));
        Linear(o, $"{p}.to_out.0", ch, ch);
    }

    static void Conv(List<Item> o, string p, int cout, int cin, int k)
    {
        o.Add(new($"{p}.weight", [cout, cin, k, k]));
        o.Add(new($"{p}.bias", [cout]));
    }

    static void Linear(List<Item> o, string p, int outFeatures, int inFeatures)
    {
        o.Add(new($"{p}.weight", [outFeatures, inFeatures]));
        o.Add(new($"{p}.bias", [outFeatures]));
    }

    static void Norm(List<Item> o, string p, int ch)
    {
        o.Add(new($"{p}.weight", [ch]));
        o.Add(new($"{p}.bias", [ch]));
    }
}
