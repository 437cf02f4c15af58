using System.Reflection;
using Deja.Tensors;

namespace Deja.Cli;

/// <summary>
/// Turns an exception that escaped a command into one line on stderr and an exit code: Deja's errors
/// and the input checks that still throw the framework's argument and I/O exceptions are bad input
/// (exit 1); anything else is a bug (exit 70), reported as such instead of a stack trace, which the user
/// can still get with DEJA_DEBUG=1.
/// </summary>
public static class ErrorReport
{
    public const string DebugVariable = "DEJA_DEBUG";

    public static int ExitCodeFor(Exception e) => IsBadInput(Unwrap(e)) ? ExitCodes.BadInput : ExitCodes.InternalError;

    /// <summary>Writes the line (and with <paramref name="debug"/> the stack trace) and returns the exit code.</summary>
    public static int Write(Exception e, TextWriter error, bool debug)
    {
        var cause = Unwrap(e);
        int code = ExitCodeFor(cause);
        error.WriteLine(code == ExitCodes.BadInput
            ? $"deja: {OneLine(cause.Message)}"
            : $"deja: internal error ({cause.GetType().Name}: {OneLine(cause.Message)}); this is a bug in deja, please report it with the command you ran" +
              (debug ? "" : $" and the output of the same command with {DebugVariable}=1"));
        if (debug) error.WriteLine(e.ToString());
        return code;
    }

    public static bool DebugRequested() => Environment.GetEnvironmentVariable(DebugVariable) is "1" or "true";

    /// <summary>
    /// Input checks that predate <see cref="DejaException"/> throw the framework's argument and I/O
    /// exceptions; they stay bad input. The model readers' unsupported settings now throw DejaException, so
    /// NotSupportedException and KeyNotFoundException, like everything else, are Deja's bugs (exit 70).
    /// </summary>
    static bool IsBadInput(Exception e) =>
        e is DejaException or ArgumentException or InvalidDataException or IOException or UnauthorizedAccessException;

    /// <summary>The exception that says what went wrong, not the wrapper that carried it across threads or reflection.</summary>
    static Exception Unwrap(Exception e)
    {
        while (true)
        {
            if (e is AggregateException aggregate && aggregate.Flatten().InnerExceptions is [var first, ..]) e = first;
            else if (e is TargetInvocationException { InnerException: { } inner }) e = inner;
            else return e;
        }
    }

    static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}
