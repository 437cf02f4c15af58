using Deja.Diffusion.IO;
using Deja.Diffusion.Pipelines;
using Deja.Diffusion.Tests.IO;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.Pipelines;

/// <summary>
/// Issue 12 §5: a damaged UNet weights file (one NaN weight, or bytes overwritten in the data area) used
/// to load, score with exit code 0 and keep the model id of the undamaged file.
/// </summary>
public class DamagedWeightsTests
{
    static (string Root, string Weights, long DataStart) Copy(TempDir dir)
    {
        var source = TestData.Golden("tiny-sd1");
        var root = Path.Combine(dir.Path, "tiny-sd1");
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var to = Path.Combine(root, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to);
        }
        var weights = Path.Combine(root, "unet", "diffusion_pytorch_model.safetensors");
        using var f = SafeTensorsFile.Open(weights);
        return (root, weights, f.DataStart + f.Entries[^1].Begin); // the last tensor: far from the header
    }

    [Fact]
    public void OneNaNWeightIsRefusedAtLoadNamingTheFileAndTensor()
    {
        using var dir = new TempDir();
        var (root, weights, at) = Copy(dir);
        var bytes = File.ReadAllBytes(weights);
        BitConverter.GetBytes(float.NaN).CopyTo(bytes, at);
        File.WriteAllBytes(weights, bytes);
        var e = Assert.Throws<DejaException>(() => StableDiffusionPipeline.Load(root));
        Assert.Contains("diffusion_pytorch_model.safetensors", e.Message);
        Assert.Contains("non-finite value (NaN at element 0)", e.Message);
    }

    [Fact]
    public void OverwrittenFiniteWeightsChangeTheModelId()
    {
        using var dir = new TempDir();
        var (root, weights, at) = Copy(dir);
        var original = StableDiffusionPipeline.Load(root).Info.Id;
        var bytes = File.ReadAllBytes(weights);
        BitConverter.GetBytes(0.125f).CopyTo(bytes, at);
        File.WriteAllBytes(weights, bytes);
        var damaged = StableDiffusionPipeline.Load(root);
        Assert.NotEqual(original, damaged.Info.Id);
        Assert.Equal(damaged.Info, ModelInfo.Of(PipelineFolder.Open(root))); // hashed while loading = hashed on its own
    }
}
