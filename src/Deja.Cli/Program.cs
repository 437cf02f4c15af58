using System.CommandLine;
using Deja.Cli;

var root = new RootCommand("deja — find out what a text-to-image diffusion model has memorized, and stop it");
root.Subcommands.Add(TokenizeCommand.Create());
root.Subcommands.Add(GenerateCommand.Create());
root.Subcommands.Add(DetectCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(EvalCommand.Create());
root.Subcommands.Add(SynthCommand.Create());
root.Subcommands.Add(TrainCommand.Create());
root.Subcommands.Add(ReplicateCommand.Create());
root.Subcommands.Add(FuzzCommand.Create());
try
{
    // Our own handler below prints one clear line; no stack traces for bad input.
    return await root.Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or InvalidDataException)
{
    Console.Error.WriteLine($"deja: {e.Message}");
    return 1;
}
