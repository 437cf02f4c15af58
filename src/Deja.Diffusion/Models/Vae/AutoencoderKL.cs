using Deja.Diffusion.IO;
using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.Vae;

/// <summary>
/// diffusers' AutoencoderKL (the Stable Diffusion VAE): images [B,3,H,W] in [−1,1] ↔ latents
/// [B,latent_channels,H/f,W/f] with f = 2^(blocks−1). Module names are the checkpoint keys
/// (encoder.*, decoder.*, quant_conv, post_quant_conv). Works with autograd (gradients with respect
/// to latents or images) and, under <see cref="GradMode.NoGrad"/>, frees every intermediate as soon as
/// it is consumed, so a 512×512 decode stays within a few GB.
/// </summary>
public sealed class AutoencoderKL : Module
{
    /// <summary>GroupNorm eps of every VAE norm (resnets, mid attention, conv_norm_out).</summary>
    public const double NormEps = 1e-6;

    public AutoencoderKLConfig Config { get; }
    public VaeEncoder Encoder { get; }
    public VaeDecoder Decoder { get; }
    public Conv2d QuantConv { get; }
    public Conv2d PostQuantConv { get; }

    /// <summary>Latents are multiplied by this after encoding and divided by it before decoding.</summary>
    public float ScalingFactor => (float)Config.ScalingFactor;

    /// <summary>A VAE with PyTorch-default random weights (<paramref name="init"/> seeds them; load a checkpoint to use it).</summary>
    public AutoencoderKL(AutoencoderKLConfig config, Generator? init = null)
    {
        config.Validate();
        Config = config;
        var g = init ?? new Generator(0);
        Encoder = Register("encoder", new VaeEncoder(config, g));
        Decoder = Register("decoder", new VaeDecoder(config, g));
        int latent = config.LatentChannels;
        QuantConv = Register("quant_conv", new Conv2d(2 * latent, 2 * latent, 1, init: g));
        PostQuantConv = Register("post_quant_conv", new Conv2d(latent, latent, 1, init: g));
        Eval();
    }

    /// <summary>
    /// Builds the VAE of <paramref name="config"/> and loads <paramref name="weightsPath"/> (safetensors) strictly,
    /// recording the file's content hash in <paramref name="hashes"/> when given.
    /// </summary>
    public static AutoencoderKL Load(AutoencoderKLConfig config, string weightsPath, WeightsHashes? hashes = null)
    {
        using var file = SafeTensorsFile.Open(weightsPath);
        ModelSize.CheckFits(CheckpointLayout.VaeItems(config), file, config.Source);
        AutoencoderKL vae;
        using (Init.Skip()) vae = new AutoencoderKL(config); // every parameter is loaded below
        VaeCheckpoint.Load(vae, file);
        hashes?.Record(file);
        return vae;
    }

    /// <summary>The vae/ component of a pipeline folder.</summary>
    public static AutoencoderKL Load(PipelineFolder folder, WeightsHashes? hashes = null) =>
        folder.VaeConfig is { } config && folder.VaeWeights is { } weights ? Load(config, weights, hashes)
        : throw new DejaException($"'{folder.Directory}' is a pixel-space pipeline: it has no VAE");

    // ------------------------------------------------------------------ encode

    /// <summary>
    /// The posterior q(z|image) of <paramref name="image"/> [B,in_channels,H,W] in [−1,1]:
    /// quant_conv(encoder(image)) split into mean and clamped log-variance (unscaled latents).
    /// </summary>
    public DiagonalGaussian Encode(Tensor image, ActivationObserver? observer = null)
    {
        CheckInput("Encode", image, Config.InChannels, "image", "in_channels");
        var observe = new Observe(observer, "");
        using var scope = TensorScope.Enter();
        var h = Encoder.Forward(image, observe.Child("encoder"));
        var moments = observe.Child("quant_conv").Report(QuantConv.Forward(h));
        h.Dispose();
        return new DiagonalGaussian(moments);
    }

    /// <summary>
    /// Latents as the denoiser uses them: a posterior sample (the mean when <paramref name="generator"/>
    /// is null) times <see cref="ScalingFactor"/>.
    /// </summary>
    public Tensor EncodeScaled(Tensor image, Generator? generator = null)
    {
        using var posterior = Encode(image);
        using var z = generator is null ? posterior.Mode() : posterior.Sample(generator);
        return z * ScalingFactor;
    }

    /// <summary>(mean + std·<paramref name="noise"/>) · <see cref="ScalingFactor"/>.</summary>
    public Tensor EncodeScaled(Tensor image, Tensor noise)
    {
        using var posterior = Encode(image);
        using var z = posterior.Sample(noise);
        return z * ScalingFactor;
    }

    // ------------------------------------------------------------------ decode

    /// <summary>decoder(post_quant_conv(<paramref name="z"/>)) for unscaled latents z [B,latent_channels,h,w]: an image, nominally in [−1,1].</summary>
    public Tensor Decode(Tensor z, ActivationObserver? observer = null)
    {
        CheckInput("Decode", z, Config.LatentChannels, "latents", "latent_channels");
        var observe = new Observe(observer, "");
        using var scope = TensorScope.Enter();
        var h = observe.Child("post_quant_conv").Report(PostQuantConv.Forward(z));
        var image = Decoder.Forward(h, observe.Child("decoder"));
        h.Dispose();
        return scope.Keep(image);
    }

    /// <summary>Decodes latents as the denoiser produces them (scaled): Decode(latents / scaling_factor).</summary>
    public Tensor DecodeScaled(Tensor latents)
    {
        CheckInput("DecodeScaled", latents, Config.LatentChannels, "latents", "latent_channels");
        using var z = latents * (1f / ScalingFactor);
        return Decode(z);
    }

    /// <summary>Scaled latents → image in [0,1]: <see cref="ToUnitRange"/>(<see cref="DecodeScaled"/>(latents)).</summary>
    public Tensor DecodeScaledToUnitRange(Tensor latents)
    {
        using var image = DecodeScaled(latents);
        return ToUnitRange(image);
    }

    /// <summary>An image in [−1,1] to [0,1] as diffusers' image processor does: (x/2 + 0.5).clamp(0, 1).</summary>
    public static Tensor ToUnitRange(Tensor image)
    {
        using var half = image * 0.5f;
        using var shifted = half + 0.5f;
        return Ops.Clamp(shifted, 0f, 1f);
    }

    static void CheckInput(string method, Tensor x, int channels, string what, string key)
    {
        if (x.Rank != 4 || x.Shape[1] != channels || x.Shape[0] == 0 || x.Shape[2] == 0 || x.Shape[3] == 0)
            throw new ArgumentException($"AutoencoderKL.{method}: {what} must be non-empty [B,{channels},H,W] ({key} = {channels}), got {Shapes.Str(x.Shape)}");
    }
}
