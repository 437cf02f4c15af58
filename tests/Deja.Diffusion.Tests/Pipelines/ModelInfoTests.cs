using Deja.Diffusion.IO;
using Deja.Diffusion.Pipelines;
using Deja.Diffusion.Tests.IO;

namespace Deja.Diffusion.Tests.Pipelines;

public class ModelInfoTests
{
    [Fact]
    public void TinyPipelinesHaveDistinctStableIdentities()
    {
        var sd1 = ModelInfo.Of(PipelineFolder.Open(TinyPipelines.Directory("sd1")));
        var sd2 = ModelInfo.Of(PipelineFolder.Open(TinyPipelines.Directory("sd2")));
        Assert.Equal(sd1, ModelInfo.Of(PipelineFolder.Open(TinyPipelines.Directory("sd1"))));
        Assert.NotEqual(sd1.Id, sd2.Id);
        Assert.Matches("^[0-9a-f]{16}$", sd1.Id);
        Assert.Equal(("StableDiffusionPipeline", "epsilon", "v_prediction"), (sd1.PipelineClass, sd1.PredictionType, sd2.PredictionType));
        Assert.StartsWith("sha256s:", sd1.UNetFingerprint);
        Assert.Equal(new FileInfo(TestData.Golden("tiny-sd1", "unet", "diffusion_pytorch_model.safetensors")).Length, sd1.UNetBytes);
        Assert.Equal(sd1.Id, sd1.ToMetadata()["model_id"]);
        Assert.Equal(sd1, TinyPipelines.Load("sd1").Info);
    }

    [Fact]
    public void FingerprintSeesHeaderSampledBlocksAndLength()
    {
        using var dir = new TempDir();
        var path = dir.File("w.safetensors");
        var bytes = new byte[5 << 20];
        new Random(1).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        var original = ModelInfo.Fingerprint(path);
        Assert.Equal(original, ModelInfo.Fingerprint(path));

        string Changed(Action<byte[]> edit)
        {
            var copy = (byte[])bytes.Clone();
            edit(copy);
            File.WriteAllBytes(path, copy);
            return ModelInfo.Fingerprint(path);
        }
        Assert.NotEqual(original, Changed(b => b[100] ^= 1));             // header region
        Assert.NotEqual(original, Changed(b => b[^1] ^= 1));              // the last sampled block ends the file
        Assert.NotEqual(original, Changed(b => b[b.Length / 2 + 1000] ^= 1 ));
        File.WriteAllBytes(path, bytes[..^8]);
        Assert.NotEqual(original, ModelInfo.Fingerprint(path));           // length

        // small files are hashed whole
        File.WriteAllBytes(path, bytes[..1000]);
        var small = ModelInfo.Fingerprint(path);
        var edited = bytes[..1000];
        edited[500] ^= 1;
        File.WriteAllBytes(path, edited);
        Assert.NotEqual(small, ModelInfo.Fingerprint(path));
    }
}
