using System.Net.Http;
using System.Text;
using System.Text.Json.Nodes;
using Deja.Cli.Tests.Support;

namespace Deja.Cli.Tests;

/// <summary>`deja serve` as a process: it listens, answers, and stops on SIGTERM with 143 as every deja command.</summary>
public class ServeCommandTests
{
    /// <summary>Reads `deja serve`'s stderr until it is ready (60 s at most): the address it listens on, and what it printed.</summary>
    static async Task<(string Address, string Lines)> WaitUntilReady(System.Diagnostics.Process process)
    {
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
        return (address!, lines.ToString());
    }

    [Fact]
    public async Task ServeListensScreensAndStopsOnSigterm()
    {
        using var dir = new TempDir();
        using var process = Support.Deja.Start(dir.Path, "serve", "--model", Repo.TinyPipeline("tiny-sd1"), "--port", "0", "--threshold", "0.5");
        var (address, lines) = await WaitUntilReady(process);
        Assert.Contains("flagging anisotropy > 0.5", lines);
        using var client = new HttpClient { BaseAddress = new Uri(address) };
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

    [Fact]
    public async Task SlowClientsDoNotHoldUpOtherRequests()
    {
        using var dir = new TempDir();
        using var process = Support.Deja.Start(dir.Path, "serve", "--model", Repo.TinyPipeline("tiny-sd1"), "--port", "0");
        var uri = new Uri((await WaitUntilReady(process)).Address);
        // 16 slow clients on real sockets (Kestrel, not a test server): half stall inside their headers,
        // half announce a body and stall after a few bytes of it
        var slow = new List<System.Net.Sockets.TcpClient>();
        try
        {
            for (int i = 0; i < 16; i++)
            {
                var tcp = new System.Net.Sockets.TcpClient();
                await tcp.ConnectAsync(uri.Host, uri.Port);
                string partial = i % 2 == 0
                    ? "POST /v1/screen HTTP/1.1\r\nHost: x\r\nContent-Ty"
                    : "POST /v1/screen HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"prompts\": [\"a";
                await tcp.GetStream().WriteAsync(Encoding.ASCII.GetBytes(partial));
                slow.Add(tcp);
            }
            using var client = new HttpClient { BaseAddress = uri, Timeout = TimeSpan.FromSeconds(30) };
            for (int k = 0; k < 3; k++)
            {
                var response = await client.PostAsync("/v1/screen", new StringContent($"{{\"prompts\": [\"a red circle {k}\"]}}", Encoding.UTF8, "application/json"));
                Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
                Assert.Equal($"a red circle {k}", (string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["results"]![0]!["prompt"]!);
            }
            Assert.Equal("{\"status\":\"ok\"}", await client.GetStringAsync("/healthz"));
        }
        finally
        {
            foreach (var tcp in slow) tcp.Dispose();
        }
        // the service is still there after the slow clients went away
        using (var after = new HttpClient { BaseAddress = uri })
            Assert.Equal("{\"status\":\"ok\"}", await after.GetStringAsync("/healthz"));
        Support.Deja.Signal(process, Support.Deja.SIGTERM);
        Assert.True(process.WaitForExit(30_000), "deja serve did not stop on SIGTERM");
        Assert.Equal(143, process.ExitCode);
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
