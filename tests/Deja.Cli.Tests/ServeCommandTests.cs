using System.Net.Http;
using System.Text;
using System.Text.Json.Nodes;
using Deja.Cli.Tests.Support;

namespace Deja.Cli.Tests;

/// <summary>`deja serve` as a process: it listens, answers, and stops on SIGTERM with 143 as every deja command.</summary>
public class ServeCommandTests
{
    [Fact]
    public async Task ServeListensScreensAndStopsOnSigterm()
    {
        using var dir = new TempDir();
        using var process = Support.Deja.Start(dir.Path, "serve", "--model", Repo.TinyPipeline("tiny-sd1"), "--port", "0", "--threshold", "0.5");
        string? address = null;
        var lines = new StringBuilder();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            var line = await process.StandardError.ReadLineAsync();
            if (line is null) break;
            lines.AppendLine(line);
            if (line.Contains("listening on ")) address = line.Split("listening on ")[1].Split(' ')[0];
            if (line.Contains("deja serve: ready:")) break;
        }
        Assert.True(address is not null && lines.ToString().Contains("ready:"), lines.ToString());
        Assert.Contains("flagging anisotropy > 0.5", lines.ToString());
        using var client = new HttpClient { BaseAddress = new Uri(address!) };
        Assert.Equal("{\"status\":\"ok\"}", await client.GetStringAsync("/healthz"));
        var response = await client.PostAsync("/v1/screen", new StringContent("{\"prompts\": [\"a red circle\"]}", Encoding.UTF8, "application/json"));
        var row = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["results"]![0]!;
        Assert.Equal("a red circle", (string)row["prompt"]!);
        Assert.Equal((double)row["scores"]!["anisotropy"]! > 0.5, (bool)row["flagged"]!);
        // One JSON log line per request on stdout, without the prompt text.
        Support.Deja.Signal(process, Support.Deja.SIGTERM);
        Assert.True(process.WaitForExit(30_000), "deja serve did not stop on SIGTERM");
        Assert.Equal(143, process.ExitCode);
        var log = (await process.StandardOutput.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, log.Length);
        Assert.Equal("/v1/screen", (string)JsonNode.Parse(log[1])!["route"]!);
        Assert.Equal(1, (int)JsonNode.Parse(log[1])!["prompts"]!);
        Assert.DoesNotContain("a red circle", string.Join("\n", log));
    }

    [Theory]
    [InlineData(new[] { "--batch", "4" }, "--batch do not apply")]
    [InlineData(new[] { "--max-batch", "0" }, "--max-batch must be positive")]
    [InlineData(new[] { "--threshold", "1", "--calibration", "missing.json" }, "give one threshold")]
    [InlineData(new[] { "--api-key-file", "missing.key" }, "--api-key-file")]
    public void BadServeOptionsAreRefusedWithOneLine(string[] extra, string message)
    {
        using var dir = new TempDir();
        var r = Support.Deja.Run(dir.Path, ["serve", "--model", Repo.TinyPipeline("tiny-sd1"), "--port", "0", .. extra]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(message, r.Error);
    }
}
