using System.CommandLine;
using System.Globalization;
using System.Text;
using Deja.Diffusion.Text;
using Deja.Memorization.Detection;
using Deja.Memorization.Explanation;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Cli;

/// <summary>
/// `deja explain`: which tokens trigger the copy — Wen et al.'s token-wise significance (METHODS.md §1.2)
/// per prompt, as a readable table, JSON rows (--json) or an SVG bar chart (--svg).
/// </summary>
public static class ExplainCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Pipeline folder (diffusers layout), or analytic[:SEED]", Required = true };
        var prompts = new Option<string?>("--prompts") { Description = "Prompt file: one prompt per line, or JSONL with a prompt/caption field" };
        var prompt = new Option<string?>("--prompt") { Description = "One prompt (instead of --prompts)" };
        var n = new Option<int>("--n") { Description = "Noise draws (generations) per prompt; ℓ is the norm over all n at once", DefaultValueFactory = _ => 1 };
        var seed = new Option<long>("--seed") { Description = "Seed of the initial noise", DefaultValueFactory = _ => 51 };
        var policy = new Option<string>("--seed-policy") { Description = "same: one seed for every prompt; index: seed = prompt index + --seed", DefaultValueFactory = _ => "same" };
        var latents = new Option<string?>("--latents") { Description = "safetensors file with x_T: [n,C,H,W] for all prompts, or [prompts,n,C,H,W]" };
        var latentsPerPrompt = new Option<bool>("--latents-per-prompt") { Description = "Read a 4-D --latents tensor as [prompts,C,H,W]" };
        var batch = new Option<int>("--batch") { Description = "Prompts per model call", DefaultValueFactory = _ => 4 };
        var start = new Option<int>("--steps-start") { Description = "First trajectory step averaged (0 = pure noise at t = timesteps[0])", DefaultValueFactory = _ => 0 };
        var end = new Option<int>("--steps-end") { Description = "End (exclusive) of the averaged steps; 50 = every step, as Wen's notebook", DefaultValueFactory = _ => 1 };
        var guidance = new Option<double>("--guidance") { Description = "Guidance scale of the trajectory", DefaultValueFactory = _ => 7.5 };
        var swapped = new Option<bool>("--swapped-guidance") { Description = "Follow the reference code's trajectory ε_c + w(ε_u − ε_c) (its bug) instead of the correct CFG" };
        var family = new Option<string?>("--family") { Description = "Model family: sd1, sd2 or rv (default: from the prediction type)" };
        var limit = new Option<int?>("--limit") { Description = "Explain only the first N prompts" };
        var top = new Option<int>("--top") { Description = "Trigger tokens listed per prompt", DefaultValueFactory = _ => 3 };
        var json = new Option<bool>("--json") { Description = "One JSON object per prompt on stdout: {index, prompt, truncated, tokens: [{position, token, significance}]}" };
        var svg = new Option<string?>("--svg") { Description = "Write a bar chart of every prompt's significances to this SVG file" };
        var cmd = new Command("explain", "Which tokens of a prompt drive the text-conditional noise prediction (Wen et al. token significance)\n\n" +
            "Example: deja explain --model data/models/deja-mini --prompt \"a large red circle at the top on a dotted purple background\"")
        {
            model, prompts, prompt, n, seed, policy, latents, latentsPerPrompt, batch, start, end, guidance, swapped, family, limit, top, json, svg,
        };
        cmd.SetAction(pr => Run(pr.GetValue(model)!, pr.GetValue(prompts), pr.GetValue(prompt), pr.GetValue(n), pr.GetValue(seed),
            DetectorOptions.ParsePolicy(pr.GetValue(policy)!), pr.GetValue(latents), pr.GetValue(latentsPerPrompt), pr.GetValue(batch),
            new TokenSignificance { Start = pr.GetValue(start), End = pr.GetValue(end), Guidance = pr.GetValue(guidance), SwappedGuidance = pr.GetValue(swapped) },
            pr.GetValue(family), pr.GetValue(limit), pr.GetValue(top), pr.GetValue(json), pr.GetValue(svg)));
        return cmd;
    }

    static int Run(string modelSpec, string? promptsPath, string? single, int n, long seed, SeedPolicy policy, string? latentsPath,
        bool latentsPerPrompt, int batchSize, TokenSignificance method, string? family, int? limit, int top, bool json, string? svgPath)
    {
        if ((promptsPath is null) == (single is null)) throw new DejaException("explain: give exactly one of --prompt TEXT and --prompts FILE");
        if (n < 1) throw new DejaException($"explain: --n must be at least 1, got {n}");
        if (limit is < 1) throw new DejaException($"explain: --limit must be at least 1, got {limit}");
        if (top < 0) throw new DejaException($"explain: --top must be at least 0, got {top}");
        if (latentsPath is not null && n != 1) throw new DejaException("explain: --n is taken from the --latents file; do not give both");
        if (string.IsNullOrWhiteSpace(single) && single is not null) throw new DejaException("explain: --prompt is empty");
        method.Validate();
        if (svgPath is not null) OutputPath.CheckFile(svgPath, "--svg", OutputUse.Write);

        var view = DetectCommand.OpenModel(modelSpec, family, null);
        var all = single is not null ? [single] : PromptFile.Read(promptsPath!).Prompts.Select(p => p.Text).ToList();
        var list = limit is { } l && l < all.Count ? all.Take(l).ToList() : all;
        var noise = latentsPath is not null
            ? InitialNoise.FromFile(latentsPath, view.LatentShape, list.Count, latentsPerPrompt)
            : InitialNoise.Seeded(view.LatentShape, n, seed, policy);
        var run = new ExplainRun { Model = view, Method = method, Noise = noise, BatchSize = batchSize };
        Console.Error.WriteLine($"deja explain: {view.Name} (id {view.Id}), {list.Count} prompt(s), n = {noise.Generations}, " +
            $"steps [{method.Start}, {method.End}) of {method.Steps}{(method.SwappedGuidance ? ", swapped guidance (reference code)" : "")}");

        var rows = new List<ExplanationRow>();
        var progress = list.Count > 1 ? new Progress("explain", list.Count) : null;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        foreach (var batch in run.Run(list))
        {
            foreach (var row in batch)
            {
                rows.Add(row);
                if (json) Console.WriteLine(row.ToJson().ToJsonString());
                else Console.Write(Table(row, top));
            }
            progress?.Report(rows.Count, "", clock.Elapsed);
        }
        if (svgPath is not null)
        {
            File.WriteAllText(svgPath, SignificanceSvg.Render(rows));
            Console.Error.WriteLine($"deja explain: bar chart written to {svgPath}");
        }
        return ExitCodes.Ok;
    }

    /// <summary>The prompt, one line per token with a bar scaled to the prompt's largest significance, and its top tokens.</summary>
    internal static string Table(ExplanationRow row, int top)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"[{row.Index}] {row.Prompt}{(row.Truncated ? "  (truncated to 77 tokens)" : "")}");
        double max = row.Tokens.Count == 0 ? 0 : row.Tokens.Max(t => t.Significance);
        int width = Math.Max(5, row.Tokens.Select(t => t.Token.Length).DefaultIfEmpty(5).Max());
        foreach (var t in row.Tokens)
        {
            int bar = max > 0 ? (int)Math.Round(30 * t.Significance / max) : 0;
            sb.AppendLine($"  {t.Position,3} {t.Token.PadRight(width)} {new string('█', bar),-30} {t.Significance.ToString("0.0000", CultureInfo.InvariantCulture)}");
        }
        if (top > 0 && row.Tokens.Count > 0)
            sb.AppendLine("  top: " + string.Join(", ", row.Top(top).Select(t => $"{t.Token} ({t.Significance.ToString("0.000", CultureInfo.InvariantCulture)})")));
        sb.AppendLine();
        return sb.ToString();
    }
}
