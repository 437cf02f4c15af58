using Deja.Diffusion.Text;

namespace Deja.Diffusion.Tests.Text;

public sealed class PromptFileTests : IDisposable
{
    readonly string folder = Path.Combine(Path.GetTempPath(), "deja-prompts-" + Guid.NewGuid().ToString("N"));

    public PromptFileTests() => Directory.CreateDirectory(folder);

    public void Dispose() => Directory.Delete(folder, recursive: true);

    string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    string Write(string name, string text) => Write(name, System.Text.Encoding.UTF8.GetBytes(text));

    [Fact]
    public void PlainTextTrimsAndSkipsBlankLines()
    {
        var file = PromptFile.Read(Write("p.txt", "  a cat \n\n\t\nsecond\r\nthird\rfourth\u00A0\n   \n"));
        Assert.Equal(PromptFileFormat.PlainText, file.Format);
        Assert.Equal([new PromptLine(1, "a cat"), new PromptLine(4, "second"), new PromptLine(5, "third"), new PromptLine(6, "fourth")], file.Prompts);
        Assert.Equal([2, 3, 7], file.BlankLines);
    }

    [Fact]
    public void ByteOrderMarkAndMissingFinalNewlineAreFine()
    {
        var file = PromptFile.Read(Write("p.txt", [0xEF, 0xBB, 0xBF, .. "one\ntwo"u8]));
        Assert.Equal(["one", "two"], file.Prompts.Select(p => p.Text));
    }

    [Fact]
    public void JsonLinesReadPromptOrCaption()
    {
        string rows = """
            {"prompt": "a cat\nwith a hat", "caption": "ignored"}

            {"caption": " caption only ", "index": 7}
            {"prompt": "   "}
            {"prompt": "caf\u00e9 \ud83d\ude80"}
            """;
        var file = PromptFile.Read(Write("p.jsonl", rows));
        Assert.Equal(PromptFileFormat.JsonLines, file.Format);
        Assert.Equal([new PromptLine(1, "a cat\nwith a hat"), new PromptLine(3, "caption only"), new PromptLine(5, "café 🚀")], file.Prompts);
        Assert.Equal([2, 4], file.BlankLines);
    }

    [Theory]
    [InlineData("{\"prompt\": \"ok\"}\n{\"text\": \"x\"}", 2, "neither")]
    [InlineData("{\"prompt\": \"ok\"}\n{\"prompt\": 3}", 2, "not a string")]
    [InlineData("{\"prompt\": \"ok\"}\n{\"prompt\": \"x\"", 2, "JSON")]
    [InlineData("[\"a\"]", 1, "JSON object")]
    [InlineData("{\"prompt\": \"a\\ud800\"}", 1, "not valid text")]
    public void BadJsonRowsNameTheLine(string rows, int line, string problem)
    {
        string path = Write("bad.jsonl", rows);
        var e = Assert.Throws<PromptFileException>(() => PromptFile.Read(path));
        Assert.Equal(line, e.LineNumber);
        Assert.Contains(path, e.Message);
        Assert.Contains($"line {line}", e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void NonUtf8BytesNameFileAndLine()
    {
        string path = Write("latin1.txt", [.. "fine\nalso fine\ncaf"u8, 0xE9, .. " au lait\n"u8]);
        var e = Assert.Throws<PromptFileException>(() => PromptFile.Read(path));
        Assert.Equal(3, e.LineNumber);
        Assert.Equal(path, e.FilePath);
        Assert.Contains("UTF-8", e.Message);
        Assert.Contains("0xE9", e.Message);
    }

    [Fact]
    public void EmptyFilesAreRejected()
    {
        string empty = Write("empty.txt", []);
        Assert.Contains("empty", Assert.Throws<PromptFileException>(() => PromptFile.Read(empty)).Message);
        string bom = Write("bom.txt", [0xEF, 0xBB, 0xBF]);
        Assert.Contains("empty", Assert.Throws<PromptFileException>(() => PromptFile.Read(bom)).Message);
        string blank = Write("blank.txt", "\n  \n\t\n");
        Assert.Contains("no prompts", Assert.Throws<PromptFileException>(() => PromptFile.Read(blank)).Message);
    }

    [Fact]
    public void MissingFileIsNamed()
    {
        string path = Path.Combine(folder, "nope.txt");
        var e = Assert.Throws<PromptFileException>(() => PromptFile.Read(path));
        Assert.Equal(path, e.FilePath);
        Assert.Contains("not found", e.Message);
    }
}
