using System.Diagnostics;
using System.Globalization;
using Deja.Diffusion.Images;
using Deja.Diffusion.IO;
using Deja.Tensors;

namespace Deja.Diffusion.Pipelines;

/// <summary>What `deja generate` was asked to do.</summary>
public sealed record GenerateRequest
{
    public required string ModelDirectory { get; init; }
    public required string Prompt { get; init; }
    public string NegativePrompt { get; init; } = "";
    public long? Seed { get; init; }
    public int Steps { get; init; } = 50;
    public double Guidance { get; init; } = 7.5;
    public double Eta { get; init; }
    public int? Height { get; init; }
    public int? Width { get; init; }
    /// <summary>PNG to write (null: no image, and no VAE decode).</summary>
    public string? ImagePath { get; init; }
    /// <summary>safetensors file holding x_T (see <see cref="LatentsFile.ReadInitial"/>).</summary>
    public string? LatentsPath { get; init; }
    public string? LatentsKey { get; init; }
    /// <summary>safetensors file to write x_T and the final latents to.</summary>
    public string? SaveLatentsPath { get; init; }
}

/// <summary>What a generate run did.</summary>
public sealed record GenerateReport
{
    public required ModelInfo Model { get; init; }
    public required int Height { get; init; }
    public required int Width { get; init; }
    public required int[] Timesteps { get; init; }
    public required double[] TextNoiseNorms { get; init; }
    /// <summary>The prompt had more tokens than the text encoder reads; the rest was dropped.</summary>
    public required bool PromptTruncated { get; init; }
    public required TimeSpan LoadTime { get; init; }
    public required TimeSpan DenoiseTime { get; init; }
    public required TimeSpan DecodeTime { get; init; }
    public string? ImagePath { get; init; }
    public string? SaveLatentsPath { get; init; }
}

/// <summary>
/// The work of `deja generate`, outside the command line so that tests run exactly what the CLI runs:
/// check the request, read x_T, load the pipeline, generate, write the PNG and the latents file.
/// </summary>
public static class GenerateRunner
{
    /// <summary>Checks what can be checked without loading the model (so bad input fails in milliseconds).</summary>
    public static void CheckRequest(GenerateRequest r)
    {
        ArgumentNullException.ThrowIfNull(r);
        if (!Directory.Exists(r.ModelDirectory))
            throw new DirectoryNotFoundException($"model folder '{r.ModelDirectory}' does not exist");
        if (r.Steps < 1) throw new ArgumentException($"--steps must be at least 1, got {r.Steps}");
        if (!double.IsFinite(r.Guidance) || r.Guidance < 0) throw new ArgumentException($"--guidance must be a finite number ≥ 0, got {r.Guidance}");
        if (!double.IsFinite(r.Eta) || r.Eta < 0 || r.Eta > 1) throw new ArgumentException($"--eta must be between 0 and 1, got {r.Eta}");
        if (r.Height is <= 0 || r.Width is <= 0) throw new ArgumentException($"--height and --width must be positive, got {r.Height}×{r.Width}");
        if (r.Seed is null && r.LatentsPath is null) throw new ArgumentException("give --seed, or --latents with the initial noise");
        if (r.Eta > 0 && r.Seed is null) throw new ArgumentException("--eta > 0 draws noise at every step and needs --seed");
        if (r.LatentsKey is not null && r.LatentsPath is null) throw new ArgumentException("--latents-key needs --latents");
        if (r.ImagePath is null && r.SaveLatentsPath is null) throw new ArgumentException("nothing to write: give --out and/or --save-latents");
        if (r.ImagePath is not null && !r.ImagePath.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"--out must name a .png file, got '{r.ImagePath}'");
        foreach (var output in new[] { r.ImagePath, r.SaveLatentsPath })
            if (output is not null && Directory.Exists(output)) throw new ArgumentException($"output '{output}' is a folder; give a file name");
    }

    /// <summary>
    /// Loads the model named by the request and runs it (<paramref name="onStatus"/> hears the phases).
    /// Everything that can be refused without the weights (settings, x_T's shape, unwritable outputs)
    /// is refused before they are read.
    /// </summary>
    public static GenerateReport Run(GenerateRequest request, Action<GenerationStep>? onStep = null, Action<string>? onStatus = null)
    {
        CheckRequest(request);
        using var initial = request.LatentsPath is null ? null : LatentsFile.ReadInitial(request.LatentsPath, request.LatentsKey);
        var folder = PipelineFolder.Open(request.ModelDirectory);
        PipelineGeometry.Of(folder).Validate(Options(request, initial));
        PipelineScheduler.Create(folder.SchedulerConfig);
        CheckWritable(request);
        onStatus?.Invoke($"loading {request.ModelDirectory}");
        var clock = Stopwatch.StartNew();
        var pipeline = StableDiffusionPipeline.Load(folder);
        return Run(pipeline, request, initial, clock.Elapsed, onStep, onStatus);
    }

