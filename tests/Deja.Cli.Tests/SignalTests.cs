using System.Diagnostics;
using Deja.Cli.Tests.Support;
using Deja.Memorization.Evaluation;

namespace Deja.Cli.Tests;

/// <summary>
/// Issue 12 §5 "signals": SIGTERM (what timeout, Kubernetes and Slurm send) is treated like SIGINT: train
/// saves a checkpoint and detect keeps its rows, each says how to resume, and the exit code says which
/// signal stopped the run (130 SIGINT, 143 SIGTERM). The built deja runs as a child process and gets a
/// real signal.
/// </summary>
public class SignalTests
{
    [Theory]
    [InlineData(Support.Deja.SIGTERM, 143, "SIGTERM")]
    [InlineData(Support.Deja.SIGINT, 130, "SIGINT")]
    public void TrainSavesACheckpointOnTheSignalAndTheSameCommandResumes(int signal, int exitCode, string name)
    {
        using var dir = new TempDir();
        var data = Datasets.Synth(dir.File("data"));
        string[] train(int steps) => ["train", "--data", data, "--out", "model", "--config", "toy", "--steps", steps.ToString(),
            "--batch", "2", "--warmup", "1", "--checkpoint-every", "1000000"];

        // Enough steps that the run is still training when the signal arrives; none is checkpointed before.
        var (stopped, error) = StopWhen(dir.Path, train(1_000_000), signal, stderr => stderr.Contains("train ["));
        Assert.True(stopped.ExitCode == exitCode, $"exit {stopped.ExitCode}\n{error}");
        Assert.Contains($"deja train: {name} received; saving a checkpoint", error);
        Assert.Matches($"deja train: stopped by {name} at step \\d+; checkpoint saved in model/checkpoint, run the same command to resume", error);
        Assert.True(File.Exists(dir.File("model/checkpoint/checkpoint.safetensors")));
        int step = int.Parse(System.Text.RegularExpressions.Regex.Match(error, "at step (\\d+)").Groups[1].Value);

        // The same command (with a reachable step count) continues from the saved step and finishes.
        var resumed = Support.Deja.Run(dir.Path, train(step + 3));
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains($"deja train: resuming model from step {step}", resumed.Error);
        Assert.True(File.Exists(dir.File("model/model_index.json")));
    }

    [Fact]
    public void DetectStopsAfterTheBatchInFlightKeepsItsRowsAndResumes()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("prompts.txt"), Enumerable.Range(0, 400).Select(i => $"a photo of thing number {i}"));
        string[] detect = ["detect", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompts", "prompts.txt", "--batch", "1", "--out", "scores.jsonl"];

        var (stopped, error) = StopWhen(dir.Path, detect, Support.Deja.SIGTERM,
            _ => File.Exists(dir.File("scores.jsonl")) && File.ReadAllLines(dir.File("scores.jsonl")).Length >= 2);
        Assert.True(stopped.ExitCode == 143, $"exit {stopped.ExitCode}\n{error}");
        Assert.Contains("deja detect: SIGTERM received; stopping after the batch in flight", error);
        Assert.Matches("deja detect: stopped by SIGTERM after \\d+ of 400 prompts; scores.jsonl keeps its \\d+ rows: run the same command to score the rest", error);
        var rows = ScoresFile.Read(dir.File("scores.jsonl"), out long partial);
        Assert.Equal(0, partial);
        Assert.Equal(Enumerable.Range(0, rows.Count), rows.Select(r => r.Index));

        var resumed = Support.Deja.Run(dir.Path, [.. detect, "--limit", (rows.Count + 1).ToString()]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains($"{rows.Count} already in scores.jsonl, 1 to score", resumed.Error);
        Assert.Equal(rows.Count + 1, ScoresFile.Read(dir.File("scores.jsonl")).Count);
    }

    /// <summary>Starts deja, sends <paramref name="signal"/> once <paramref name="ready"/> holds for its stderr so far, and waits for it to exit.</summary>
    static (DejaResult Result, string Error) StopWhen(string workingDirectory, string[] args, int signal, Func<string, bool> ready)
    {
        using var process = Support.Deja.Start(workingDirectory, args);
        var error = new System.Text.StringBuilder();
        var errorDone = Task.Run(() =>
        {
            var buffer = new char[4096];
            int n;
            while ((n = process.StandardError.Read(buffer)) > 0) lock (error) error.Append(buffer, 0, n);
        });
        var output = process.StandardOutput.ReadToEndAsync();
        var clock = Stopwatch.StartNew();
        while (true)
        {
            string soFar;
            lock (error) soFar = error.ToString();
            if (ready(soFar)) break;
            if (process.HasExited) Assert.Fail($"deja exited ({process.ExitCode}) before the signal:\n{soFar}");
            if (clock.Elapsed > TimeSpan.FromMinutes(2)) { process.Kill(true); Assert.Fail($"deja never got ready:\n{soFar}"); }
            Thread.Sleep(50);
        }
        Support.Deja.Signal(process, signal);
        if (!process.WaitForExit(TimeSpan.FromMinutes(2))) { process.Kill(true); Assert.Fail("deja did not stop after the signal"); }
        errorDone.Wait();
        string all;
        lock (error) all = error.ToString();
        return (new DejaResult(process.ExitCode, output.Result, all), all);
    }
}
