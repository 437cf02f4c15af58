using Deja.Diffusion.Models.UNet;
using Deja.Diffusion.Pipelines;
using Deja.Diffusion.Schedulers;
using Deja.Tensors;

namespace Deja.Memorization.Models;

/// <summary>
/// A Stable Diffusion pipeline seen by the methods: conditions are the text encoder's last hidden
/// states [P, 77, D] (METHODS.md §0.5), the null condition is the encoding of "", and the model output
/// is the UNet's raw prediction.
/// </summary>
public sealed class StableDiffusionView : IDiffusionModelView
{
    public StableDiffusionPipeline Pipeline { get; }
    public ModelFamily Family { get; }
    public int[] LatentShape { get; }

    /// <param name="family">Which published hyperparameters apply; default: SD2 for v-prediction, else SD1.</param>
    /// <param name="imageSize">Image side in pixels (default: the UNet's sample_size × the VAE factor, else 512).</param>
    public StableDiffusionView(StableDiffusionPipeline pipeline, ModelFamily? family = null, int? imageSize = null)
    {
        Pipeline = pipeline ?? throw new ArgumentNullException(nameof(pipeline));
        Family = family ?? (pipeline.Scheduler.Prediction == PredictionType.VPrediction ? ModelFamily.SD2 : ModelFamily.SD1);
        int side = imageSize ?? pipeline.DefaultImageSize ?? 512;
        LatentShape = pipeline.LatentShape(side, side)[1..];
    }

    public string Name => Path.GetFileName(Path.TrimEndingDirectorySeparator(Pipeline.Info.Directory));
    public string Id => Pipeline.Info.Id;
    public Ddim Scheduler => Pipeline.Scheduler;

    public EncodedConditions Encode(IReadOnlyList<string> prompts)
    {
        var encoded = Pipeline.TextEncoder.EncodePrompts(prompts);
        return new EncodedConditions(encoded.Embeddings,
            encoded.Encodings.Select(e => e.UntruncatedLength).ToArray(),
            encoded.Encodings.Select(e => e.Truncated).ToArray());
    }

    public Tensor NullCondition() => Pipeline.TextEncoder.EncodeUnconditional();

    public Tensor Forward(Tensor latents, int t, Tensor conditions) => Pipeline.UNet.Forward(latents, t, conditions);

    /// <summary>
    /// <see cref="Forward(Tensor, int, Tensor)"/> with <paramref name="hook"/> receiving the UNet's
    /// activations by checkpoint path, cross-attention probabilities included (see <see cref="UNetActivationCallback"/>).
    /// </summary>
    public Tensor Forward(Tensor latents, int t, Tensor conditions, UNetActivationCallback? hook) => Pipeline.UNet.Forward(latents, t, conditions, hook);
}
