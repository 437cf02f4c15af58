namespace Deja.Memorization.Fuzzing;

/// <summary>A way to damage an input: returns the mutated bytes, or null when it does not apply to this input.</summary>
public delegate byte[]? FuzzMutation(byte[] input, FuzzRandom random);

/// <summary>Lets a consumer report how far an input got: a fuzzer whose inputs all fail the first check proves little.</summary>
public sealed class FuzzProbe
{
    public bool ReachedDeeperStage { get; private set; }

    /// <summary>The input passed the first check (the header, the parser) and reached the stage the target names.</summary>
    public void Deeper() => ReachedDeeperStage = true;
}

/// <summary>
/// One kind of file from outside that Deja reads: valid seed inputs, the mutations that damage them,
/// and the code that reads a file the way a command does. Reading must either succeed or throw
/// <see cref="Deja.Tensors.DejaException"/>; the engine checks time and allocations.
/// </summary>
public abstract class FuzzTarget
{
    /// <summary>The command-line name, e.g. "safetensors".</summary>
    public abstract string Name { get; }

    /// <summary>What <see cref="FuzzProbe.Deeper"/> means for this target, e.g. "past the header into tensor data".</summary>
    public abstract string DeeperStage { get; }

    /// <summary>The file name the mutated input is written to (readers look at extensions and folder layout).</summary>
    public abstract string FileName { get; }

    /// <summary>Writes any fixed companion files into <paramref name="workDir"/> and returns the valid seed inputs.</summary>
    public abstract IReadOnlyList<byte[]> Prepare(string workDir);

    /// <summary>The mutations, structure-aware ones first; the engine mixes them with generic byte mutations.</summary>
    public abstract IReadOnlyList<FuzzMutation> Mutations { get; }

    /// <summary>Reads <paramref name="path"/> as Deja does, calling <paramref name="probe"/>.Deeper() once past the first check.</summary>
    public abstract void Consume(string path, FuzzProbe probe);

    /// <summary>
    /// The most a sound reader may allocate for an input of <paramref name="inputBytes"/> bytes (plus the
    /// target's fixed companion files). The default allows 64 bytes per input byte and 16 MB of fixed
    /// overhead (parsers, dictionaries, the tiny models the consumers build); targets with a larger
    /// legitimate expansion say so.
    /// </summary>
    public virtual long AllocationLimit(long inputBytes) => 64 * inputBytes + (16L << 20);

    /// <summary>
    /// Whether a refusal message points the user at the input: by default it must name the file or its
    /// folder. Targets whose later stages judge data rather than a file (evaluation of score rows) widen this.
    /// </summary>
    public virtual bool NamesTheInput(string message, string path)
    {
        var folder = Path.GetDirectoryName(path)!;
        return message.Contains(Path.GetFileName(path), StringComparison.Ordinal) || message.Contains(folder, StringComparison.Ordinal)
               || message.Contains(Path.GetFileName(folder), StringComparison.Ordinal);
    }
}
