using System.Text.Json.Nodes;
using Deja.Cli.Tests.Support;

namespace Deja.Cli.Tests;

/// <summary>`deja explain` end to end on the tiny SD1 pipeline: the table, --json rows, the SVG chart (with
/// an untrusted prompt escaped), and bad input refused with one line.</summary>
public class ExplainCommandTests
{
    [Fact]
    public void JsonRowsCarryTheRealTokensWithTheirSignificance()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("prompts.txt"), ["a cat on a mat", "an astronaut riding a horse"]);
        var r = Support.Deja.Run(dir.Path, "explain", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompts", "prompts.txt", "--json", "--n", "2");
        Assert.True(r.ExitCode == 0, r.ToString());
        var rows = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject()).ToArray();
        Assert.Equal(2, rows.Length);
        Assert.Equal("a cat on a mat", (string)rows[0]["prompt"]!);
        var tokens = rows[0]["tokens"]!.AsArray();
        Assert.Equal([1, 2, 3, 4, 5], tokens.Select(t => (int)t!["position"]!));
        Assert.All(tokens, t => Assert.True((double)t!["significance"]! > 0));
        Assert.Equal(1, (int)rows[1]["index"]!);
    }

    [Fact]
    public void TheTableListsEveryTokenAndTheTopTriggersAndTheSvgEscapesThePrompt()
    {
        using var dir = new TempDir();
        const string prompt = "<script>alert(1)</script> a red apple";
        var r = Support.Deja.Run(dir.Path, "explain", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompt", prompt, "--top", "2", "--svg", "bars.svg");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("[0] " + prompt, r.Out);
        Assert.Contains("top: ", r.Out);
        var svg = File.ReadAllText(dir.File("bars.svg"));
        Assert.DoesNotContain("<script>", svg);
        Assert.Contains("&lt;script&gt;", svg);
        Assert.Contains("<rect", svg);
    }

    [Theory]
    [InlineData("--steps-end", "0", "step window")]
    [InlineData("--n", "0", "--n must be at least 1")]
    public void BadOptionsAreRefusedWithOneLine(string option, string value, string message)
    {
        using var dir = new TempDir();
        var r = Support.Deja.Run(dir.Path, "explain", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompt", "a cat", option, value);
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains(message, Assert.Single(r.ErrorLines));
    }

    [Fact]
    public void PromptAndPromptsTogetherOrNeitherAreRefused()
    {
        using var dir = new TempDir();
        var r = Support.Deja.Run(dir.Path, "explain", "--model", Repo.TinyPipeline("tiny-sd1"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("exactly one of --prompt TEXT and --prompts FILE", r.Error);
    }

    [Fact]
    public void TheAnalyticModelIsRefusedWithAReason()
    {
        using var dir = new TempDir();
        var r = Support.Deja.Run(dir.Path, "explain", "--model", "analytic", "--prompt", "memorized image 00");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("has no tokens: its conditions are mixture weights", r.Error);
    }
}
