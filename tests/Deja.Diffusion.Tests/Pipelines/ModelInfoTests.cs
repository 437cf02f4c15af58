using Deja.Diffusion.IO;
using Deja.Diffusion.Pipelines;
using Deja.Diffusion.Tests.IO;
using Deja.Tensors;

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
        Assert.Matches("^[0-9a-f]{32}$", sd1.Id);
        Assert.False(ModelInfo.IsSampledHashId(sd1.Id));
        Assert.Equal(("StableDiffusionPipeline", "epsilon", "v_prediction"), (sd1.PipelineClass, sd1.PredictionType, sd2.PredictionType));
        Assert.Matches("^xxh3c:[0-9a-f]{16}$", sd1.UNetFingerprint);
        Assert.Equal(new FileInfo(TestData.Golden("tiny-sd1", "unet", "diffusion_pytorch_model.safetensors")).Length, sd1.UNetBytes);
        Assert.Equal(sd1.Id, sd1.ToMetadata()["model_id"]);
        // hashed while loading, the same as hashing the files on their own
        Assert.Equal(sd1, TinyPipelines.Load("sd1").Info);
    }

    [Fact]
    public void OldSampledIdsAreRecognized()
    {
        Assert.True(ModelInfo.IsSampledHashId("b1e27090c69fda4c"));
        Assert.False(ModelInfo.IsSampledHashId("analytic-0123456789abcdef"));
        Assert.False(ModelInfo.IsSampledHashId("B1E27090C69FDA4C"));
    }

    /// <summary>
    /// Issue 12 §5: the old id hashed 1 MiB plus 16 sampled blocks, so bytes overwritten elsewhere in a
    /// large weights file kept the id. The content hash sees every byte of every tensor.
    /// </summary>
    [Fact]
    public void ContentHashSeesEveryWeightButNotTheMetadata()
    {
        using var dir = new TempDir();
        var path = dir.File("w.safetensors");
        using var big = Tensor.FromArray(Enumerable.Range(0, 3 << 20).Select(i => (float)Math.Sin(i)).ToArray(), 3 << 20); // 12 MiB: several chunks
        using var small = Tensor.FromArray([1f, 2f, 3f], 3);
        SafeTensorsWriter.Write(path, [("big", big), ("small", small)], new Dictionary<string, string> { ["format"] = "pt" });
        ulong Hash(string p) { using var f = SafeTensorsFile.Open(p); return f.ContentHash(); }
        ulong original = Hash(path);
        var bytes = File.ReadAllBytes(path);
        long dataStart;
        using (var f = SafeTensorsFile.Open(path)) dataStart = f.DataStart;

        foreach (long at in new[] { dataStart + 4, dataStart + (5L << 20) + 12, bytes.Length - 2 })
        {
            var edited = (byte[])bytes.Clone();
            edited[at] ^= 0x01; // a low mantissa bit: still a finite, plausible weight
            var copy = dir.File($"edited-{at}.safetensors");
            File.WriteAllBytes(copy, edited);
            Assert.NotEqual(original, Hash(copy));
        }

        // the same tensors with other metadata (and so another header) are the same model
        var other = dir.File("other-metadata.safetensors");
        SafeTensorsWriter.Write(other, [("big", big), ("small", small)], new Dictionary<string, string> { ["format"] = "pt", ["note"] = "re-saved" });
        Assert.Equal(original, Hash(other));

        // reading the tensors (hashing while loading) gives the same value as hashing from the file
        using (var f = SafeTensorsFile.Open(path))
        {
            f.ReadTensors().Values.ToList().ForEach(t => t.Dispose());
            Assert.Equal(original, f.ContentHash());
        }
        using (var f = SafeTensorsFile.Open(path, SafeTensorsReadMode.MemoryMap))
        {
            f.ReadTensor("big").Dispose();
            Assert.Equal(original, f.ContentHash());
        }
    }
}
