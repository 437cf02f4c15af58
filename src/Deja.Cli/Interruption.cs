using System.Runtime.InteropServices;

namespace Deja.Cli;

/// <summary>
/// SIGINT (Ctrl-C) and SIGTERM (what timeout, Kubernetes and Slurm send) turned into a request to stop
/// at the next safe point, for the commands that can save their work (train, detect). Both signals are
/// treated alike; only the exit code tells them apart (130, 143). A second signal is left to its default
/// action, so an impatient user can still stop a run at once. Commands that do not listen keep the
/// default action for both signals: the process ends with 130 or 143.
/// </summary>
public sealed class Interruption : IDisposable
{
    readonly CancellationTokenSource source = new();
    readonly PosixSignalRegistration[] registrations;
    readonly string command, firstSignalNote;
    PosixSignal? signal;

    /// <param name="command">"deja train", for the note printed when the first signal arrives.</param>
    /// <param name="firstSignalNote">What happens now, e.g. "saving a checkpoint after this step".</param>
    public Interruption(string command, string firstSignalNote)
    {
        this.command = command;
        this.firstSignalNote = firstSignalNote;
        registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle)];
    }

    public CancellationToken Token => source.Token;

    public bool Requested => signal is not null;

    /// <summary>"SIGINT" or "SIGTERM", once one arrived.</summary>
    public string SignalName => signal == PosixSignal.SIGTERM ? "SIGTERM" : "SIGINT";

    /// <summary>130 for SIGINT, 143 for SIGTERM.</summary>
    public int ExitCode => signal == PosixSignal.SIGTERM ? ExitCodes.Terminated : ExitCodes.Interrupted;

    void Handle(PosixSignalContext context)
    {
        lock (source)
        {
            if (signal is not null) return; // second signal: the default action ends the process now
            signal = context.Signal;
            context.Cancel = true;
        }
        Console.Error.WriteLine($"\n{command}: {SignalName} received; {firstSignalNote} (send it again to stop at once)");
        source.Cancel();
    }

    public void Dispose()
    {
        foreach (var r in registrations) r.Dispose();
        source.Dispose();
    }
}
