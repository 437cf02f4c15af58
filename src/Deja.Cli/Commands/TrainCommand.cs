namespace Deja.Cli;

/// <summary>`deja train` (in progress): trains a mini model on a synthetic dataset.</summary>
public static class TrainCommand
{
    /// <summary>The CLIP tokenizer shipped with the repository (the real CLIP BPE vocabulary).</summary>
    public static string DefaultTokenizer()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var candidate = Path.Combine(d.FullName, "testdata", "golden", "tiny-sd1", "tokenizer");
            if (File.Exists(Path.Combine(candidate, "vocab.json"))) return candidate;
        }
        return Path.Combine(AppContext.BaseDirectory, "tokenizer");
    }
}
