using System.Collections.Concurrent;

namespace Deja.Diffusion.IO;

/// <summary>
/// The content hashes (<see cref="SafeTensorsFile.ContentHash"/>) of the weights files one model load
/// read, by full path. The loaders record each file's hash right after reading it, while its chunk
/// hashes are known, so identifying a loaded model costs no second pass over its weights.
/// </summary>
public sealed class WeightsHashes
{
    readonly ConcurrentDictionary<string, ulong> byPath = new(StringComparer.Ordinal);

    /// <summary>Records the hash of a file whose tensors were just read.</summary>
    public void Record(SafeTensorsFile file) => byPath[file.Path] = file.ContentHash();

    /// <summary>The recorded hash of <paramref name="path"/>, or (for a file no load recorded) its hash computed now.</summary>
    public ulong Of(string path)
    {
        var full = Path.GetFullPath(path);
        if (byPath.TryGetValue(full, out var hash)) return hash;
        using var file = SafeTensorsFile.Open(full);
        return byPath[full] = file.ContentHash();
    }
}
