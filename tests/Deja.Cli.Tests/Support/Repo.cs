namespace Deja.Cli.Tests.Support;

/// <summary>The repository's test data (testdata/ at the repo root, next to Deja.sln).</summary>
public static class Repo
{
    public static string Root { get; } = Find();

    static string Find()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (Directory.Exists(System.IO.Path.Combine(d.FullName, "testdata")) && File.Exists(System.IO.Path.Combine(d.FullName, "Deja.sln")))
                return d.FullName;
        throw new DirectoryNotFoundException("the repository root (Deja.sln, testdata/) was not found above " + AppContext.BaseDirectory);
    }

    /// <summary>A tiny random-weight Stable Diffusion pipeline: "tiny-sd1" or "tiny-sd2".</summary>
    public static string TinyPipeline(string name) => System.IO.Path.Combine(Root, "testdata", "golden", name);

    /// <summary>A copy of a tiny pipeline whose scheduler config was edited, for models the repository does not ship.</summary>
    public static string CopyPipeline(string name, string destination, Func<string, string>? editSchedulerConfig = null)
    {
        var source = TinyPipeline(name);
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var target = System.IO.Path.Combine(destination, System.IO.Path.GetRelativePath(source, file));
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        if (editSchedulerConfig is not null)
        {
            var config = System.IO.Path.Combine(destination, "scheduler", "scheduler_config.json");
            File.WriteAllText(config, editSchedulerConfig(File.ReadAllText(config)));
        }
        return destination;
    }
}
