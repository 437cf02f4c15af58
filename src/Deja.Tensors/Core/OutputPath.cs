using System.Runtime.InteropServices;

namespace Deja.Tensors;

/// <summary>
/// Checks, before any work starts, that an output path can be written, so a long run cannot fail at its
/// last write and nothing is left half-written. Each problem is a <see cref="DejaException"/> naming the
/// option and the path. The checks leave no trace: missing folders are not created, and the probe file
/// that proves a folder takes new files is deleted when closed.
/// </summary>
public static class OutputPath
{
    /// <summary>A file that will be written as <paramref name="use"/> says.</summary>
    public static void CheckFile(string path, string option, OutputUse use)
    {
        CheckName(path, option);
        var kind = FileKinds.Of(path);
        if (kind == FileKind.Directory) throw new DejaException($"{option} {path} is a folder; give a file name");
        if (kind == FileKind.Missing)
        {
            CheckFolderTakesFiles(ExistingAncestor(path, option), path, option);
            return;
        }
        if (kind != FileKind.Regular && use != OutputUse.Write)
            throw new DejaException($"{option} {path} is not a regular file (a {Describe(kind)}); " +
                (use == OutputUse.Append ? "the file is read back to resume a run, so give the path of a file" : "give the path of a file"));
        try
        {
            using (new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DejaException($"{option} {path} cannot be written: {Reason(e)}", e);
        }
        if (use == OutputUse.Replace) CheckFolderTakesFiles(Path.GetDirectoryName(Path.GetFullPath(path))!, path, option);
    }

    /// <summary>A folder that will be created (with its missing parents) or written into.</summary>
    public static void CheckFolder(string path, string option)
    {
        CheckName(path, option);
        var kind = FileKinds.Of(path);
        if (kind == FileKind.Directory) { CheckFolderTakesFiles(Path.GetFullPath(path), path, option); return; }
        if (kind != FileKind.Missing) throw new DejaException($"{option} {path} is a file, not a folder");
        CheckFolderTakesFiles(ExistingAncestor(path, option), path, option);
    }

    static void CheckName(string path, string option)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new DejaException($"{option}: the path is empty");
        if (path.Contains('\0')) throw new DejaException($"{option}: the path contains a NUL character");
    }

    /// <summary>The nearest folder above <paramref name="path"/> that exists; a file on the way is refused.</summary>
    static string ExistingAncestor(string path, string option)
    {
        for (var dir = Path.GetDirectoryName(Path.GetFullPath(path)); dir is not null; dir = Path.GetDirectoryName(dir))
        {
            var kind = FileKinds.Of(dir);
            if (kind == FileKind.Directory) return dir;
            if (kind != FileKind.Missing) throw new DejaException($"{option} {path}: {dir} is a file, not a folder");
        }
        throw new DejaException($"{option} {path}: no folder above it exists");
    }

    /// <summary>Creates and deletes a probe file in <paramref name="folder"/>: the only test that works for
    /// every reason a folder refuses files (permissions, read-only mounts, /proc, quotas).</summary>
    static void CheckFolderTakesFiles(string folder, string path, string option)
    {
        var probe = Path.Combine(folder, $".deja-probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DejaException($"{option} {path}: cannot create files in {folder} ({Reason(e)})", e);
        }
    }

    /// <summary>The operating system's reason without .NET's restatement of the path.</summary>
    static string Reason(Exception e) => e switch
    {
        UnauthorizedAccessException => "permission denied",
        FileNotFoundException or DirectoryNotFoundException => "the file system does not allow it",
        _ => e.InnerException?.Message ?? e.Message,
    };

    static string Describe(FileKind kind) => kind switch
    {
        FileKind.CharacterDevice => "character device",
        FileKind.BlockDevice => "block device",
        FileKind.Pipe => "pipe",
        FileKind.Socket => "socket",
        _ => "special file",
    };
}

/// <summary>How an output file is written, which decides what <see cref="OutputPath.CheckFile"/> accepts.</summary>
public enum OutputUse
{
    /// <summary>Written once, in place: a device such as /dev/null or /dev/stdout is fine.</summary>
    Write,
    /// <summary>Appended to and read back (a resumable results file): a regular file only.</summary>
    Append,
    /// <summary>Replaced whole by renaming a temporary file over it: a regular file in a folder that takes new files.</summary>
    Replace,
}

/// <summary>What a path names, following symbolic links.</summary>
public enum FileKind { Missing, Regular, Directory, CharacterDevice, BlockDevice, Pipe, Socket, Other }

public static partial class FileKinds
{
    /// <summary>The kind of <paramref name="path"/>. .NET does not tell a device or pipe from a file, so on
    /// Linux this asks statx(2); elsewhere every existing non-folder counts as a regular file.</summary>
    public static FileKind Of(string path)
    {
        if (Directory.Exists(path)) return FileKind.Directory;
        if (!File.Exists(path)) return FileKind.Missing;
        if (!OperatingSystem.IsLinux()) return FileKind.Regular;
        int mode;
        try { mode = StatxMode(path); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return FileKind.Regular; }
        if (mode < 0) return FileKind.Regular;
        return (mode & 0xF000) switch
        {
            0x8000 => FileKind.Regular,
            0x4000 => FileKind.Directory,
            0x2000 => FileKind.CharacterDevice,
            0x6000 => FileKind.BlockDevice,
            0x1000 => FileKind.Pipe,
            0xC000 => FileKind.Socket,
            _ => FileKind.Other,
        };
    }

    const int AtCurrentDirectory = -100;
    const uint StatxType = 0x1;
    const int ModeOffset = 28; // struct statx: stx_mask, stx_blksize (u32), stx_attributes (u64), stx_nlink, stx_uid, stx_gid (u32), stx_mode (u16)

    /// <summary>st_mode of the file (links followed), or -1 when statx fails (then the caller assumes a file).</summary>
    static unsafe int StatxMode(string path)
    {
        byte* buffer = stackalloc byte[256]; // sizeof(struct statx) is 256 on every architecture
        if (Statx(AtCurrentDirectory, path, 0, StatxType, buffer) != 0) return -1;
        return *(ushort*)(buffer + ModeOffset);
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int directory, string path, int flags, uint mask, byte* buffer);
}
