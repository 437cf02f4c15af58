using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Deja.Cli.Tests.Support;

/// <summary>What a finished deja process left: its exit code and its two output streams.</summary>
public sealed record DejaResult(int ExitCode, string Out, string Error)
{
    /// <summary>stderr's lines, progress-bar redraws and blank lines left out.</summary>
    public string[] ErrorLines => Error.Split('\n', '\r').Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Error}";
}

/// <summary>
/// Runs the built deja (deja.dll, copied next to the tests by the project reference) as a child process,
/// the way a user or a scheduler does: exit codes, stderr and signals are the behaviour under test.
/// </summary>
public static class Deja
{
    static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "deja.dll");

    /// <summary>The `dotnet` that runs these tests (the host of this process, else the one on PATH).</summary>
    static readonly string Host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host
        : Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";

    public static DejaResult Run(string workingDirectory, params string[] args) => Run(workingDirectory, TimeSpan.FromMinutes(3), args);

    public static DejaResult Run(string workingDirectory, TimeSpan timeout, params string[] args) => Run(workingDirectory, timeout, null, args);

    /// <summary>Runs deja with <paramref name="environment"/> set in its environment (a null value unsets the variable).</summary>
    public static DejaResult Run(string workingDirectory, TimeSpan timeout, IReadOnlyDictionary<string, string?>? environment, params string[] args)
    {
        using var process = Start(workingDirectory, environment, args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"deja {string.Join(" ", args)} did not finish in {timeout}");
        }
        return new DejaResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Starts deja with redirected output; the caller reads the streams and waits.</summary>
    public static Process Start(string workingDirectory, params string[] args) => Start(workingDirectory, null, args);

    public static Process Start(string workingDirectory, IReadOnlyDictionary<string, string?>? environment, params string[] args)
    {
        var info = new ProcessStartInfo(Host)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
            StandardOutputEncoding = Encoding.UTF8, StandardErrorEncoding = Encoding.UTF8,
        };
        info.ArgumentList.Add(Dll);
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment.Remove("DEJA_DEBUG");
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>()) info.Environment[name] = value;
        return Process.Start(info)!;
    }

    /// <summary>Sends a POSIX signal (15 = SIGTERM, 2 = SIGINT) to a process; Process.Kill only sends SIGKILL.</summary>
    public static void Signal(Process process, int signal)
    {
        if (Kill(process.Id, signal) != 0) throw new InvalidOperationException($"kill({process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    public const int SIGINT = 2, SIGTERM = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    static extern int Kill(int pid, int signal);
}
