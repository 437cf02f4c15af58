using System.CommandLine;

namespace Deja.Cli.Tests;

/// <summary>Issue 15 §4: every command's --help, subcommands included, shows an example, and --version prints the Deja version.</summary>
public class HelpExampleTests
{
    static IEnumerable<Command> All(Command command) => command.Subcommands.SelectMany(All).Prepend(command);

    [Fact]
    public void EveryCommandDescribesAnExample()
    {
        var root = DejaCli.CreateRoot();
        var commands = All(root).Skip(1).ToList();
        Assert.True(commands.Count >= 25, $"only {commands.Count} commands found");
        var missing = commands.Where(c => !(c.Description ?? "").Contains("\nExample: deja ")).Select(c => c.Name).ToList();
        Assert.True(missing.Count == 0, "no example in --help of: " + string.Join(", ", missing));
        // Each example runs the command it documents (deja bench ops's example starts "deja bench ops").
        foreach (var c in commands)
        {
            var path = new List<string>();
            for (Command? x = c; x is not null && x != root; x = x.Parents.OfType<Command>().FirstOrDefault()) path.Insert(0, x.Name);
            Assert.Contains("Example: deja " + string.Join(" ", path), c.Description);
        }
    }

    [Fact]
    public void HelpPrintsTheExampleAndVersionPrintsTheDejaVersion()
    {
        using var dir = new Support.TempDir();
        var help = Support.Deja.Run(dir.Path, "merge", "--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("Example: deja merge --out scores.jsonl --prompts prompts.txt shard-*.jsonl", help.Out);
        var version = Support.Deja.Run(dir.Path, "--version");
        Assert.Equal(0, version.ExitCode);
        Assert.Equal(Deja.Tensors.DejaVersion.Text, version.Out.Trim());
        Assert.Matches(@"^\d+\.\d+\.\d+", version.Out);
    }
}
