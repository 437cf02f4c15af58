using System.Diagnostics;
using Deja.Diffusion.IO;
using Deja.Diffusion.Models.Clip;
using Deja.Diffusion.Models.UNet;
using Deja.Diffusion.Models.Vae;
using Deja.Diffusion.Schedulers;
using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Pipelines;

/// <summary>
/// Stable Diffusion 1.x/2.x text-to-image with classifier-free guidance and DDIM (METHODS.md §0.4),
/// step for step as diffusers' StableDiffusionPipeline with a DDIMScheduler: one UNet batch
/// [uncond; cond] on latents [x; x] per step, guided = out_u + w·(out_c − out_u) (on v for
/// v-models), a DDIM step without clipping, and finally vae.decode(x₀ / scaling_factor).
/// All weights are frozen; generation runs without autograd and frees each step's intermediates.
/// </summary>
public sealed class StableDiffusionPipeline
{
    public PipelineFolder Folder { get; }
    public ModelInfo Info { get; }
    public TextEncoder TextEncoder { get; }
    public UNet2DConditionModel UNet { get; }
    /// <summary>The VAE; null for a pixel-space pipeline, whose samples are images in [−1, 1].</summary>
    public AutoencoderKL? Vae { get; }
    public Ddim Scheduler { get; }

    StableDiffusionPipeline(PipelineFolder folder, ModelInfo info, TextEncoder textEncoder, UNet2DConditionModel unet, AutoencoderKL? vae, Ddim scheduler)
    {
        Folder = folder; Info = info; TextEncoder = textEncoder; UNet = unet; Vae = vae; Scheduler = scheduler;
        Geometry = PipelineGeometry.Of(folder);
    }

    /// <summary>Opens (validating) and loads the pipeline folder at <paramref name="directory"/>.</summary>
    public static StableDiffusionPipeline Load(string directory) => Load(PipelineFolder.Open(directory));

    /// <summary>
    /// Loads every component strictly (a missing, unexpected or mis-shaped tensor is an
    /// <see cref="InvalidDataException"/> naming it and the file); the scheduler config is checked first
    /// so that an unsupported setting fails before gigabytes are read.
    /// </summary>
    public static StableDiffusionPipeline Load(PipelineFolder folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var scheduler = PipelineScheduler.Create(folder.SchedulerConfig);
        var hashes = new WeightsHashes(); // filled while loading: the model id costs no second read
        var textEncoder = TextEncoder.Load(folder, hashes: hashes);
        var unet = LoadUNet(folder.UNetConfig, folder.UNetWeights, hashes);
        var vae = folder.IsPixelSpace ? null : AutoencoderKL.Load(folder, hashes);
        vae?.SetRequiresGrad(false);
        return new StableDiffusionPipeline(folder, ModelInfo.Of(folder, hashes), textEncoder, unet, vae, scheduler);
    }

    /// <summary>A <see cref="UNet2DConditionModel"/> of <paramref name="config"/> filled strictly from a safetensors file, frozen.</summary>
    public static UNet2DConditionModel LoadUNet(UNet2DConditionConfig config, string weightsPath, WeightsHashes? hashes = null)
    {
        UNet2DConditionModel unet;
        using (var file = SafeTensorsFile.Open(weightsPath))
        {
            ModelSize.CheckFits(CheckpointLayout.UNetItems(config), file, config.Source);
            using (Init.Skip()) unet = new UNet2DConditionModel(config); // every parameter is loaded below
            try { file.LoadModule(unet); }
            catch (DejaException e) { throw new DejaException($"{weightsPath}: {e.Message}", e); }
            hashes?.Record(file);
        }
        unet.SetRequiresGrad(false);
        unet.Eval();
        return unet;
    }

    // ------------------------------------------------------------------ sizes

    /// <summary>Latent channels, VAE factor, default image size and training timesteps, with the checks of a run's settings.</summary>
    public PipelineGeometry Geometry { get; }

    /// <summary>Pixels per latent along each side: 2^(VAE blocks − 1) (8 for Stable Diffusion).</summary>
    public int VaeScaleFactor => Geometry.VaeScaleFactor;
    public int LatentChannels => Geometry.LatentChannels;

    /// <summary>diffusers' default image size: the UNet's sample_size × <see cref="VaeScaleFactor"/> (null when the config has no sample_size).</summary>
    public int? DefaultImageSize => Geometry.DefaultImageSize;

