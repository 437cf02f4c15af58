namespace Deja.Tensors.Tests;

/// <summary>
/// OutputPath refuses unwritable outputs before any work starts. The tests run as root, for whom a
/// chmod-ed read-only folder is still writable, so they use paths nobody can write: a path under a
/// regular file, /proc, a folder where a file is expected, and devices.
/// </summary>
public class OutputPathTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "deja-outputpath-" + Guid.NewGuid().ToString("N"));

    public OutputPathTests() => Directory.CreateDirectory(dir);

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Under(params string[] parts) => Path.Combine([dir, .. parts]);

    string[] Entries() => [.. Directory.EnumerateFileSystemEntries(dir, "*", SearchOption.AllDirectories).Order()];

    [Fact]
    public void NewFilesAndFoldersInWritablePlacesPassAndLeaveNoTrace()
    {
        File.WriteAllText(Under("existing.jsonl"), "");
        foreach (var use in Enum.GetValues<OutputUse>())
        {
            OutputPath.CheckFile(Under("new.jsonl"), "--out", use);
            OutputPath.CheckFile(Under("missing", "folders", "new.jsonl"), "--out", use);
            OutputPath.CheckFile(Under("existing.jsonl"), "--out", use);
        }
        OutputPath.CheckFolder(dir, "--out");
        OutputPath.CheckFolder(Under("a", "b"), "--out");
        Assert.Equal([Under("existing.jsonl")], Entries()); // no probe files, no created folders
    }

    [Fact]
    public void AFolderWhereAFileIsExpectedIsRefused()
    {
        var e = Assert.Throws<DejaException>(() => OutputPath.CheckFile(dir, "--svg", OutputUse.Write));
        Assert.Equal($"--svg {dir} is a folder; give a file name", e.Message);
    }

    [Fact]
    public void APathUnderARegularFileIsRefusedNamingTheFile()
    {
        File.WriteAllText(Under("file"), "");
        var file = Assert.Throws<DejaException>(() => OutputPath.CheckFile(Under("file", "sub", "x.jsonl"), "--out", OutputUse.Append));
        Assert.Contains($"{Under("file")} is a file, not a folder", file.Message);
        var folder = Assert.Throws<DejaException>(() => OutputPath.CheckFolder(Under("file", "model"), "--out"));
        Assert.Contains($"{Under("file")} is a file, not a folder", folder.Message);
        Assert.Equal($"--out {Under("file")} is a file, not a folder", Assert.Throws<DejaException>(() => OutputPath.CheckFolder(Under("file"), "--out")).Message);
    }

    [Fact]
    public void AFolderThatTakesNoFilesIsRefused()
    {
        if (!OperatingSystem.IsLinux()) return;
        var e = Assert.Throws<DejaException>(() => OutputPath.CheckFile("/proc/deja-scores.jsonl", "--out", OutputUse.Append));
        Assert.Equal("--out /proc/deja-scores.jsonl: cannot create files in /proc (the file system does not allow it)", e.Message);
        Assert.Contains("cannot create files in /proc", Assert.Throws<DejaException>(() => OutputPath.CheckFolder("/proc/deja-model", "--out")).Message);
    }

    [Fact]
    public void DevicesAreFineForAOneShotWriteButNotForAFileThatIsReadBackOrRenamedOver()
    {
        if (!OperatingSystem.IsLinux()) return;
        Assert.Equal(FileKind.CharacterDevice, FileKinds.Of("/dev/null"));
        OutputPath.CheckFile("/dev/null", "--svg", OutputUse.Write);
        var append = Assert.Throws<DejaException>(() => OutputPath.CheckFile("/dev/null", "--out", OutputUse.Append));
        Assert.Equal("--out /dev/null is not a regular file (a character device); the file is read back to resume a run, so give the path of a file", append.Message);
        Assert.Contains("not a regular file", Assert.Throws<DejaException>(() => OutputPath.CheckFile("/dev/null", "--out", OutputUse.Replace)).Message);
    }

    [Fact]
    public void FileKindsTellFilesFoldersAndMissingPathsApart()
    {
        File.WriteAllText(Under("f"), "x");
        Assert.Equal(FileKind.Regular, FileKinds.Of(Under("f")));
        Assert.Equal(FileKind.Directory, FileKinds.Of(dir));
        Assert.Equal(FileKind.Missing, FileKinds.Of(Under("nothing")));
    }

    [Fact]
    public void EmptyPathsAreRefused()
    {
        Assert.Equal("--out: the path is empty", Assert.Throws<DejaException>(() => OutputPath.CheckFile(" ", "--out", OutputUse.Write)).Message);
    }
}
