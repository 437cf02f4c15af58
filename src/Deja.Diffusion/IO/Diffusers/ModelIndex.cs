using System.Text.Json;
using Deja.Tensors;

namespace Deja.Diffusion.IO;

/// <summary>One entry of model_index.json: the library and class of a pipeline component, e.g. ["diffusers", "UNet2DConditionModel"].</summary>
public sealed record ComponentSpec(string Name, string? Library, string? ClassName)
{
    /// <summary>Written as [null, null]: the pipeline has no such component (e.g. safety_checker).</summary>
    public bool IsAbsent => Library is null && ClassName is null;
}

/// <summary>model_index.json: the pipeline class and its components.</summary>
public sealed record ModelIndex
{
    public required string Source { get; init; }
    public required string ClassName { get; init; }
    public string? DiffusersVersion { get; init; }
    public required IReadOnlyDictionary<string, ComponentSpec> Components { get; init; }
    /// <summary>The file as written (settings such as requires_safety_checker).</summary>
    public required JsonElement Raw { get; init; }

    public static ModelIndex Load(string path) => From(ConfigReader.Load(path));
    public static ModelIndex Parse(string json, string source = "model_index.json") => From(ConfigReader.Parse(json, source));

    static ModelIndex From(ConfigReader r)
    {
        var components = new Dictionary<string, ComponentSpec>(StringComparer.Ordinal);
        foreach (var prop in r.Root.EnumerateObject())
        {
            // Components are the non-underscore keys whose value is a [library, class] pair; other keys are settings.
            if (prop.Name.StartsWith('_') || prop.Value.ValueKind != JsonValueKind.Array) continue;
            var pair = prop.Value.EnumerateArray().ToList();
            if (pair.Count != 2 || pair.Any(v => v.ValueKind is not (JsonValueKind.String or JsonValueKind.Null)))
                throw new DejaException($"{r.Source}: component '{prop.Name}' must be [library, class], found {prop.Value.GetRawText()}");
            components[prop.Name] = new ComponentSpec(prop.Name, pair[0].GetString(), pair[1].GetString());
        }
        return new ModelIndex
        {
            Source = r.Source,
            ClassName = r.String("_class_name", ""),
            DiffusersVersion = r.StringOrNull("_diffusers_version"),
            Components = components,
            Raw = r.Root,
        };
    }
}