    /// <inheritdoc cref="PipelineGeometry.LatentShape"/>
    public int[] LatentShape(int height, int width) => Geometry.LatentShape(height, width);

    /// <inheritdoc cref="PipelineGeometry.ImageSize"/>
    public (int Height, int Width) ImageSize(int? height, int? width, Tensor? initialLatents = null) => Geometry.ImageSize(height, width, initialLatents);

    /// <inheritdoc cref="PipelineGeometry.Validate"/>
    public void Validate(GenerationOptions options) => Geometry.Validate(options);

    // ------------------------------------------------------------------ generation

    /// <summary>[negative; prompt] embeddings [2, L, H] (the CFG batch order: unconditional first), with both tokenizations.</summary>
    public PromptEmbeddings EncodePrompts(string prompt, string negativePrompt = "")
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(negativePrompt);
        return TextEncoder.EncodePrompts([negativePrompt, prompt]);
    }

    /// <summary>
    /// Generates one image: x_T (from <see cref="GenerationOptions.InitialLatents"/> or N(0, I) drawn
    /// from Generator(seed)), the CFG/DDIM loop, then the VAE decode. <paramref name="onStep"/> sees
    /// every step (progress, UNet outputs, text-noise norm).
    /// </summary>
    public GenerationResult Generate(GenerationOptions options, Action<GenerationStep>? onStep = null)
    {
        Validate(options);
        var (height, width) = ImageSize(options.Height, options.Width, options.InitialLatents);
        using var noGrad = GradMode.NoGrad();
        var generator = options.Seed is long seed ? new Generator(seed) : null;
        var xT = options.InitialLatents is { } given
            ? Tensor.FromArray(given.ReadOnlySpan, given.Shape)
            : Tensor.RandN(generator!, LatentShape(height, width));

        var timesteps = new List<int>();
        var norms = new List<double>();
        Tensor? final = null, decoded = null, image = null;
        bool truncated;
        try
        {
            var clock = Stopwatch.StartNew();
            using (var embeddings = EncodePrompts(options.Prompt, options.NegativePrompt))
            {
                truncated = embeddings.Encodings[1].Truncated;
                final = Denoise(embeddings.Embeddings, xT, options.Steps, options.Guidance, options.Eta, generator, step =>
                {
                    timesteps.Add(step.Timestep);
                    norms.Add(step.TextNoiseNorm);
                    onStep?.Invoke(step);
                });
            }
            var denoiseTime = clock.Elapsed;
            clock.Restart();
            if (options.Decode)
            {
                decoded = Decode(final);
                image = AutoencoderKL.ToUnitRange(decoded);
            }
            return new GenerationResult
            {
                InitialLatents = xT,
                FinalLatents = final,
                Decoded = decoded,
                Image01 = image,
                Timesteps = [.. timesteps],
                TextNoiseNorms = [.. norms],
                PromptTruncated = truncated,
                DenoiseTime = denoiseTime,
                DecodeTime = clock.Elapsed,
            };
        }
        catch
        {
            xT.Dispose(); final?.Dispose(); decoded?.Dispose(); image?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// n generations of one prompt at once: the CFG/DDIM loop (η = 0) on latents [n, C, h, w] with one UNet
    /// call of 2n rows per step; the same arithmetic as <see cref="Denoise"/> row by row.
    /// </summary>
    public Tensor DenoiseBatch(Tensor promptEmbedsCfg, Tensor initialLatents, int steps, double guidance)
    {
        ArgumentNullException.ThrowIfNull(promptEmbedsCfg);
        ArgumentNullException.ThrowIfNull(initialLatents);
        if (promptEmbedsCfg.Rank != 3 || promptEmbedsCfg.Shape[0] != 2)
            throw new ArgumentException($"denoise: prompt embeddings must be [2, L, H] (unconditional, conditional), got {Shapes.Str(promptEmbedsCfg.Shape)}");
        if (initialLatents.Rank != 4 || initialLatents.Shape[1] != LatentChannels)
            throw new ArgumentException($"denoise: initial latents must be [n, {LatentChannels}, h, w], got {Shapes.Str(initialLatents.Shape)}");
        int n = initialLatents.Shape[0];
        using var noGrad = GradMode.NoGrad();
        var u = Ops.Narrow(promptEmbedsCfg, 0, 0, 1);
        var c = Ops.Narrow(promptEmbedsCfg, 0, 1, 1);
        var embeds = Ops.Concat([.. Enumerable.Repeat(u, n), .. Enumerable.Repeat(c, n)], 0);
        var x = Tensor.FromArray(initialLatents.ReadOnlySpan, initialLatents.Shape);
        foreach (int t in Scheduler.Timesteps(steps))
        {
            using var scope = TensorScope.Enter();
            var output = UNet.Forward(Ops.Concat([x, x], 0), t, embeds);
            var uncond = Ops.Narrow(output, 0, 0, n);
            var guided = uncond + (Ops.Narrow(output, 0, n, n) - uncond) * (float)guidance;
            var next = scope.Keep(Scheduler.Step(guided, t, x, steps).PrevSample);
            x.Dispose();
            x = next;
        }
        embeds.Dispose();
        return x;
    }

    /// <summary>
    /// Images in [−1, 1] from final samples: the VAE decode of z / scaling_factor, or for a pixel-space
    /// pipeline the samples themselves (a copy).
    /// </summary>
    public Tensor Decode(Tensor final) => Vae is { } vae ? vae.DecodeScaled(final) : Tensor.FromArray(final.ReadOnlySpan, final.Shape);

    /// <summary>
    /// The CFG/DDIM loop from <paramref name="initialLatents"/> [1, C, h, w] conditioned on
    /// <paramref name="promptEmbedsCfg"/> [2, L, H] = [uncond; cond]; returns the final latents (a new
    /// tensor; the inputs are not modified). <paramref name="noise"/> supplies the η-noise when η > 0.
    /// </summary>
    public Tensor Denoise(Tensor promptEmbedsCfg, Tensor initialLatents, int steps, double guidance, double eta = 0,
        Generator? noise = null, Action<GenerationStep>? onStep = null)
    {
        ArgumentNullException.ThrowIfNull(promptEmbedsCfg);
        ArgumentNullException.ThrowIfNull(initialLatents);
        if (promptEmbedsCfg.Rank != 3 || promptEmbedsCfg.Shape[0] != 2)
            throw new ArgumentException($"denoise: prompt embeddings must be [2, L, H] (unconditional, conditional), got {Shapes.Str(promptEmbedsCfg.Shape)}");
        if (initialLatents.Rank != 4 || initialLatents.Shape[0] != 1 || initialLatents.Shape[1] != LatentChannels)
            throw new ArgumentException($"denoise: initial latents must be [1, {LatentChannels}, h, w], got {Shapes.Str(initialLatents.Shape)}");
        if (eta > 0 && noise is null)
            throw new ArgumentException("denoise: eta > 0 needs a generator for the step noise");
        var timesteps = Scheduler.Timesteps(steps);
        float w = (float)guidance;

        using var noGrad = GradMode.NoGrad();
        var clock = Stopwatch.StartNew();
        var x = Tensor.FromArray(initialLatents.ReadOnlySpan, initialLatents.Shape);
        try
        {
            for (int i = 0; i < timesteps.Length; i++)
            {
                int t = timesteps[i];
                using var scope = TensorScope.Enter();
                var batch = Ops.Concat([x, x], 0);
                var output = UNet.Forward(batch, t, promptEmbedsCfg);
                batch.Dispose();
                var uncond = Ops.Narrow(output, 0, 0, 1);
                var cond = Ops.Narrow(output, 0, 1, 1);
                var textNoise = cond - uncond;
                var guided = uncond + textNoise * w;
                var (next, predictedX0) = Scheduler.Step(guided, t, x, steps, (float)eta, generator: noise);
                predictedX0.Dispose();
                onStep?.Invoke(new GenerationStep
                {
                    Index = i, Total = timesteps.Length, Timestep = t,
                    UNetUncond = uncond, UNetCond = cond, Guided = guided, Latents = next,
                    TextNoiseNorm = L2(textNoise), Elapsed = clock.Elapsed,
                });
                scope.Keep(next);
                x.Dispose();
                x = next;
            }
            return x;
        }
        catch
        {
            x.Dispose();
            throw;
        }
    }

    static double L2(Tensor t)
    {
        double sum = 0;
        foreach (var v in t.ReadOnlySpan) sum += (double)v * v;
        return Math.Sqrt(sum);
    }
}
