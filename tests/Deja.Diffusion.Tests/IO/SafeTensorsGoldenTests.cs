using System.Security.Cryptography;
using System.Text.Json;
using Deja.Diffusion.IO;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.IO;

/// <summary>Every golden and model-weight file reads completely and matches manifest.json and the configs.</summary>
public class SafeTensorsGoldenTests
{
    static JsonElement Manifest { get; } = JsonDocument.Parse(File.ReadAllText(TestData.Golden("manifest.json"))).RootElement;

    public static TheoryData<string> GoldenFiles()
    {
        var d = new TheoryData<string>();
        foreach (var f in Manifest.GetProperty("files").EnumerateObject()) d.Add(f.Name);
        return d;
    }

    static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    [Theory]
    [MemberData(nameof(GoldenFiles))]
    public void GoldenFileMatchesManifest(string relative)
    {
        var info = Manifest.GetProperty("files").GetProperty(relative);
        var path = TestData.Golden(relative.Split('/'));
        Assert.Equal(info.GetProperty("sha256").GetString(), Sha256(path));

        using var file = SafeTensorsFile.Open(path);
        var expected = info.GetProperty("tensors").EnumerateObject().ToList();
        Assert.Equal(expected.Select(e => e.Name).Order(StringComparer.Ordinal), file.Names.Order(StringComparer.Ordinal));
        Assert.Equal("pt", file.Metadata["format"]);
        foreach (var e in expected)
        {
            var entry = file.Entry(e.Name);
            var shape = e.Value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            Assert.Equal(shape, entry.Shape);
            switch (e.Value.GetProperty("dtype").GetString())
            {
                case "float32":
                    Assert.Equal(SafeTensorsDType.F32, entry.DType);
                    using (var t = file.ReadTensor(e.Name))
                    {
                        Assert.Equal(shape, t.Shape);
                        Assert.True(t.ReadOnlySpan.ToArray().All(float.IsFinite), $"{e.Name} has non-finite values");
                    }
                    break;
                case "int64":
                    Assert.Equal(SafeTensorsDType.I64, entry.DType);
                    Assert.Equal(shape, file.ReadInt64(e.Name).Shape);
                    break;
                default:
                    Assert.Fail($"unexpected manifest dtype for {e.Name}");
                    break;
            }
        }
    }

