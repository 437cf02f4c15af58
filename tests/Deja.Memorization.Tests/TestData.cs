namespace Deja.Memorization.Tests;

/// <summary>Locates the repository's test data (testdata/ at the repo root).</summary>
public static class TestData
{
    public static string Root { get; } = Find();

    static string Find()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (Directory.Exists(Path.Combine(d.FullName, "testdata")) && File.Exists(Path.Combine(d.FullName, "Deja.sln")))
                return Path.Combine(d.FullName, "testdata");
        throw new DirectoryNotFoundException("testdata/ not found above " + AppContext.BaseDirectory);
    }

    public static string Golden(params string[] parts) => Path.Combine([Root, "golden", .. parts]);
    public static string Prompts(string file) => Path.Combine(Root, "prompts", file);
    /// <summary>The real CLIP tokenizer the bundled models use (data/tokenizers/clip).</summary>
    public static string Tokenizer() => Path.Combine(Path.GetDirectoryName(Root)!, "data", "tokenizers", "clip");
}
