using Deja.Diffusion.Images;
using Deja.Tensors;

namespace Deja.Diffusion.Pipelines;

/// <summary>What to generate: one image for one prompt.</summary>
public sealed record GenerationOptions
{
    public required string Prompt { get; init; }
    /// <summary>The unconditional branch of classifier-free guidance ("" in the papers Deja follows).</summary>
    public string NegativePrompt { get; init; } = "";
    public int Steps { get; init; } = 50;
    /// <summary>w in out_u + w·(out_c − out_u); applied as written for every w ≥ 0 (0: unconditional, 1: conditional only).</summary>
    public double Guidance { get; init; } = 7.5;
    /// <summary>DDIM η (0: deterministic; 1: DDPM-like noise drawn from the seed's generator after x_T).</summary>
    public double Eta { get; init; }
    /// <summary>Seeds x_T ~ N(0, I) (unless <see cref="InitialLatents"/> is given) and the η-noise.</summary>
    public long? Seed { get; init; }
    /// <summary>x_T [1, C, H/f, W/f] to start from instead of seeded noise (the caller keeps ownership).</summary>
    public Tensor? InitialLatents { get; init; }
    /// <summary>Image size in pixels; defaults: the latents' size, else the UNet's sample_size × the VAE factor.</summary>
    public int? Height { get; init; }
    public int? Width { get; init; }
    /// <summary>False: stop at the final latents (no VAE decode).</summary>
    public bool Decode { get; init; } = true;
}

/// <summary>
/// One finished denoising step, given to the step callback. The tensors are valid only during the
/// callback (the step's intermediates are freed right after it); copy what you keep.
/// </summary>
public sealed class GenerationStep
{
    /// <summary>0-based step index; <see cref="Completed"/> = Index + 1 of <see cref="Total"/>.</summary>
    public required int Index { get; init; }
    public required int Total { get; init; }
    public int Completed => Index + 1;
    public required int Timestep { get; init; }
    /// <summary>The UNet's output [1, C, h, w] (ε or v) for the unconditional (negative) prompt.</summary>
    public required Tensor UNetUncond { get; init; }
    /// <summary>The UNet's output [1, C, h, w] for the prompt.</summary>
    public required Tensor UNetCond { get; init; }
    /// <summary>out_u + w·(out_c − out_u), what the DDIM step used.</summary>
    public required Tensor Guided { get; init; }
    /// <summary>x after this step [1, C, h, w].</summary>
    public required Tensor Latents { get; init; }
    /// <summary>‖out_c − out_u‖₂ over all elements (Wen et al.'s text-conditional noise magnitude).</summary>
    public required double TextNoiseNorm { get; init; }
    /// <summary>Time since the first step began.</summary>
    public required TimeSpan Elapsed { get; init; }
}

/// <summary>A finished generation. Owns its tensors: dispose it to free them.</summary>
public sealed class GenerationResult : IDisposable
{
    /// <summary>x_T [1, C, h, w] the run started from.</summary>
    public required Tensor InitialLatents { get; init; }
    /// <summary>x_0 [1, C, h, w] (scaled latents, as the denoiser produces them).</summary>
    public required Tensor FinalLatents { get; init; }
    /// <summary>vae.decode(final / scaling_factor) [1, 3, H, W], nominally in [−1, 1]; null without decoding.</summary>
    public Tensor? Decoded { get; init; }
    /// <summary>(Decoded/2 + 0.5).clamp(0, 1); null without decoding.</summary>
    public Tensor? Image01 { get; init; }
    public required int[] Timesteps { get; init; }
    public required double[] TextNoiseNorms { get; init; }
    /// <summary>The prompt had more tokens than the text encoder reads; the rest was dropped.</summary>
    public required bool PromptTruncated { get; init; }
    public required TimeSpan DenoiseTime { get; init; }
    public TimeSpan DecodeTime { get; init; }

    /// <summary>The 8-bit RGB image (rounded as diffusers' numpy_to_pil does).</summary>
    public Image ToImage() => Image.FromTensor01(Image01 ?? throw new InvalidOperationException("generation: the result was not decoded (Decode = false)"));

    public void Dispose()
    {
        InitialLatents.Dispose();
        FinalLatents.Dispose();
        Decoded?.Dispose();
        Image01?.Dispose();
    }
}
