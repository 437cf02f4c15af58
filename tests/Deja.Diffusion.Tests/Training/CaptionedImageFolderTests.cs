using Deja.Diffusion.Images;
using Deja.Diffusion.IO;
using Deja.Diffusion.Text;
using Deja.Diffusion.Training;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.Training;

public class CaptionedImageFolderTests
{
    internal static string MakeFolder(int size = 16)
    {
        var dir = Directory.CreateTempSubdirectory("deja-data-").FullName;
        Directory.CreateDirectory(Path.Combine(dir, "images"));
        var rows = new List<string>();
        (string Name, byte R, byte G, byte B, int Repeats)[] colours = [("red", 255, 0, 0, 5), ("green", 0, 255, 0, 1), ("blue", 0, 0, 255, 1), ("white", 255, 255, 255, 1)];
        foreach (var c in colours)
        {
            var image = new Image(size, size, 3);
            for (int i = 0; i < size * size; i++) { image.Pixels[3 * i] = c.R; image.Pixels[3 * i + 1] = c.G; image.Pixels[3 * i + 2] = c.B; }
            Png.Write(Path.Combine(dir, "images", c.Name + ".png"), image);
            rows.Add($$"""{"file":"images/{{c.Name}}.png","caption":"a {{c.Name}} square","repeats":{{c.Repeats}}}""");
        }
        File.WriteAllLines(Path.Combine(dir, "captions.jsonl"), rows);
        return dir;
    }

    [Fact]
    public void LoadsImagesInMinusOneToOneWithRepeats()
    {
        var dir = MakeFolder();
        try
        {
            var data = CaptionedImageFolder.Load(dir, 16);
            Assert.Equal(4, data.Examples.Count);
            Assert.Equal(5, data.Examples[0].Repeats);
            Assert.Equal("a red square", data.Examples[0].Caption);
            Assert.Equal(1f, data.Examples[0].Pixels[0]);
            Assert.Equal(-1f, data.Examples[0].Pixels[256]);
            Assert.Empty(data.Skipped);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void BadFoldersAreReportedWithCounts()
    {
        var dir = MakeFolder();
        try
        {
            File.Delete(Path.Combine(dir, "images", "green.png"));
            File.WriteAllBytes(Path.Combine(dir, "images", "blue.png"), [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
            File.AppendAllLines(Path.Combine(dir, "captions.jsonl"), ["{\"caption\": \"no file\"}"]);
            var e = Assert.Throws<DejaException>(() => CaptionedImageFolder.Load(dir, 16));
            Assert.Contains("1 missing images", e.Message);
            Assert.Contains("1 unreadable PNGs", e.Message);
            Assert.Contains("1 malformed rows", e.Message);
            var kept = CaptionedImageFolder.Load(dir, 16, skipBad: true);
            Assert.Equal(2, kept.Examples.Count);
            Assert.Equal(3, kept.Skipped.Count);
            Assert.Contains("images of the wrong size", Assert.Throws<DejaException>(() => CaptionedImageFolder.Load(dir, 32, skipBad: false)).Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void ExportWritesTheDiffusersLayoutInF16()
    {
        var dir = MakeFolder();
        var model = Directory.CreateTempSubdirectory("deja-model-").FullName;
        try
        {
            var trainer = new Trainer(MiniConfig.Toy(), new TrainerOptions { Steps = 2, BatchSize = 4 }, ClipTokenizer.Load(TestData.Golden("tiny-sd1", "tokenizer")));
            trainer.Train(CaptionedImageFolder.Load(dir, 16).Examples);
            trainer.UseEmaWeights();
            TrainedModelExport.Save(trainer, model, TestData.Golden("tiny-sd1", "tokenizer"));
            foreach (var f in new[] { "model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors", "text_encoder/config.json",
                                      "text_encoder/model.safetensors", "tokenizer/vocab.json", "tokenizer/merges.txt", "scheduler/scheduler_config.json" })
                Assert.True(File.Exists(Path.Combine(model, f)), f);
            Assert.False(Directory.Exists(Path.Combine(model, ".export-tmp")));
            var config = UNet2DConditionConfig.Load(Path.Combine(model, "unet", "config.json"));
            Assert.Equal(MiniConfig.Toy().UNet.BlockOutChannels, config.BlockOutChannels);
            Assert.Equal(3, config.InChannels);
            using var weights = SafeTensorsFile.Open(Path.Combine(model, "unet", "diffusion_pytorch_model.safetensors"));
            var name = trainer.UNet.NamedParameters().First().Name;
            Assert.Equal(SafeTensorsDType.F16, weights.Entry(name).DType);
            var saved = weights.ReadTensor(name).ToArray();
            var original = trainer.UNet.NamedParameters().First().Value.ToArray();
            for (int i = 0; i < saved.Length; i++) Assert.Equal(original[i], saved[i], Math.Abs(original[i]) * 1e-3 + 1e-7);
        }
        finally { Directory.Delete(dir, true); Directory.Delete(model, true); }
    }
}