    /// <summary>Runs the request on an already loaded pipeline (x_T from the request's latents file, if any).</summary>
    public static GenerateReport Run(StableDiffusionPipeline pipeline, GenerateRequest request, Action<GenerationStep>? onStep = null, Action<string>? onStatus = null)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        CheckRequest(request);
        using var initial = request.LatentsPath is null ? null : LatentsFile.ReadInitial(request.LatentsPath, request.LatentsKey);
        pipeline.Validate(Options(request, initial));
        CheckWritable(request);
        return Run(pipeline, request, initial, TimeSpan.Zero, onStep, onStatus);
    }

    static GenerationOptions Options(GenerateRequest r, Tensor? initial) => new()
    {
        Prompt = r.Prompt, NegativePrompt = r.NegativePrompt, Steps = r.Steps, Guidance = r.Guidance, Eta = r.Eta,
        Seed = r.Seed, InitialLatents = initial, Height = r.Height, Width = r.Width, Decode = r.ImagePath is not null,
    };

    /// <summary>Creates the outputs' folders and proves they take a file, so a long run cannot fail at its last write.</summary>
    static void CheckWritable(GenerateRequest r)
    {
        foreach (var output in new[] { r.ImagePath, r.SaveLatentsPath })
        {
            if (output is null) continue;
            // Both outputs are replaced by renaming a temporary file over them: renaming over
            // /dev/null or /dev/stdout would replace the device itself.
            if (FileKinds.Of(output) is not (FileKind.Missing or FileKind.Regular))
                throw new DejaException($"output '{output}' is not a regular file (a device, pipe or socket); give the path of a file");
            var full = Path.GetFullPath(output);
            var dir = Path.GetDirectoryName(full)!;
            try
            {
                Directory.CreateDirectory(dir);
                var probe = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.probe");
                using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new IOException($"cannot write '{output}': {e.Message}", e);
            }
        }
    }

    static GenerateReport Run(StableDiffusionPipeline pipeline, GenerateRequest r, Tensor? initial, TimeSpan loadTime,
        Action<GenerationStep>? onStep, Action<string>? onStatus)
    {
        var options = Options(r, initial);
        var (height, width) = pipeline.ImageSize(r.Height, r.Width, initial);

        using var scope = TensorScope.Enter();
        using var result = pipeline.Generate(options, step =>
        {
            onStep?.Invoke(step);
            if (step.Completed == step.Total && r.ImagePath is not null) onStatus?.Invoke("decoding");
        });

        if (r.SaveLatentsPath is not null)
            LatentsFile.Write(r.SaveLatentsPath, result.InitialLatents, result.FinalLatents, Metadata(pipeline, r, height, width));
        if (r.ImagePath is not null)
            Png.Write(r.ImagePath, result.ToImage());
        return new GenerateReport
        {
            Model = pipeline.Info, Height = height, Width = width,
            Timesteps = result.Timesteps, TextNoiseNorms = result.TextNoiseNorms, PromptTruncated = result.PromptTruncated,
            LoadTime = loadTime, DenoiseTime = result.DenoiseTime, DecodeTime = result.DecodeTime,
            ImagePath = r.ImagePath, SaveLatentsPath = r.SaveLatentsPath,
        };
    }

    /// <summary>The run's settings and the model's identity, stored with the saved latents.</summary>
    static Dictionary<string, string> Metadata(StableDiffusionPipeline pipeline, GenerateRequest r, int height, int width)
    {
        var m = new Dictionary<string, string>(pipeline.Info.ToMetadata())
        {
            ["deja_command"] = "generate",
            ["prompt"] = r.Prompt,
            ["negative_prompt"] = r.NegativePrompt,
            ["steps"] = r.Steps.ToString(CultureInfo.InvariantCulture),
            ["guidance"] = r.Guidance.ToString("R", CultureInfo.InvariantCulture),
            ["eta"] = r.Eta.ToString("R", CultureInfo.InvariantCulture),
            ["height"] = height.ToString(CultureInfo.InvariantCulture),
            ["width"] = width.ToString(CultureInfo.InvariantCulture),
        };
        if (r.Seed is long seed) m["seed"] = seed.ToString(CultureInfo.InvariantCulture);
        if (r.LatentsPath is not null) m["initial_latents"] = Path.GetFullPath(r.LatentsPath) + (r.LatentsKey is null ? "" : ":" + r.LatentsKey);
        return m;
    }
}
