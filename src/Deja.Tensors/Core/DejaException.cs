namespace Deja.Tensors;

/// <summary>
/// Input from outside Deja (a model folder, a prompt list, a score file, a command-line value) cannot be
/// used. The message is one line that names the file or option and what is wrong with it; the CLI prints
/// it as "deja: MESSAGE" and exits with code 1. Anything else that escapes a command is a bug in Deja
/// (exit 70, "internal error").
/// </summary>
public class DejaException : Exception
{
    public DejaException(string message, Exception? inner = null) : base(OneLine(message), inner) { }

    /// <summary>Messages are printed on one line: embedded line breaks become spaces.</summary>
    static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}
