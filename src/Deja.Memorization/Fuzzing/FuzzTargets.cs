namespace Deja.Memorization.Fuzzing;

/// <summary>Every kind of file from outside that Deja reads, by command-line name.</summary>
public static class FuzzTargets
{
    public static IReadOnlyList<string> Names => Create().Select(t => t.Name).ToList();

    /// <summary>Fresh targets (they keep state between Prepare and Consume; use each for one run).</summary>
    public static List<FuzzTarget> Create() =>
    [
        new SafeTensorsTarget(),
        new LatentsTarget(),
        new PipelineConfigTarget("model-index", "model_index.json"),
        new PipelineConfigTarget("text-encoder-config", "text_encoder/config.json"),
        new PipelineConfigTarget("unet-config", "unet/config.json"),
        new PipelineConfigTarget("vae-config", "vae/config.json"),
        new PipelineConfigTarget("scheduler-config", "scheduler/scheduler_config.json"),
        new TokenizerTarget("vocab", "vocab.json"),
        new TokenizerTarget("merges", "merges.txt"),
        new TokenizerTarget("tokenizer-config", "tokenizer_config.json"),
        new PngTarget(),
        new PromptFileTarget("prompts-txt", "prompts.txt"),
        new PromptFileTarget("prompts-jsonl", "prompts.jsonl"),
        new ScoresTarget(),
        new ForeignScoresTarget("scores-csv", "scores.csv"),
        new ForeignScoresTarget("scores-flat-jsonl", "flat.jsonl"),
        new CalibrationTarget(),
    ];

    /// <summary>The target named <paramref name="name"/>; a DejaException lists the names otherwise.</summary>
    public static FuzzTarget Create(string name) =>
        Create().FirstOrDefault(t => t.Name == name)
        ?? throw new Deja.Tensors.DejaException($"fuzz: unknown target '{name}' (targets: {string.Join(", ", Names)}, or all)");
}
