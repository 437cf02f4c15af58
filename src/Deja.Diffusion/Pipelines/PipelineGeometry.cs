using Deja.Diffusion.IO;
using Deja.Tensors;

namespace Deja.Diffusion.Pipelines;

/// <summary>
/// The sizes a pipeline's configs fix (latent channels, VAE factor, default image size, training
/// timesteps) and the checks of a run's settings against them. Built from the configs alone, so a
/// command can refuse bad settings before it reads gigabytes of weights.
/// </summary>
public sealed record PipelineGeometry(int LatentChannels, int VaeScaleFactor, int? DefaultImageSize, int TrainTimesteps)
{
    public static PipelineGeometry Of(PipelineFolder folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        return Of(folder.UNetConfig, folder.VaeConfig, folder.SchedulerConfig);
    }

    /// <param name="vae">null for a pixel-space pipeline (factor 1: the UNet's samples are the images).</param>
    public static PipelineGeometry Of(UNet2DConditionConfig unet, AutoencoderKLConfig? vae, DdimSchedulerConfig scheduler)
    {
        // diffusers: vae_scale_factor = 2 ** (len(vae.config.block_out_channels) - 1)
        int factor = vae is null ? 1 : 1 << (vae.BlockOutChannels.Length - 1);
        return new PipelineGeometry(unet.InChannels, factor, unet.SampleSize * factor, scheduler.TrainedBetas?.Length ?? scheduler.NumTrainTimesteps);
    }

    /// <summary>x_T's shape [1, C, H/f, W/f] for an image of <paramref name="height"/>×<paramref name="width"/> pixels.</summary>
    public int[] LatentShape(int height, int width)
    {
        int f = VaeScaleFactor;
        if (height <= 0 || width <= 0 || height % f != 0 || width % f != 0)
            throw new ArgumentException($"generate: image size {height}×{width} must be positive multiples of {f} (the VAE's downsampling factor)");
        return [1, LatentChannels, height / f, width / f];
    }

    /// <summary>Resolves height/width: given values, else the initial latents' size, else <see cref="DefaultImageSize"/>.</summary>
    public (int Height, int Width) ImageSize(int? height, int? width, Tensor? initialLatents = null)
    {
        int? FromLatents(int dim) => initialLatents is { Rank: 4 } l ? l.Shape[dim] * VaeScaleFactor : null;
        int? h = height ?? FromLatents(2) ?? DefaultImageSize, w = width ?? FromLatents(3) ?? DefaultImageSize;
        if (h is null || w is null)
            throw new ArgumentException("generate: the UNet config has no sample_size; give the image height and width");
        LatentShape(h.Value, w.Value);
        return (h.Value, w.Value);
    }

    /// <summary>Checks the settings of a run; the messages are meant for a command line.</summary>
    public void Validate(GenerationOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        if (o.Prompt is null || o.NegativePrompt is null) throw new ArgumentException("generate: the prompt and the negative prompt must not be null");
        if (o.Steps < 1) throw new ArgumentException($"generate: --steps must be at least 1, got {o.Steps}");
        // The step count usually comes from the default, so name the model's limit and where it is set.
        if (o.Steps > TrainTimesteps)
            throw new DejaException($"generate: {o.Steps} DDIM steps (--steps, default 50) are more than the model's scheduler has training timesteps " +
                $"({TrainTimesteps}, num_train_timesteps in scheduler/scheduler_config.json); give --steps {TrainTimesteps} or fewer");
        if (!double.IsFinite(o.Guidance) || o.Guidance < 0)
            throw new ArgumentException($"generate: guidance must be a finite number ≥ 0, got {o.Guidance}");
        if (!double.IsFinite(o.Eta) || o.Eta < 0 || o.Eta > 1)
            throw new ArgumentException($"generate: eta must be between 0 and 1, got {o.Eta}");
        if (o.InitialLatents is null && o.Seed is null)
            throw new ArgumentException("generate: give a seed or initial latents");
        if (o.Eta > 0 && o.Seed is null)
            throw new ArgumentException("generate: eta > 0 draws noise at every step and needs a seed");
        var (h, w) = ImageSize(o.Height, o.Width, o.InitialLatents);
        if (o.InitialLatents is { } x)
        {
            var expected = LatentShape(h, w);
            if (!Shapes.Equal(x.Shape, expected))
                throw new ArgumentException($"generate: initial latents must have shape {Shapes.Str(expected)} for a {h}×{w} image, got {Shapes.Str(x.Shape)}");
            foreach (var v in x.ReadOnlySpan)
                if (!float.IsFinite(v)) throw new ArgumentException("generate: the initial latents contain NaN or infinite values");
        }
    }
}
