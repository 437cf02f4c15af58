using System.CommandLine;
using System.Globalization;
using Deja.Diffusion.Images;
using Deja.Diffusion.Pipelines;
using Deja.Memorization.Detection;
using Deja.Memorization.Mitigation;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Cli;

/// <summary>`deja generate`: one image for a prompt (classifier-free guidance, DDIM), as diffusers makes it.</summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Pipeline folder (diffusers layout: model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/)", Required = true };
        var prompt = new Option<string>("--prompt") { Description = "The prompt", Required = true };
        var negative = new Option<string>("--negative-prompt") { Description = "Prompt of the unconditional branch", DefaultValueFactory = _ => "" };
        var seed = new Option<long?>("--seed") { Description = "Seed of the initial noise x_T (and of the step noise when --eta > 0); give --seed or --latents" };
        var steps = new Option<int>("--steps") { Description = "DDIM steps", DefaultValueFactory = _ => 50 };
        var guidance = new Option<double>("--guidance") { Description = "Classifier-free guidance scale w: out_u + w·(out_c − out_u)", DefaultValueFactory = _ => 7.5 };
        var eta = new Option<double>("--eta") { Description = "DDIM η (0: deterministic)", DefaultValueFactory = _ => 0 };
        var height = new Option<int?>("--height") { Description = "Image height in pixels (default: the UNet's sample_size × 8, or the --latents size)" };
        var width = new Option<int?>("--width") { Description = "Image width in pixels (default as --height)" };
        var output = new Option<string>("--out") { Description = "PNG file to write (written atomically)", Required = true };
        var latents = new Option<string?>("--latents") { Description = "safetensors file with the initial noise x_T [1,4,h,w] (tensor 'x_T', or the only tensor); give --latents or --seed" };
        var latentsKey = new Option<string?>("--latents-key") { Description = "Name of the x_T tensor in the --latents file" };
        var saveLatents = new Option<string?>("--save-latents") { Description = "safetensors file to write 'final_latents' and 'x_T' to" };
        var mitigate = new Option<string?>("--mitigate") { Description = "Mitigate memorization while generating: prompt, prompt-anisotropy, sail or random-tokens (deja mitigate's defaults); with --guard only when the prompt is flagged (default then: prompt)" };
        var guard = new Option<bool>("--guard") { Description = "Score the prompt first (anisotropy, 2 model calls) and mitigate only when its score is above --guard-threshold" };
        var guardThreshold = new Option<double?>("--guard-threshold") { Description = "The anisotropy score above which --guard flags a prompt" };
        var calibration = new Option<string?>("--calibration") { Description = "--guard's threshold from a deja calibrate file (anisotropy on this model, same detector settings and n)" };
        var n = new Option<int>("--n") { Description = "Images with --mitigate/--guard (one x_T each, drawn from --seed); more than one are written as OUT-0.png, OUT-1.png, …", DefaultValueFactory = _ => 1 };
        var cmd = new Command("generate", "Generate an image from a prompt (classifier-free guidance, DDIM); the initial noise comes from --seed or --latents, one of them is required\n\n" +
            "Example: deja generate --model data/models/deja-mini --prompt \"a large red circle at the top on a plain blue background\" --seed 0 --out x.png --guard --calibration calibration.json")
        {
            model, prompt, negative, seed, steps, guidance, eta, height, width, output, latents, latentsKey, saveLatents, mitigate, guard, guardThreshold, calibration, n,
        };
        cmd.SetAction(pr =>
        {
            if (pr.GetValue(mitigate) is null && !pr.GetValue(guard))
            {
                if (pr.GetValue(guardThreshold) is not null || pr.GetValue(calibration) is not null || pr.GetResult(n) is { Implicit: false })
                    throw new ArgumentException("generate: --guard-threshold, --calibration and --n belong to --guard / --mitigate");
                return RunPlain(pr);
            }
            return RunGuarded(pr.GetValue(model)!, pr.GetValue(prompt)!, pr.GetValue(seed), pr.GetValue(steps), pr.GetValue(guidance), pr.GetValue(output)!,
                pr.GetValue(mitigate), pr.GetValue(guard), pr.GetValue(guardThreshold), pr.GetValue(calibration), pr.GetValue(n),
                unsupported: (pr.GetValue(negative) is { Length: > 0 } ? "--negative-prompt " : "") + (pr.GetValue(eta) != 0 ? "--eta " : "") +
                    (pr.GetValue(latents) is not null ? "--latents " : "") + (pr.GetValue(saveLatents) is not null ? "--save-latents " : "") +
                    (pr.GetValue(height) is not null || pr.GetValue(width) is not null ? "--height/--width " : ""));
        });
        return cmd;

        int RunPlain(ParseResult pr) => Run(new GenerateRequest
        {
            ModelDirectory = pr.GetValue(model)!,
            Prompt = pr.GetValue(prompt)!,
            NegativePrompt = pr.GetValue(negative) ?? "",
            Seed = pr.GetValue(seed),
            Steps = pr.GetValue(steps),
            Guidance = pr.GetValue(guidance),
            Eta = pr.GetValue(eta),
            Height = pr.GetValue(height),
            Width = pr.GetValue(width),
            ImagePath = pr.GetValue(output),
            LatentsPath = pr.GetValue(latents),
            LatentsKey = pr.GetValue(latentsKey),
            SaveLatentsPath = pr.GetValue(saveLatents),
        });
    }

    /// <summary>--mitigate / --guard: GuardedGeneration (the library entry point the service uses too).</summary>
    static int RunGuarded(string modelDir, string prompt, long? seed, int steps, double guidance, string outPath, string? method, bool guard,
        double? threshold, string? calibrationPath, int n, string unsupported)
    {
        if (unsupported.Length > 0) throw new ArgumentException($"generate: {unsupported.Trim()} cannot be combined with --mitigate/--guard");
        if (seed is null) throw new ArgumentException("generate: --mitigate/--guard need --seed");
        if (n < 1) throw new ArgumentException($"generate: --n must be at least 1, got {n}");
        if (guard && (threshold is null) == (calibrationPath is null))
            throw new ArgumentException("generate: --guard needs one threshold: --calibration FILE (from deja calibrate) or --guard-threshold T");
        if (!guard && (threshold is not null || calibrationPath is not null)) throw new ArgumentException("generate: --guard-threshold and --calibration need --guard");
        if (threshold is { } t && !double.IsFinite(t)) throw new ArgumentException($"generate: --guard-threshold must be finite, got {t}");
        if (string.IsNullOrWhiteSpace(prompt)) throw new ArgumentException("generate: --prompt is empty");
        OutputPath.CheckFile(outPath, "--out", OutputUse.Write);
        var methodValue = MitigationRun.ParseMethod(method ?? "prompt");
        var view = new StableDiffusionView(StableDiffusionPipeline.Load(modelDir));
        var detector = new AnisotropyDetector();
        if (calibrationPath is not null) threshold = GuardedGeneration.CalibratedThreshold(Calibration.Load(calibrationPath), view, detector, n);
        var run = GuardedGeneration.ForGeneration(view, methodValue, seed.Value, n, steps, guidance);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (decision, result) = new GuardedGeneration { Mitigation = run, Threshold = guard ? threshold : null, Detector = detector }.Generate(prompt);
        var paths = new List<string>();
        for (int j = 0; j < result.Images.Count; j++)
        {
            string path = n == 1 ? outPath : Path.Combine(Path.GetDirectoryName(outPath) ?? "", $"{Path.GetFileNameWithoutExtension(outPath)}-{j}{Path.GetExtension(outPath)}");
            Png.Write(path + ".tmp", GuardedGeneration.ToImage(result, j));
            File.Move(path + ".tmp", path, overwrite: true);
            paths.Add(path);
        }
        string what = decision switch
        {
            { Flagged: false } d => $"guard: {d.Method} {d.Score.ToString("0.###", CultureInfo.InvariantCulture)} ≤ {d.Threshold.ToString(CultureInfo.InvariantCulture)}: not flagged, generated without mitigation",
            { } d => $"guard: {d.Method} {d.Score.ToString("0.###", CultureInfo.InvariantCulture)} > {d.Threshold.ToString(CultureInfo.InvariantCulture)}: flagged, mitigated with {MitigationRun.MethodName(methodValue)}{Detail(result)}",
            null => $"mitigated with {MitigationRun.MethodName(methodValue)}{Detail(result)}",
        };
        if (result.Truncated) Console.Error.WriteLine("deja generate: warning: the prompt is longer than the text encoder reads (77 tokens); the rest was ignored");
        Console.WriteLine($"{string.Join(", ", paths)}: {result.ImageWidth}×{result.ImageHeight}, seed {seed}, {steps} steps, {what}, model {view.Id}, {clock.Elapsed.TotalSeconds:F1} s");
        return 0;
    }

    static string Detail(MitigationResult r) =>
        (r.Losses.Count > 0 ? $" (loss {r.Losses[0].ToString("0.###", CultureInfo.InvariantCulture)} → {r.Losses[^1].ToString("0.###", CultureInfo.InvariantCulture)}, {r.Updates} updates" +
            (r.StopCriterionMet is { } met ? met ? ", target met)" : ", target not met)" : ")") : "") +
        (r.ChangedPrompt is { } c ? $" (prompt \"{c}\")" : "");

    static int Run(GenerateRequest request)
    {
        Progress? progress = null;
        var report = GenerateRunner.Run(request,
            onStep: step =>
            {
                progress ??= new Progress("denoise", step.Total);
                progress.Report(step.Completed, $"t={step.Timestep,-4} ‖c−u‖={step.TextNoiseNorm.ToString("0.000", CultureInfo.InvariantCulture)}", step.Elapsed);
            },
            onStatus: message => Console.Error.WriteLine($"deja generate: {message}"));

        if (report.PromptTruncated)
            Console.Error.WriteLine("deja generate: warning: the prompt is longer than the text encoder reads (77 tokens); the rest was ignored (see `deja tokenize`)");
        var seedText = request.Seed is long s ? $"seed {s}" : $"x_T from {request.LatentsPath}";
        Console.WriteLine($"{report.ImagePath}: {report.Width}×{report.Height}, {seedText}, {request.Steps} steps, guidance {request.Guidance.ToString(CultureInfo.InvariantCulture)}, " +
                          $"model {report.Model.Id} ({Progress.Duration(report.LoadTime)} load, {Progress.Duration(report.DenoiseTime)} denoise, {Progress.Duration(report.DecodeTime)} decode)");
        if (report.SaveLatentsPath is not null) Console.WriteLine($"{report.SaveLatentsPath}: x_T and final_latents");
        return 0;
    }
}