    [Fact]
    public void GoldenValuesAreTheDocumentedOnes()
    {
        using var detection = SafeTensorsFile.Open(TestData.Golden("golden", "sd1_detection.safetensors"));
        Assert.Equal(981, detection.ReadInt64("t_first").Data.Single());
        Assert.Equal(41, detection.ReadInt64("t_aniso").Data.Single());
        var steps = detection.ReadInt64("timesteps_50");
        Assert.Equal([50], steps.Shape);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => 981L - 20 * i), steps.Data);
        using var wen = detection.ReadTensor("wen_metric");
        Assert.Equal(new[] { 1.57985f, 1.76776f, 2.26351f }, wen.ToArray(), (a, b) => Math.Abs(a - b) < 1e-5f);

        using var tokens = SafeTensorsFile.Open(TestData.Golden("golden", "tokenizer.safetensors"));
        var ids = tokens.ReadInt64("ids_sd1");
        Assert.Equal(49406, ids[0, 0]);
        Assert.Contains(49407L, ids.Data);
    }

    public static TheoryData<string, string> ModelFiles() => new()
    {
        { "tiny-sd1", "text_encoder" }, { "tiny-sd1", "unet" }, { "tiny-sd1", "vae" },
        { "tiny-sd2", "text_encoder" }, { "tiny-sd2", "unet" }, { "tiny-sd2", "vae" },
    };

    /// <summary>The weights hold exactly the tensors the config implies (names, shapes, F32), and all of them read.</summary>
    [Theory]
    [MemberData(nameof(ModelFiles))]
    public void ModelWeightsMatchTheirConfig(string pipeline, string component)
    {
        var dir = TestData.Golden(pipeline, component);
        var fileName = component == "text_encoder" ? "model.safetensors" : "diffusion_pytorch_model.safetensors";
        var path = Path.Combine(dir, fileName);
        var info = Manifest.GetProperty("model_files").GetProperty($"{pipeline}/{component}/{fileName}");
        Assert.Equal(info.GetProperty("sha256").GetString(), Sha256(path));

        var config = Path.Combine(dir, "config.json");
        var layout = component switch
        {
            "text_encoder" => CheckpointLayout.ClipText(ClipTextConfig.Load(config)),
            "unet" => CheckpointLayout.UNet(UNet2DConditionConfig.Load(config)),
            _ => CheckpointLayout.Vae(AutoencoderKLConfig.Load(config)),
        };

        using var file = SafeTensorsFile.Open(path);
        using var mapped = SafeTensorsFile.Open(path, SafeTensorsReadMode.MemoryMap);
        Assert.Equal(layout.Select(l => l.Name).Order(StringComparer.Ordinal), file.Names.Order(StringComparer.Ordinal));
        foreach (var l in layout)
        {
            Assert.Equal(l.Shape, file.Entry(l.Name).Shape);
            Assert.Equal(SafeTensorsDType.F32, file.Entry(l.Name).DType);
        }

        var all = file.ReadTensors();
        try
        {
            Assert.Equal(layout.Count, all.Count);
            // The bulk parallel read and the one-at-a-time read from the memory map agree bit for bit.
            foreach (var l in layout)
                using (var one = mapped.ReadTensor(l.Name))
                    Assert.True(one.ReadOnlySpan.SequenceEqual(all[l.Name].ReadOnlySpan), l.Name);
        }
        finally
        {
            foreach (var t in all.Values) t.Dispose();
        }
    }

    [Fact]
    public void KnownWeightShapes()
    {
        using var text = SafeTensorsFile.Open(TestData.Golden("tiny-sd1", "text_encoder", "model.safetensors"));
        Assert.Equal([49408, 32], text.Entry("text_model.embeddings.token_embedding.weight").Shape);
        using var unet2 = SafeTensorsFile.Open(TestData.Golden("tiny-sd2", "unet", "diffusion_pytorch_model.safetensors"));
        Assert.Equal([16, 16], unet2.Entry("down_blocks.0.attentions.0.proj_in.weight").Shape); // linear projection
        using var unet1 = SafeTensorsFile.Open(TestData.Golden("tiny-sd1", "unet", "diffusion_pytorch_model.safetensors"));
        Assert.Equal([32, 32, 1, 1], unet1.Entry("down_blocks.0.attentions.0.proj_in.weight").Shape); // 1x1 conv
    }

    [Fact]
    public void LoadModuleFillsParametersByKey()
    {
        using var file = SafeTensorsFile.Open(TestData.Golden("tiny-sd1", "text_encoder", "model.safetensors"));
        var fc1 = new Deja.Tensors.Nn.Linear(32, 37);
        using var expectedWeight = file.ReadTensor("text_model.encoder.layers.0.mlp.fc1.weight");
        using var expectedBias = file.ReadTensor("text_model.encoder.layers.0.mlp.fc1.bias");
        file.ReadInto(new Dictionary<string, Tensor>
        {
            ["text_model.encoder.layers.0.mlp.fc1.weight"] = fc1.Weight,
            ["text_model.encoder.layers.0.mlp.fc1.bias"] = fc1.Bias!,
        }, strict: false);
        Assert.True(fc1.Weight.ReadOnlySpan.SequenceEqual(expectedWeight.ReadOnlySpan));
        Assert.True(fc1.Bias!.ReadOnlySpan.SequenceEqual(expectedBias.ReadOnlySpan));

        var e = Assert.Throws<DejaException>(() => file.LoadModule(fc1));
        Assert.Contains("missing tensor 'weight'", e.Message);
        Assert.Contains("unexpected tensor", e.Message);
        Assert.Contains("model.safetensors", e.Message);
    }
}
