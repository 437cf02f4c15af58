using Deja.Diffusion.IO;
using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.UNet;

/// <summary>
/// diffusers' UNet2DConditionModel with the SD1.x/SD2.x block types (CrossAttnDownBlock2D,
/// DownBlock2D, UNetMidBlock2DCrossAttn, UpBlock2D, CrossAttnUpBlock2D). Parameter paths equal
/// the checkpoint keys (<see cref="CheckpointLayout.UNet"/>), so a diffusers
/// diffusion_pytorch_model.safetensors loads by key.
/// Forward: sample [B, in, H, W], timesteps (one, or one per sample), encoder_hidden_states
/// [B, L, cross_attention_dim] → [B, out, H, W] (the ε or v prediction). H and W need not be equal
/// or divisible by 2^levels (the upsamplers then follow the skip connections' sizes).
/// Under <see cref="GradMode.NoGrad"/> it frees every intermediate as soon as it is consumed and
/// takes fused in-place paths; with autograd on, it is differentiable with respect to the sample,
/// the encoder hidden states and the parameters.
/// </summary>
public sealed class UNet2DConditionModel : Module
{
    readonly Conv2d convIn, convOut;
    readonly TimestepEmbedding timeEmbedding;
    readonly ModuleList<UNetDownBlock> downBlocks;
    readonly UNetMidBlock midBlock;
    readonly ModuleList<UNetUpBlock> upBlocks;
    readonly GroupNorm convNormOut;

    /// <param name="init">Source of the random initial weights (PyTorch's default init scheme); weights are usually loaded afterwards.</param>
    public UNet2DConditionModel(UNet2DConditionConfig config, Generator? init = null)
    {
        CheckSupported(config);
        Config = config;
        var g = init ?? new Generator(0);
        int n = config.BlockOutChannels.Length, c0 = config.BlockOutChannels[0], temb = config.TimeEmbedDim;
        var heads = config.HeadsPerBlock;
        LevelSettings Level(int i) => new(config.NormNumGroups!.Value, config.NormEps, (float)config.Dropout, temb, heads[i],
            config.CrossAttentionDim[i], config.TransformerLayersPerBlock[i], config.UseLinearProjection);

        convIn = Register("conv_in", new Conv2d(config.InChannels, c0, config.ConvInKernel, 1, (config.ConvInKernel - 1) / 2, init: g));
        timeEmbedding = Register("time_embedding", new TimestepEmbedding(c0, temb, g));

        downBlocks = Register("down_blocks", new ModuleList<UNetDownBlock>());
        for (int i = 0; i < n; i++)
            downBlocks.Add(new UNetDownBlock($"down_blocks.{i}", i == 0 ? c0 : config.BlockOutChannels[i - 1], config.BlockOutChannels[i],
                config.LayersPerBlock[i], IsCrossAttention(config.DownBlockTypes[i]), downsample: i < n - 1, config.DownsamplePadding, Level(i), g));

        midBlock = Register("mid_block", new UNetMidBlock("mid_block", config.BlockOutChannels[^1], Level(n - 1), g));

        upBlocks = Register("up_blocks", new ModuleList<UNetUpBlock>());
        int previous = config.BlockOutChannels[^1];
        for (int i = 0; i < n; i++)
        {
            int r = n - 1 - i; // up block i mirrors down block r
            int output = config.BlockOutChannels[r], input = config.BlockOutChannels[Math.Max(r - 1, 0)];
            int layers = config.LayersPerBlock[r] + 1;
            // the last layer takes the skip from the level above (the downsampler's input side)
            var skipChannels = Enumerable.Range(0, layers).Select(j => j == layers - 1 ? input : output).ToArray();
            upBlocks.Add(new UNetUpBlock($"up_blocks.{i}", previous, output, skipChannels, IsCrossAttention(config.UpBlockTypes[i]),
                upsample: i < n - 1, Level(r), g));
            previous = output;
        }

        convNormOut = Register("conv_norm_out", new GroupNorm(config.NormNumGroups!.Value, c0, config.NormEps));
        convOut = Register("conv_out", new Conv2d(c0, config.OutChannels, config.ConvOutKernel, 1, (config.ConvOutKernel - 1) / 2, init: g));
    }

    public UNet2DConditionConfig Config { get; }

    /// <summary>When set, every forward adds its time per kind of operation to this profile.</summary>
    public UNetProfile? Profile { get; set; }

    static bool IsCrossAttention(string blockType) => blockType.StartsWith("CrossAttn", StringComparison.Ordinal);

    static void CheckSupported(UNet2DConditionConfig c)
    {
        var problems = c.Problems();
        if (problems.Count > 0)
            throw new DejaException("UNet2DConditionModel: unsupported config: " + string.Join("; ", problems));
    }

    /// <summary>One timestep for the whole batch.</summary>
    public Tensor Forward(Tensor sample, float timestep, Tensor encoderHiddenStates, UNetActivationCallback? hook = null)
        => Forward(sample, [timestep], encoderHiddenStates, hook);

