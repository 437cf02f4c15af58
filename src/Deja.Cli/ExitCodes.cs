namespace Deja.Cli;

/// <summary>
/// The exit codes of every deja command (the README has this table): scripts and schedulers can tell
/// bad input from a bug from an interrupted run without reading the messages.
/// </summary>
public static class ExitCodes
{
    /// <summary>The command did what it was asked.</summary>
    public const int Ok = 0;

    /// <summary>Unusable input: a file, folder, model or value that cannot be used, an unwritable output,
    /// a non-finite score. One "deja: ..." line says what and where.</summary>
    public const int BadInput = 1;

    /// <summary>The command line does not parse: unknown option, missing required option, a value of the wrong type.</summary>
    public const int Usage = 2;

    /// <summary>A bug in deja (EX_SOFTWARE of sysexits.h): one "deja: internal error" line asking for a report.</summary>
    public const int InternalError = 70;

    /// <summary>Stopped by SIGINT (Ctrl-C): 128 + 2, as a shell reports a process killed by it.</summary>
    public const int Interrupted = 130;

    /// <summary>Stopped by SIGTERM (timeout, Kubernetes, Slurm): 128 + 15.</summary>
    public const int Terminated = 143;
}
