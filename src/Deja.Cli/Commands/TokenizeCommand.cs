using System.CommandLine;
using System.Text.Json;
using Deja.Diffusion.Text;

namespace Deja.Cli;

/// <summary>`deja tokenize`: what the model's text encoder sees for each prompt.</summary>
public static class TokenizeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Pipeline folder (diffusers layout) or its tokenizer/ folder", Required = true };
        var prompt = new Option<string?>("--prompt") { Description = "One prompt" };
        var prompts = new Option<string?>("--prompts") { Description = "Prompts file: one per line, or JSONL with a \"prompt\" or \"caption\" field" };
        var json = new Option<bool>("--json") { Description = "One JSON object per prompt" };
        var cmd = new Command("tokenize", "Show the token ids and BPE tokens a model sees for prompts\n\nExample: deja tokenize --model data/models/deja-mini --prompt \"acme logo on a red circle\" --json") { model, prompt, prompts, json };
        cmd.SetAction(pr => Run(pr.GetValue(model)!, pr.GetValue(prompt), pr.GetValue(prompts), pr.GetValue(json)));
        return cmd;
    }

    /// <summary>The tokenizer of a pipeline folder, or the folder itself when it is a tokenizer folder.</summary>
    public static ClipTokenizer LoadTokenizer(string model)
    {
        var sub = Path.Combine(model, "tokenizer");
        return ClipTokenizer.Load(Directory.Exists(sub) ? sub : model);
    }

    static int Run(string model, string? prompt, string? promptsPath, bool json)
    {
        if ((prompt is null) == (promptsPath is null))
        {
            Console.Error.WriteLine("deja tokenize: give exactly one of --prompt TEXT or --prompts FILE");
            return 2;
        }
        var tokenizer = LoadTokenizer(model);
        IEnumerable<string> texts;
        if (promptsPath is not null)
        {
            var file = PromptFile.Read(promptsPath);
            if (file.BlankLines.Count > 0)
                Console.Error.WriteLine($"deja tokenize: skipped {file.BlankLines.Count} blank line(s) in {promptsPath}");
            texts = file.Prompts.Select(p => p.Text);
        }
        else texts = [prompt!];

        int n = 0, truncated = 0;
        foreach (var text in texts)
        {
            var enc = tokenizer.EncodePadded(text);
            n++;
            if (enc.Truncated) truncated++;
            if (json)
            {
                Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["prompt"] = text, ["ids"] = enc.Ids, ["tokens"] = enc.Tokens, ["truncated"] = enc.Truncated,
                    ["length"] = enc.Length, ["untruncated_length"] = enc.UntruncatedLength,
                }));
                continue;
            }
            Console.WriteLine($"prompt: {text}");
            Console.WriteLine($"  tokens ({enc.Length} of {tokenizer.ModelMaxLength}{(enc.Truncated ? $", TRUNCATED from {enc.UntruncatedLength}" : "")}): " +
                              string.Join(" ", enc.Tokens.Select(ClipTokenizer.ToReadable)));
            Console.WriteLine($"  ids: {string.Join(" ", enc.Ids)}");
        }
        if (!json) Console.Error.WriteLine($"{n} prompt(s), {truncated} truncated to {tokenizer.ModelMaxLength} tokens");
        return 0;
    }
}
