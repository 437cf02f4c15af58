using Deja.Diffusion.Text;

namespace Deja.Memorization.Fuzzing;

/// <summary>
/// Prompt lists (one prompt per line, or JSON lines with a prompt/caption field): read as detect and
/// replicate read them, then every prompt tokenized (ftfy, CLIP's word pattern, BPE) with the micro tokenizer.
/// </summary>
internal sealed class PromptFileTarget(string name, string file) : FuzzTarget
{
    ClipTokenizer? tokenizer;

    public override string Name => name;
    public override string DeeperStage => "past parsing into BPE encoding";
    public override string FileName => file;

    public override IReadOnlyList<FuzzMutation> Mutations { get; } = file.EndsWith(".jsonl", StringComparison.Ordinal)
        ? [JsonMutations.EditLine, JsonMutations.EditLine, .. LineMutations.All]
        : LineMutations.All;

    public override IReadOnlyList<byte[]> Prepare(string workDir)
    {
        var tokenizerFolder = Path.Combine(workDir, "tokenizer");
        MicroTokenizer.Write(tokenizerFolder);
        tokenizer = ClipTokenizer.Load(tokenizerFolder);
        string[] prompts =
        [
            "a photo of the cat on the beach", "  Portrait of an astronaut riding a horse, oil on canvas  ", "",
            "caf\u00e9 au lait \u2014 \u201cquoted\u201d", "\u4e2d\u6587\u63d0\u793a", "emoji \ud83d\ude00 and &amp; entity", "tab\there",
        ];
        var text = System.Text.Encoding.UTF8;
        if (file.EndsWith(".jsonl", StringComparison.Ordinal))
            return
            [
                text.GetBytes(string.Join("\n", prompts.Select((p, i) => i % 3 == 2
                    ? System.Text.Json.JsonSerializer.Serialize(new { caption = p, id = i })
                    : System.Text.Json.JsonSerializer.Serialize(new { prompt = p, seed = i }))) + "\n"),
                text.GetBytes("{\"prompt\": \"line one\\nline two\"}\r\n\r\n{\"prompt\": \"x\", \"caption\": \"ignored\"}"),
            ];
        return [text.GetBytes(string.Join("\n", prompts) + "\n"), text.GetBytes("\ufeffone\r\ntwo\r\rthree")];
    }

    public override void Consume(string path, FuzzProbe probe)
    {
        var prompts = PromptFile.Read(path);
        probe.Deeper();
        foreach (var p in prompts.Prompts) tokenizer!.EncodePadded(p.Text);
    }
}
