using System.Text.Json;
using Deja.Tensors;

namespace Deja.Diffusion.IO;

/// <summary>
/// Common part of the typed configs: where the config came from and the JSON itself, so keys the
/// typed record does not model stay readable (<see cref="TryGetRaw"/>).
/// </summary>
public abstract record DiffusersConfig
{
    /// <summary>The file (or description) the config was read from; used in messages.</summary>
    public required string Source { get; init; }
    /// <summary>The whole config object as written.</summary>
    public required JsonElement Raw { get; init; }

    public bool TryGetRaw(string key, out JsonElement value) => Raw.TryGetProperty(key, out value);

    /// <summary>Keys of the file that this record does not turn into properties.</summary>
    public IEnumerable<string> UnmodeledKeys() => Raw.EnumerateObject().Select(p => p.Name).Where(k => !ModeledKeys.Contains(k));

    protected abstract IReadOnlySet<string> ModeledKeys { get; }

    /// <summary>Settings Deja cannot run, each a sentence naming the file, the key and what is supported. Empty when usable.</summary>
    public abstract IReadOnlyList<string> Problems();

    /// <summary>Throws one <see cref="InvalidDataException"/> listing every problem, if there are any.</summary>
    public void Validate()
    {
        var problems = Problems();
        if (problems.Count > 0)
            throw new DejaException(problems.Count == 1 ? problems[0] : $"{Source}: {problems.Count} unsupported settings: " + string.Join("; ", problems));
    }

    private protected static string List(IEnumerable<string> values) => string.Join(", ", values);
}
