using System.CommandLine;
using Deja.Memorization.Fuzzing;

namespace Deja.Cli;

/// <summary>
/// `deja fuzz TARGET|all`: feeds mutated model files, configs, tokenizer files, images, prompt lists,
/// score files and latents to Deja's readers and checks each is accepted or refused with one clear line,
/// quickly and without outsized allocations. Seeded: the same --seed gives the same inputs.
/// </summary>
public static class FuzzCommand
{
    public static Command Create()
    {
        var target = new Argument<string>("target") { Description = $"What to fuzz: {string.Join(", ", FuzzTargets.Names)}, or all" };
        var count = new Option<long>("--count") { Description = "Inputs per target (the first few are the unmutated seeds)", DefaultValueFactory = _ => 1000 };
        var seed = new Option<long>("--seed") { Description = "Seed of the mutations", DefaultValueFactory = _ => 1 };
        var start = new Option<long>("--start") { Description = "Index of the first input (with --count 1: reproduce one input of a report)" };
        var timeLimit = new Option<double>("--time-limit") { Description = "Seconds one input may take", DefaultValueFactory = _ => 10 };
        var crashes = new Option<string?>("--crashes") { Description = "Folder to write failing inputs to (each with a .txt saying how to reproduce it)" };
        var cmd = new Command("fuzz", "Check that damaged input files are accepted or refused cleanly (seeded, reproducible)\n\nExample: deja fuzz scores --count 1000 --seed 12")
        {
            target, count, seed, start, timeLimit, crashes,
        };
        cmd.SetAction(pr =>
        {
            string name = pr.GetValue(target)!;
            if (pr.GetValue(count) < 1) throw new Deja.Tensors.DejaException($"--count must be at least 1, got {pr.GetValue(count)}");
            if (!(pr.GetValue(timeLimit) > 0)) throw new Deja.Tensors.DejaException($"--time-limit must be positive, got {pr.GetValue(timeLimit)}");
            var targets = name == "all" ? FuzzTargets.Create() : [FuzzTargets.Create(name)];
            var options = new FuzzOptions
            {
                Seed = pr.GetValue(seed), Count = pr.GetValue(count), Start = pr.GetValue(start),
                TimeLimit = TimeSpan.FromSeconds(pr.GetValue(timeLimit)), CrashDirectory = pr.GetValue(crashes),
            };
            var results = FuzzRunner.Run(targets, options with { Progress = null }, done =>
                Console.Error.WriteLine($"deja fuzz: {done.Target}: {done.Inputs} inputs in {done.Elapsed.TotalSeconds:F1} s, {done.Failures.Count} failure(s)"));
            Console.Write(FuzzRunner.Table(results));
            int failures = results.Sum(r => r.Failures.Count);
            if (failures > 0) Console.Error.WriteLine($"deja fuzz: {failures} input(s) failed; rerun one with --seed {options.Seed} --start INDEX --count 1");
            return failures > 0 ? 1 : 0;
        });
        return cmd;
    }
}
