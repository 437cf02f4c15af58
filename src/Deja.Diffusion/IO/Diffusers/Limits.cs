namespace Deja.Diffusion.IO;

/// <summary>
/// Plausibility bounds for config values, far above every Stable Diffusion model (SD UNets have 4 blocks
/// of 2 layers; CLIP text encoders 12–32 layers and 77 positions). A damaged or hostile config beyond
/// them is refused before its values size loops or allocations; parameter counts are checked separately
/// against the weights file (<see cref="ModelSize"/>).
/// </summary>
internal static class Limits
{
    public const int MaxBlocks = 16;
    public const int MaxLayers = 256;
    public const int MaxPositions = 1 << 16;
    /// <summary>Latent side (×8 for pixels with an SD VAE): 1024 → 8192-pixel images.</summary>
    public const int MaxSampleSize = 1024;
    /// <summary>SD trains on 1000 timesteps, improved DDPM on 4000; the schedule arrays grow with this.</summary>
    public const int MaxTrainTimesteps = 100_000;
}
