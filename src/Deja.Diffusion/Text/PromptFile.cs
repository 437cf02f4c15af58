using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Deja.Diffusion.Text.Unicode;
using Deja.Tensors;

namespace Deja.Diffusion.Text;

/// <summary>How a prompts file is laid out.</summary>
public enum PromptFileFormat
{
    /// <summary>One prompt per line.</summary>
    PlainText,
    /// <summary>One JSON object per line with a "prompt" (or else "caption") string; prompts may contain newlines.</summary>
    JsonLines,
}

/// <summary>One prompt and the (1-based) line it came from.</summary>
public sealed record PromptLine(int LineNumber, string Text);

/// <summary>
/// A prompts file. Files named *.jsonl or *.ndjson are read as JSON lines, every other file as plain
/// text. Lines end at \n, \r\n or \r (Python's universal newlines); a leading UTF-8 byte-order mark is
/// ignored. Every prompt is trimmed like Python's <c>str.strip()</c>; lines that are blank (or JSON
/// rows whose prompt is blank) are skipped and listed in <see cref="BlankLines"/>.
/// </summary>
public sealed class PromptFile
{
    static readonly string[] JsonLinesExtensions = [".jsonl", ".ndjson"];
    static readonly string[] PromptFields = ["prompt", "caption"];

    PromptFile(string path, PromptFileFormat format, List<PromptLine> prompts, List<int> blankLines)
    {
        Path = path;
        Format = format;
        Prompts = prompts;
        BlankLines = blankLines;
    }

    public string Path { get; }
    public PromptFileFormat Format { get; }
    /// <summary>The prompts in file order.</summary>
    public IReadOnlyList<PromptLine> Prompts { get; }
    /// <summary>Line numbers of the skipped blank lines.</summary>
    public IReadOnlyList<int> BlankLines { get; }

    /// <summary>
    /// Reads <paramref name="path"/>. A missing or empty file, bytes that are not UTF-8, a malformed JSON
    /// row or a file without any prompt throw <see cref="PromptFileException"/> naming the file (and line).
    /// </summary>
    public static PromptFile Read(string path)
    {
        var format = JsonLinesExtensions.Contains(System.IO.Path.GetExtension(path), StringComparer.OrdinalIgnoreCase)
            ? PromptFileFormat.JsonLines
            : PromptFileFormat.PlainText;
        ReadOnlySpan<byte> bytes = ReadBytes(path);
        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) bytes = bytes[3..];
        if (bytes.IsEmpty) throw new PromptFileException(path, null, "the file is empty");

        var prompts = new List<PromptLine>();
        var blank = new List<int>();
        int lineNumber = 0;
        while (!bytes.IsEmpty)
        {
            lineNumber++;
            int end = bytes.IndexOfAny((byte)'\n', (byte)'\r');
            var line = end < 0 ? bytes : bytes[..end];
            bytes = end < 0 ? [] : bytes[(end + (bytes[end] == '\r' && end + 1 < bytes.Length && bytes[end + 1] == '\n' ? 2 : 1))..];
            string text = DecodeLine(path, lineNumber, line);
            string prompt = PythonText.Strip(format == PromptFileFormat.JsonLines && PythonText.Strip(text).Length > 0
                ? PromptOfJsonRow(path, lineNumber, text)
                : text);
            if (prompt.Length == 0) blank.Add(lineNumber);
            else prompts.Add(new PromptLine(lineNumber, prompt));
        }
        if (prompts.Count == 0)
            throw new PromptFileException(path, null, $"no prompts: all {lineNumber} line(s) are blank");
        return new PromptFile(path, format, prompts, blank);
    }

    static byte[] ReadBytes(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new PromptFileException(path, null, "not found", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PromptFileException(path, null, "cannot be read: " + e.Message, e);
        }
    }

    static string DecodeLine(string path, int lineNumber, ReadOnlySpan<byte> line)
    {
        char[] buffer = ArrayPool<char>.Shared.Rent(line.Length);
        try
        {
            var status = Utf8.ToUtf16(line, buffer, out int bytesRead, out int charsWritten, replaceInvalidSequences: false);
            if (status != OperationStatus.Done)
                throw new PromptFileException(path, lineNumber,
                    $"not valid UTF-8 (byte 0x{line[bytesRead]:X2} at byte {bytesRead + 1} of the line); save the file as UTF-8");
            return new string(buffer, 0, charsWritten);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
    }

    static string PromptOfJsonRow(string path, int lineNumber, string row)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(row);
        }
        catch (JsonException e)
        {
            throw new PromptFileException(path, lineNumber, "not a JSON object: " + e.Message, e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new PromptFileException(path, lineNumber, "not a JSON object");
            foreach (string field in PromptFields)
            {
                if (!doc.RootElement.TryGetProperty(field, out var value)) continue;
                if (value.ValueKind != JsonValueKind.String)
                    throw new PromptFileException(path, lineNumber, $"the \"{field}\" field is not a string");
                try
                {
                    return value.GetString()!;
                }
                catch (InvalidOperationException e)
                {
                    throw new PromptFileException(path, lineNumber, $"the \"{field}\" field is not valid text: {e.Message}", e);
                }
            }
            throw new PromptFileException(path, lineNumber, "the row has neither a \"prompt\" nor a \"caption\" field");
        }
    }
}

/// <summary>A prompts file cannot be used; names the file and, where it applies, the line.</summary>
public sealed class PromptFileException : DejaException
{
    public string FilePath { get; }
    public int? LineNumber { get; }

    public PromptFileException(string filePath, int? lineNumber, string problem, Exception? inner = null)
        : base(lineNumber is null ? $"Prompts file '{filePath}': {problem}" : $"Prompts file '{filePath}', line {lineNumber}: {problem}", inner)
    {
        FilePath = filePath;
        LineNumber = lineNumber;
    }
}
