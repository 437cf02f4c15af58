using Deja.Diffusion.IO;
using Deja.Diffusion.Pipelines;
using Deja.Diffusion.Text;
using Deja.Diffusion.Training;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.Training;

/// <summary>A trained mini model round-trips through the diffusers layout and the ordinary pipeline loader (pixel space, no VAE).</summary>
public class PixelSpacePipelineTests
{
    [Fact]
    public void SavedMiniModelLoadsAndGenerates()
    {
        var data = CaptionedImageFolderTests.MakeFolder();
        var dir = Directory.CreateTempSubdirectory("deja-pixel-").FullName;
        try
        {
            var tokenizer = TestData.Golden("tiny-sd1", "tokenizer");
            var trainer = new Trainer(MiniConfig.Toy(), new TrainerOptions { Steps = 3, BatchSize = 4 }, ClipTokenizer.Load(tokenizer));
            trainer.Train(CaptionedImageFolder.Load(data, 16).Examples);
            trainer.UseEmaWeights();
            TrainedModelExport.Save(trainer, dir, tokenizer);

            var folder = PipelineFolder.Open(dir);
            Assert.True(folder.IsPixelSpace);
            var pipe = StableDiffusionPipeline.Load(folder);
            Assert.Null(pipe.Vae);
            Assert.Equal(1, pipe.VaeScaleFactor);
            Assert.Equal(16, pipe.DefaultImageSize);
            Assert.Equal("none", pipe.Info.VaeFingerprint);
            var weight = trainer.UNet.NamedParameters().First();
            var loaded = pipe.UNet.NamedParameters().First(p => p.Name == weight.Name).Value.ToArray();
            var original = weight.Value.ToArray();
            for (int i = 0; i < loaded.Length; i++) Assert.Equal(original[i], loaded[i], Math.Abs(original[i]) * 1e-3 + 1e-7); // F16 storage
            var result = pipe.Generate(new GenerationOptions { Prompt = "a red square", Seed = 1, Steps = 3 });
            Assert.Equal([1, 3, 16, 16], result.Image01!.Shape);
            Assert.All(result.Image01.ToArray(), v => Assert.InRange(v, 0f, 1f));

            // n generations in one batch equal one-by-one generation
            using var embeds = pipe.EncodePrompts("a red square");
            var x = Deja.Tensors.Tensor.RandN(new Deja.Tensors.Generator(3), 2, 3, 16, 16);
            var batch = pipe.DenoiseBatch(embeds.Embeddings, x, 4, 7.5).ToArray();
            for (int j = 0; j < 2; j++)
            {
                var single = pipe.Denoise(embeds.Embeddings, Deja.Tensors.Ops.Narrow(x, 0, j, 1), 4, 7.5).ToArray();
                for (int i = 0; i < single.Length; i++) Assert.Equal(single[i], batch[j * single.Length + i], 1e-4f * (1 + Math.Abs(single[i]))); // float rounding of a batched GEMM
            }

            // A folder whose model_index.json names a VAE that is not there is still refused.
            File.WriteAllText(Path.Combine(dir, "model_index.json"), File.ReadAllText(Path.Combine(dir, "model_index.json"))
                .Replace("\"vae\": [\n    null,\n    null\n  ]", "\"vae\": [\"diffusers\", \"AutoencoderKL\"]"));
            Assert.Contains("vae/", Assert.Throws<DejaException>(() => PipelineFolder.Open(dir)).Message);
        }
        finally { Directory.Delete(data, true); Directory.Delete(dir, true); }
    }
}
