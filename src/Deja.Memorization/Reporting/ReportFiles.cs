using System.Text;
using Deja.Tensors;

namespace Deja.Memorization.Reporting;

/// <summary>File reading shared by the report's input readers: one message style for missing and unreadable files.</summary>
static class ReportFiles
{
    static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    /// <summary>A text file's lines; invalid UTF-8 or an unreadable file is a <see cref="DejaException"/> naming the file.</summary>
    public static string[] ReadLines(string path)
    {
        try { return StrictUtf8.GetString(File.ReadAllBytes(path)).Split('\n'); }
        catch (DecoderFallbackException) { throw new DejaException($"{path}: not UTF-8 text"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new DejaException($"{path} cannot be read: {e.Message}", e); }
    }

    public static byte[] ReadBytes(string path)
    {
        try { return File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new DejaException($"{path} cannot be read: {e.Message}", e); }
    }
}
