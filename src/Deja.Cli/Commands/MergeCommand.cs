using System.CommandLine;
using Deja.Diffusion.Text;
using Deja.Memorization.Evaluation;
using Deja.Tensors;

namespace Deja.Cli;

/// <summary>
/// `deja merge`: the score files of a sharded `deja detect --shard` run joined into one file in prompt
/// order, equal byte for byte to the file the unsharded run writes.
/// </summary>
public static class MergeCommand
{
    public static Command Create()
    {
        var files = new Argument<string[]>("FILES") { Description = "The shards' score files (JSONL from deja detect --shard)", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--out") { Description = "The merged JSONL score file (written atomically, replaced if it exists)", Required = true };
        var prompts = new Option<string?>("--prompts") { Description = "The run's prompt file: checks every row against it and counts prompts after the last row as missing" };
        var allowMissing = new Option<bool>("--allow-missing") { Description = "Write the merged file even when prompts have no row (a shard that failed or is still running); they are listed either way" };
        var cmd = new Command("merge", "Join the score files of a sharded detect run (deja detect --shard i/n) into one, in prompt order\n\n" +
            "Example: deja merge --out scores.jsonl --prompts prompts.txt shard-*.jsonl")
        {
            files, output, prompts, allowMissing,
        };
        cmd.SetAction(pr => Run(pr.GetValue(files)!, pr.GetValue(output)!, pr.GetValue(prompts), pr.GetValue(allowMissing)));
        return cmd;
    }

    static int Run(string[] files, string outPath, string? promptPath, bool allowMissing)
    {
        OutputPath.CheckFile(outPath, "--out", OutputUse.Replace);
        var parts = new List<ScoreSource>();
        foreach (var file in files)
        {
            var part = ScoreSource.Read(file, out long cutOff);
            // A shard killed mid-write leaves a partial last line; its prompt shows up as missing below.
            if (cutOff > 0) Console.Error.WriteLine($"deja merge: warning: {file} ends in a cut-off line ({cutOff} bytes), ignored");
            parts.Add(part);
        }
        var promptList = promptPath is null ? null : PromptFile.Read(promptPath).Prompts.Select(p => p.Text).ToList();
        var result = ScoresMerge.Merge(parts, promptList, promptPath);

        if (result.Duplicated.Count > 0)
            Console.Error.WriteLine($"deja merge: {result.Duplicated.Count} prompt(s) had the same row more than once (kept once): {ScoresMerge.Ranges(result.Duplicated)}");
        if (result.Missing.Count > 0)
        {
            string which = $"{result.Missing.Count} prompt(s) have no row: {ScoresMerge.Ranges(result.Missing)}";
            if (!allowMissing)
                throw new DejaException($"merge: {which}; run the shards that cover them (the same deja detect command resumes a stopped shard), " +
                    "or pass --allow-missing to write the rows there are");
            Console.Error.WriteLine($"deja merge: warning: {which} (--allow-missing)");
        }
        if (result.Rows.Count == 0) throw new DejaException("merge: the files hold no score rows");
        if (promptList is null)
            Console.Error.WriteLine("deja merge: no --prompts given: prompts after the last row cannot be counted as missing");

        AtomicFile.WriteAllBytes(outPath, result.Serialize());
        var first = result.Rows[0];
        Console.WriteLine($"merged {result.Rows.Count} rows from {files.Length} file(s) into {outPath}: prompts {first.Index} … {result.Rows[^1].Index}, " +
            $"method {first.Method}, model {ScoreInputCheck.Model(first)}" + (result.Missing.Count > 0 ? $", {result.Missing.Count} missing" : ""));
        return ExitCodes.Ok;
    }
}
