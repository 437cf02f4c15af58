using Deja.Diffusion.IO;
using Deja.Tensors;

namespace Deja.Diffusion.Models.Vae;

/// <summary>
/// Loads AutoencoderKL weights by checkpoint key, strictly. Besides the current diffusers names it
/// accepts the legacy mid-block attention names of older SD1.x repositories
/// (<c>query/key/value/proj_attn</c> for <c>to_q/to_k/to_v/to_out.0</c>), whose weights some files store
/// as 1×1 convolutions [C,C,1,1] rather than linear [C,C].
/// </summary>
public static class VaeCheckpoint
{
    static readonly (string Current, string Legacy)[] AttentionRenames =
    [
        ("to_q", "query"), ("to_k", "key"), ("to_v", "value"), ("to_out.0", "proj_attn"),
    ];

    /// <summary>
    /// Fills <paramref name="vae"/>'s parameters from <paramref name="file"/>. A missing, unexpected or
    /// misshapen tensor is an <see cref="InvalidDataException"/> naming it (all problems at once), and
    /// nothing is written unless everything fits.
    /// </summary>
    public static void Load(AutoencoderKL vae, SafeTensorsFile file, bool strict = true)
    {
        var targets = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var views = new List<Tensor>();
        try
        {
            using (GradMode.NoGrad())
                foreach (var (key, tensor) in vae.StateDict())
                {
                    if (file.Contains(key) || LegacyName(key) is not string legacy || !file.Contains(legacy))
                    {
                        targets[key] = tensor;
                        continue;
                    }
                    var stored = file.Entry(legacy).Shape;
                    if (tensor.Rank == 2 && stored.Length == 4 && stored[2] == 1 && stored[3] == 1)
                    {
                        // a view of the parameter: reading into it fills the parameter
                        var view = Ops.Reshape(tensor, tensor.Shape[0], tensor.Shape[1], 1, 1);
                        views.Add(view);
                        targets[legacy] = view;
                    }
                    else targets[legacy] = tensor;
                }
            file.ReadInto(targets, strict);
        }
        finally
        {
            foreach (var v in views) v.Dispose();
        }
    }

    /// <summary>The legacy name of a current mid-block attention key, or null when it has none.</summary>
    public static string? LegacyName(string key)
    {
        const string marker = ".mid_block.attentions.0.";
        int at = key.IndexOf(marker, StringComparison.Ordinal);
        if (at < 0) return null;
        string prefix = key[..(at + marker.Length)], rest = key[(at + marker.Length)..];
        foreach (var (current, legacy) in AttentionRenames)
            if (rest.StartsWith(current + ".", StringComparison.Ordinal))
                return prefix + legacy + rest[current.Length..];
        return null;
    }
}
