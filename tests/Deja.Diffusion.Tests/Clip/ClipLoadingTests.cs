using Deja.Diffusion.IO;
using Deja.Diffusion.Models.Clip;
using Deja.Diffusion.Tests.IO;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.Clip;

/// <summary>Checkpoint keys, strict loading and bad inputs.</summary>
public class ClipLoadingTests
{
    [Theory]
    [InlineData("sd1")]
    [InlineData("sd2")]
    public void ParameterKeysAreTheCheckpointLayout(string model)
    {
        var config = ClipTextConfig.Load(TestData.Golden($"tiny-{model}", "text_encoder", "config.json"));
        var m = new ClipTextModel(config);
        var expected = CheckpointLayout.ClipText(config).ToDictionary(i => i.Name, i => i.Shape);
        var actual = m.StateDict();
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (k, t) in actual) Assert.Equal(expected[k], t.Shape);
        Assert.Contains("text_model.encoder.layers.0.self_attn.q_proj.weight", actual.Keys);
        Assert.DoesNotContain(actual.Keys, k => k.Contains("position_ids", StringComparison.Ordinal));
    }

    [Fact]
    public void MissingKeyIsNamed()
    {
        var e = LoadAltered(d => d.Remove("text_model.encoder.layers.1.mlp.fc2.bias"));
        Assert.Contains("missing tensor 'text_model.encoder.layers.1.mlp.fc2.bias'", e.Message);
    }

    [Fact]
    public void UnexpectedKeyIsNamed()
    {
        var e = LoadAltered(d => d["text_model.embeddings.position_ids"] = Tensor.Arange(77));
        Assert.Contains("unexpected tensor 'text_model.embeddings.position_ids'", e.Message);
    }

    [Fact]
    public void WrongShapeIsNamed()
    {
        var e = LoadAltered(d => d["text_model.final_layer_norm.weight"] = Tensor.Ones(31));
        Assert.Contains("'text_model.final_layer_norm.weight': file has [31], model expects [32]", e.Message);
    }

    /// <summary>Writes tiny-sd1's text encoder weights with one change and loads them strictly.</summary>
    static DejaException LoadAltered(Action<Dictionary<string, Tensor>> alter)
    {
        var config = ClipTextConfig.Load(TestData.Golden("tiny-sd1", "text_encoder", "config.json"));
        Dictionary<string, Tensor> tensors;
        using (var f = SafeTensorsFile.Open(TestData.Golden("tiny-sd1", "text_encoder", "model.safetensors")))
            tensors = f.ReadTensors();
        alter(tensors);
        using var dir = new TempDir();
        SafeTensorsWriter.Write(dir.File("model.safetensors"), tensors.Select(kv => (kv.Key, kv.Value)));
        return Assert.Throws<DejaException>(() => TextEncoder.LoadModel(config, dir.File("model.safetensors")));
    }

    [Fact]
    public void UnsupportedConfigIsRejected()
    {
        var e = Assert.Throws<DejaException>(() => new ClipTextModel(ClipTextConfigs.Tiny(act: "relu")));
        Assert.Contains("hidden_act 'relu'", e.Message);
    }

    [Fact]
    public void BadInputsGiveClearMessages()
    {
        var m = new ClipTextModel(ClipTextConfigs.Tiny());
        Assert.Contains("outside the vocabulary", Assert.Throws<ArgumentOutOfRangeException>(() => m.Forward([[0, 20]])).Message);
        Assert.Contains("outside the vocabulary", Assert.Throws<ArgumentOutOfRangeException>(() => m.Forward([[0, -1]])).Message);
        Assert.Contains("1 to 6 ids", Assert.Throws<ArgumentException>(() => m.Forward([[0, 1, 2, 3, 4, 5, 6]])).Message);
        Assert.Contains("1 to 6 ids", Assert.Throws<ArgumentException>(() => m.Forward([Array.Empty<int>()])).Message);
        Assert.Contains("equal lengths", Assert.Throws<ArgumentException>(() => m.Forward([[0, 1], [0]])).Message);
        Assert.Contains("batch of 0", Assert.Throws<ArgumentException>(() => m.Forward(Array.Empty<int[]>())).Message);
        using var ids1 = Tensor.FromArray([0f, 1.5f], 1, 2);
        Assert.Contains("not a whole number", Assert.Throws<ArgumentException>(() => m.Forward(ids1)).Message);
        using var ids3 = Tensor.Zeros(1, 1, 2);
        Assert.Contains("[B, L]", Assert.Throws<ArgumentException>(() => m.Forward(ids3)).Message);
        using var wrongWidth = Tensor.Zeros(1, 3, 7);
        Assert.Contains("inputs_embeds must be [B, L, 8]", Assert.Throws<ArgumentException>(() => m.ForwardEmbeds(wrongWidth)).Message);
        using var fine = Tensor.Zeros(1, 3, 8);
        Assert.Contains("clip_skip", Assert.Throws<ArgumentOutOfRangeException>(() => m.ForwardEmbeds(fine, clipSkip: 3)).Message);
        Assert.Contains("needs token ids", Assert.Throws<ArgumentException>(() => m.ForwardEmbeds(fine, new ClipTextOptions { OutputPooler = true })).Message);
        using var hidden = Tensor.Zeros(2, 3, 8);
        Assert.Contains("do not match ids", Assert.Throws<ArgumentException>(() => m.Pool(hidden, [[0, 1, 2]])).Message);
    }
}
