using System.CommandLine;
using Deja.Cli;

var root = new RootCommand("deja — find out what a text-to-image diffusion model has memorized, and stop it");
root.Subcommands.Add(BenchCommand.Create());
try
{
    return await root.Parse(args).InvokeAsync();
}
catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or InvalidDataException)
{
    Console.Error.WriteLine($"deja: {e.Message}");
    return 1;
}
