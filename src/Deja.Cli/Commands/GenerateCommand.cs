using System.CommandLine;
using System.Globalization;
using Deja.Diffusion.Pipelines;

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
        var cmd = new Command("generate", "Generate an image from a prompt (classifier-free guidance, DDIM); the initial noise comes from --seed or --latents, one of them is required")
        {
            model, prompt, negative, seed, steps, guidance, eta, height, width, output, latents, latentsKey, saveLatents,
        };
        cmd.SetAction(pr => Run(new GenerateRequest
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
        }));
        return cmd;
    }

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
