using Deja.Diffusion.IO;
using Deja.Tensors;

namespace Deja.Diffusion.Pipelines;

/// <summary>
/// Initial latents (x_T) stored in a safetensors file, and generation results saved as one: the tensor
/// names are the golden files' (<c>x_T</c>, <c>final_latents</c>), so a golden file can seed a run and
/// a saved run can be compared with a golden directly.
/// </summary>
public static class LatentsFile
{
    public const string InitialName = "x_T";
    public const string FinalName = "final_latents";

    /// <summary>
    /// Reads x_T from <paramref name="path"/>: the tensor <paramref name="key"/> when given, else the one
    /// named x_T, else the file's only tensor. [C, h, w] is taken as [1, C, h, w]. The caller owns the result.
    /// </summary>
    public static Tensor ReadInitial(string path, string? key = null)
    {
        if (!File.Exists(path)) throw new DejaException($"latents file '{path}' does not exist");
        using var file = SafeTensorsFile.Open(path);
        var names = file.Names.ToList();
        string name;
        if (key is not null)
            name = file.Contains(key) ? key
                : throw new DejaException($"latents file '{path}' has no tensor '{key}' (it has: {List(names)})");
        else if (file.Contains(InitialName)) name = InitialName;
        else if (names.Count == 1) name = names[0];
        else
            throw new DejaException(names.Count == 0
                ? $"latents file '{path}' holds no tensors"
                : $"latents file '{path}' has {names.Count} tensors and none is named '{InitialName}' ({List(names)}); choose one with --latents-key");
        var entry = file.Entry(name);
        if (entry.DType is not (SafeTensorsDType.F32 or SafeTensorsDType.F16 or SafeTensorsDType.BF16 or SafeTensorsDType.F64))
            throw new DejaException($"latents file '{path}': tensor '{name}' is {entry.DType}, not a float tensor");
        var t = file.ReadTensor(name);
        return t.Rank == 3 ? Ops.Reshape(t, [1, .. t.Shape]) : t;
    }

    /// <summary>Writes x_T and the final latents of a run (F32), with string <paramref name="metadata"/> (atomic: temp file + rename).</summary>
    public static void Write(string path, Tensor initialLatents, Tensor finalLatents, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var meta = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>()) { ["format"] = "pt" };
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        SafeTensorsWriter.Write(path, [(InitialName, initialLatents), (FinalName, finalLatents)], meta);
    }

    static string List(List<string> names) =>
        string.Join(", ", names.Take(8)) + (names.Count > 8 ? $", ... ({names.Count} in all)" : "");
}
