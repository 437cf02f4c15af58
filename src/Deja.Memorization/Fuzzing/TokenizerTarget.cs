using Deja.Diffusion.Text;

namespace Deja.Memorization.Fuzzing;

/// <summary>
/// vocab.json or merges.txt of a tokenizer folder (the micro tokenizer): loaded as transformers'
/// CLIPTokenizer reads it, then used to encode and decode prompts through ftfy, the word pattern and BPE.
/// </summary>
internal sealed class TokenizerTarget(string name, string file) : FuzzTarget
{
    static readonly string[] Prompts =
        ["a photo of the cat on the beach, by an artist", "PORTRAIT of an astronaut riding a horse!!", "caf\u00e9 \ud83d\ude00 \u4e2d\u6587 <|endoftext|> x"];

    string folder = "";

    public override string Name => name;
    public override string DeeperStage => "past parsing into BPE encoding";
    public override string FileName => file;

    public override IReadOnlyList<FuzzMutation> Mutations { get; } = file.EndsWith(".json", StringComparison.Ordinal)
        ? [JsonMutations.EditValue, JsonMutations.EditValue, JsonMutations.DuplicateMember, LineMutations.InvalidUtf8]
        : LineMutations.All;

    public override IReadOnlyList<byte[]> Prepare(string workDir)
    {
        folder = workDir;
        var seed = MicroTokenizer.Write(workDir)[file];
        return [seed];
    }

    public override void Consume(string path, FuzzProbe probe)
    {
        var tokenizer = ClipTokenizer.Load(folder);
        probe.Deeper();
        foreach (var prompt in Prompts)
        {
            var encoding = tokenizer.EncodePadded(prompt);
            tokenizer.Decode(encoding.Ids);
        }
    }
}
