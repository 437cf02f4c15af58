using System.Text.Json.Nodes;
using Deja.Diffusion.IO;
using Deja.Diffusion.Pipelines;
using Deja.Tensors;

namespace Deja.Memorization.Detection;

/// <summary>
/// How each prompt's seed is chosen (METHODS.md §1.1, §2.1, §3.1): the same seed re-used for every
/// prompt (Asthana, Jeon: results do not depend on prompt order, and all prompts are compared on the
/// same noise) or seed = prompt index + offset (Wen).
/// </summary>
public enum SeedPolicy { Same, Index }

/// <summary>
/// The pure-noise latents x_T [n, C, H, W] of each prompt: drawn from an explicitly seeded generator
/// by <see cref="SeedPolicy"/>, or read from a safetensors file (as the reference code's one seed for
/// all prompts, or to compare a run with another implementation).
/// </summary>
public sealed class InitialNoise
{
    readonly Tensor? shared;
    readonly Tensor? perPrompt;          // [P, n, C, H, W] from a file
    readonly long seed;
    readonly int[] shape;                // [n, C, H, W]
    readonly JsonObject description;

    public int Generations => shape[0];
    public SeedPolicy Policy { get; }

    InitialNoise(int[] shape, SeedPolicy policy, long seed, Tensor? shared, Tensor? perPrompt, JsonObject description)
    {
        this.shape = shape; Policy = policy; this.seed = seed; this.shared = shared; this.perPrompt = perPrompt; this.description = description;
    }

    /// <summary>n draws of N(0, I) of <paramref name="latentShape"/> per prompt, seeded by <paramref name="policy"/>.</summary>
    public static InitialNoise Seeded(int[] latentShape, int n, long seed, SeedPolicy policy)
    {
        if (n < 1) throw new ArgumentException($"the number of generations per prompt must be at least 1, got {n}");
        int[] shape = [n, .. latentShape];
        var sharedNoise = policy == SeedPolicy.Same ? Draw(seed, shape) : null;
        return new InitialNoise(shape, policy, seed, sharedNoise, null, new JsonObject
        {
            ["source"] = "seed", ["policy"] = policy == SeedPolicy.Same ? "same" : "index", ["seed"] = seed, ["n"] = n,
            ["generator"] = "xoshiro256**+box-muller",
        });
    }

    /// <summary>
    /// Latents from a safetensors file (tensor x_T, or the only tensor): [C, H, W] or [n, C, H, W] for all
    /// prompts, or [P, n, C, H, W] with one row per prompt of the prompt file (P must equal
    /// <paramref name="promptCount"/>). <paramref name="latentShape"/> is the model's [C, H, W].
    /// </summary>
    public static InitialNoise FromFile(string path, int[] latentShape, int promptCount, bool perPromptRows = false)
    {
        var (t, contentHash) = ReadRaw(path);
        int[] one;
        Tensor? sharedNoise = null, rows = null;
        if (t.Rank == 5 || (perPromptRows && t.Rank == 4))
        {
            if (t.Rank == 4) t = Ops.Reshape(t, t.Shape[0], 1, t.Shape[1], t.Shape[2], t.Shape[3]);
            if (t.Shape[0] != promptCount)
                throw new DejaException($"latents file '{path}' has rows for {t.Shape[0]} prompts, the prompt file has {promptCount}");
            one = t.Shape[1..];
            rows = t;
        }
        else if (t.Rank is 3 or 4)
        {
            sharedNoise = t.Rank == 3 ? Ops.Reshape(t, [1, .. t.Shape]) : t;
            one = sharedNoise.Shape;
        }
        else throw new DejaException($"latents file '{path}': expected [C, H, W], [n, C, H, W] or [prompts, n, C, H, W], got {Shapes.Str(t.Shape)}");
        if (one[0] < 1)
            throw new DejaException($"latents file '{path}' holds no latents (shape {Shapes.Str(t.Shape)})");
        if (!Shapes.Equal(one[1..], latentShape))
            throw new DejaException($"latents file '{path}' holds latents of shape {Shapes.Str(one[1..])}, the model expects {Shapes.Str(latentShape)}");
        var sum = 0.0;
        foreach (var v in t.ReadOnlySpan) { if (!float.IsFinite(v)) throw new DejaException($"latents file '{path}' contains a non-finite value"); sum += v; }
        return new InitialNoise(one, SeedPolicy.Same, 0, sharedNoise, rows, new JsonObject
        {
            ["source"] = "file", ["file"] = Path.GetFileName(path), ["per_prompt"] = rows is not null,
            ["n"] = one[0], ["fingerprint"] = ModelInfo.Fingerprint(contentHash),
        });
    }

    /// <summary>The x_T tensor and the file's content hash (for the results file's record of where the noise came from).</summary>
    static (Tensor Latents, ulong ContentHash) ReadRaw(string path)
    {
        if (!File.Exists(path)) throw new DejaException($"latents file '{path}' does not exist");
        using var file = SafeTensorsFile.Open(path);
        var names = file.Names.ToList();
        string name = file.Contains(LatentsFile.InitialName) ? LatentsFile.InitialName
            : names.Count == 1 ? names[0]
            : throw new DejaException($"latents file '{path}' has {names.Count} tensors and none is named '{LatentsFile.InitialName}'");
        if (!file.Entry(name).DType.IsReadableAsFloat())
            throw new DejaException($"latents file '{path}': tensor '{name}' is {file.Entry(name).DType}, not a float tensor");
        var latents = file.ReadTensor(name);
        return (latents, file.ContentHash());
    }

    static Tensor Draw(long seed, int[] shape) => Tensor.RandN(new Generator(seed), shape);

    /// <summary>The latents [n, C, H, W] of the prompt at <paramref name="index"/> in the prompt file; the same instance for all prompts when shared.</summary>
    public Tensor For(int index)
    {
        if (shared is not null) return shared;
        if (perPrompt is not null) return Ops.Reshape(Ops.Narrow(perPrompt, 0, index, 1), shape);
        return Draw(seed + index, shape);
    }

    /// <summary>Where the noise came from, for the results file.</summary>
    public JsonObject Describe() => (JsonObject)description.DeepClone();
}