    /// <summary>Timesteps as a tensor: a scalar, [1] (broadcast to the batch) or [B] (one per sample).</summary>
    public Tensor Forward(Tensor sample, Tensor timesteps, Tensor encoderHiddenStates, UNetActivationCallback? hook = null)
    {
        if (timesteps.Rank > 1)
            throw new ArgumentException($"UNet2DConditionModel: timesteps must be a scalar or [B], got {Shapes.Str(timesteps.Shape)}");
        return Forward(sample, timesteps.ReadOnlySpan, encoderHiddenStates, hook);
    }

    /// <summary>
    /// ε/v prediction [B, out, H, W] for <paramref name="sample"/> [B, in, H, W] at
    /// <paramref name="timesteps"/> (one value broadcast to the batch, or B values), conditioned on
    /// <paramref name="encoderHiddenStates"/> [B, L, cross_attention_dim]. <paramref name="hook"/>
    /// receives module outputs by checkpoint path as they are computed.
    /// </summary>
    public Tensor Forward(Tensor sample, ReadOnlySpan<float> timesteps, Tensor encoderHiddenStates, UNetActivationCallback? hook = null)
    {
        CheckInputs(sample, timesteps.Length, encoderHiddenStates);
        int b = sample.Shape[0];
        var perSample = new float[b];
        for (int i = 0; i < b; i++) perSample[i] = timesteps[timesteps.Length == 1 ? 0 : i];

        using var scope = TensorScope.Enter();
        var tproj = TimestepProjection.Compute(perSample, Config.BlockOutChannels[0], Config.FlipSinToCos, Config.FreqShift);
        hook?.Invoke("time_proj", tproj);
        Tensor emb, embAct;
        using (UNetProfile.Time(Profile, UNetOpKind.Linear)) emb = timeEmbedding.Forward(tproj);
        hook?.Invoke("time_embedding", emb);
        using (UNetProfile.Time(Profile, UNetOpKind.Elementwise)) embAct = Ops.Silu(emb);
        var pass = new UNetPass(embAct, encoderHiddenStates, hook, Profile);

        var x = sample;
        if (Config.CenterInputSample)
            using (pass.Time(UNetOpKind.Elementwise)) x = sample * 2f - 1f;
        Tensor h;
        using (pass.Time(UNetOpKind.Conv)) h = convIn.Forward(x);
        pass.Emit("conv_in", h);

        // diffusers passes the skips' sizes to the upsamplers when a side is not a multiple of 2^upsamplers
        int factor = 1 << (upBlocks.Count - 1);
        bool forwardUpsampleSize = sample.Shape[2] % factor != 0 || sample.Shape[3] % factor != 0;

        var skips = new List<Tensor> { h };
        foreach (var block in downBlocks) h = block.Forward(h, pass, skips);
        h = midBlock.Forward(h, pass);
        for (int i = 0; i < upBlocks.Count; i++)
        {
            var block = upBlocks[i];
            (int, int)? size = null;
            if (i < upBlocks.Count - 1 && forwardUpsampleSize)
            {
                var next = skips[^(block.SkipCount + 1)];
                size = (next.Shape[2], next.Shape[3]);
            }
            var up = block.Forward(h, pass, skips, size);
            h.Dispose();
            h = up;
        }

        Tensor act;
        if (hook is null)
            using (pass.Time(UNetOpKind.GroupNorm)) act = convNormOut.ForwardSilu(h);
        else
        {
            var normed = convNormOut.Forward(h);
            hook("conv_norm_out", normed);
            act = Ops.Silu(normed);
        }
        h.Dispose();
        Tensor output;
        using (pass.Time(UNetOpKind.Conv)) output = convOut.Forward(act);
        pass.Emit("conv_out", output);
        return scope.Keep(output);
    }

    void CheckInputs(Tensor sample, int timestepCount, Tensor context)
    {
        const string op = "UNet2DConditionModel";
        if (sample.Rank != 4 || sample.Shape[1] != Config.InChannels)
            throw new ArgumentException($"{op}: sample must be [B, {Config.InChannels}, H, W], got {Shapes.Str(sample.Shape)}");
        int b = sample.Shape[0];
        if (b < 1 || sample.Shape[2] < 1 || sample.Shape[3] < 1)
            throw new ArgumentException($"{op}: sample {Shapes.Str(sample.Shape)} is empty");
        if (timestepCount != 1 && timestepCount != b)
            throw new ArgumentException($"{op}: {timestepCount} timesteps for a batch of {b} (give one, or one per sample)");
        var crossDims = Config.CrossAttentionDim.Distinct().ToArray();
        if (context.Rank != 3 || context.Shape[0] != b || context.Shape[1] < 1 || !crossDims.Contains(context.Shape[2]))
            throw new ArgumentException($"{op}: encoder_hidden_states must be [{b}, L, {string.Join("|", crossDims)}] for sample {Shapes.Str(sample.Shape)}, got {Shapes.Str(context.Shape)}");
        if (crossDims.Length > 1)
            throw new ArgumentException($"{op}: blocks with different cross_attention_dim ({string.Join(", ", crossDims)}) cannot share one encoder_hidden_states");
    }
}
