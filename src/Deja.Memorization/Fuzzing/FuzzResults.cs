namespace Deja.Memorization.Fuzzing;

/// <summary>What went wrong with one input.</summary>
public enum FuzzFailureKind
{
    /// <summary>An exception other than DejaException escaped the reader.</summary>
    UnexpectedException,
    /// <summary>A DejaException whose message is empty, spans lines, or names neither the file nor its folder.</summary>
    BadMessage,
    /// <summary>The input took longer than the time limit, but finished.</summary>
    TooSlow,
    /// <summary>The input had not finished after three times the time limit; its thread was abandoned.</summary>
    Hang,
    /// <summary>The reader allocated more than <see cref="FuzzTarget.AllocationLimit"/> allows for the input's size.</summary>
    TooMuchAllocation,
    /// <summary>An unmutated seed input was refused: the target itself is broken.</summary>
    SeedRefused,
}

/// <param name="Index">The input's index: <c>deja fuzz TARGET --seed S --start INDEX --count 1</c> reproduces it.</param>
/// <param name="SavedAs">Where the input was written, when a crash folder was given.</param>
public sealed record FuzzFailure(long Index, FuzzFailureKind Kind, string Detail, string? SavedAs);

/// <summary>The counts of one target's run.</summary>
public sealed record FuzzCounts(
    string Target, string DeeperStage, long Seed, long Inputs, long Accepted, long Refused, long Deeper,
    IReadOnlyList<FuzzFailure> Failures, TimeSpan Elapsed, TimeSpan Slowest, long LargestAllocation)
{
    /// <summary>Inputs that got past the first check, as a share of all inputs.</summary>
    public double DeeperShare => Inputs == 0 ? 0 : (double)Deeper / Inputs;
}
