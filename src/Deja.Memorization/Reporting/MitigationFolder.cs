using Deja.Memorization.Mitigation;

namespace Deja.Memorization.Reporting;

/// <summary>
/// A folder written by <c>deja mitigate</c> (<see cref="MitigationOutput"/>): <c>mitigate.jsonl</c> and
/// <c>images/</c>, read by <see cref="MitigationRows"/>. A folder of <c>--method none</c> holds the
/// unmitigated generations: the report uses it as the "before" picture of the same prompt, generation and
/// seed in the other folders.
/// </summary>
public sealed class MitigationFolder
{
    public required string Path { get; init; }
    public required string Method { get; init; }
    public required IReadOnlyList<MitigationRow> Images { get; init; }

    public static bool Looks(string folder) => MitigationRows.Looks(folder);

    public static MitigationFolder Read(string folder)
    {
        var rows = MitigationRows.Read(folder);
        return new MitigationFolder { Path = folder, Method = rows[0].Method, Images = rows };
    }
}
