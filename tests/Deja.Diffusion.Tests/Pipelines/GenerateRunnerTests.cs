using Deja.Diffusion.Images;
using Deja.Diffusion.IO;
using Deja.Diffusion.Pipelines;
using Deja.Diffusion.Tests.IO;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.Pipelines;

/// <summary>`deja generate`'s work (GenerateRunner, the code the CLI calls) on the tiny pipelines.</summary>
public class GenerateRunnerTests
{
    static GenerateRequest Request(string model, Func<GenerateRequest, GenerateRequest>? edit = null, string? dir = null)
    {
        var r = new GenerateRequest
        {
            ModelDirectory = TinyPipelines.Directory(model), Prompt = TinyPipelines.Prompt, Steps = 10,
            ImagePath = dir is null ? null : Path.Combine(dir, "image.png"), Seed = 1,
        };
        return edit is null ? r : edit(r);
    }

    [Theory]
    [InlineData("sd1")]
    [InlineData("sd2")]
    public void GoldenNoiseFileReproducesDiffusersFinalLatentsAndImage(string model)
    {
        // what `deja generate --model tiny-sdN --latents sdN_pipeline.safetensors --steps 10 --out … --save-latents …` does
        using var dir = new TempDir();
        var report = GenerateRunner.Run(new GenerateRequest
        {
            ModelDirectory = TinyPipelines.Directory(model), Prompt = TinyPipelines.Prompt, Steps = 10,
            LatentsPath = TinyPipelines.GoldenPath(model), ImagePath = dir.File("out/image.png"), SaveLatentsPath = dir.File("latents.safetensors"),
        });
        Assert.Equal((64, 64), (report.Height, report.Width));
        Assert.False(report.PromptTruncated);

        using var golden = TinyPipelines.Golden(model);
        using var saved = SafeTensorsFile.Open(dir.File("latents.safetensors"));
        using var scope = TensorScope.Enter();
        Assert.Equal(golden.ReadTensor("x_T").ToArray(), saved.ReadTensor("x_T").ToArray());
        TinyPipelines.Near(golden.ReadTensor("final_latents"), saved.ReadTensor("final_latents"), 1e-4, 1e-4, $"{model} saved final_latents");
        Assert.Equal(TinyPipelines.Prompt, saved.Metadata["prompt"]);
        Assert.Equal(report.Model.Id, saved.Metadata["model_id"]);
        Assert.Equal("10", saved.Metadata["steps"]);

        // the PNG is the golden image_0_1 rounded to 8 bits (off by one only where rounding ties flip)
        var png = Png.Read(dir.File("out/image.png"));
        Assert.Equal((64, 64, 3), (png.Width, png.Height, png.Channels));
        var expected = Image.FromTensor01(golden.ReadTensor("image_0_1"));
        for (int i = 0; i < png.Pixels.Length; i++)
            Assert.True(Math.Abs(png.Pixels[i] - expected.Pixels[i]) <= 1, $"pixel byte {i}: {png.Pixels[i]} vs {expected.Pixels[i]}");
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.probe", SearchOption.AllDirectories));
    }

    [Fact]
    public void SeededRunsAreReproducibleAndStartFromTheSeedsNormals()
    {
        using var dir = new TempDir();
        var pipe = TinyPipelines.Load("sd1");
        using var scope = TensorScope.Enter();
        float[] Final(long seed, string name)
        {
            GenerateRunner.Run(pipe, Request("sd1", r => r with { Seed = seed, Steps = 3, SaveLatentsPath = dir.File(name) }));
            using var f = SafeTensorsFile.Open(dir.File(name));
            Assert.Equal(Tensor.RandN(new Generator(seed), 1, 4, 16, 16).ToArray(), f.ReadTensor("x_T").ToArray());
            Assert.Equal("3", f.Metadata["steps"]);
            Assert.Equal(seed.ToString(), f.Metadata["seed"]);
            return f.ReadTensor("final_latents").ToArray();
        }
        var a = Final(5, "a.safetensors");
        Assert.Equal(a, Final(5, "b.safetensors"));
        Assert.NotEqual(a, Final(6, "c.safetensors"));
    }

    [Fact]
    public void EtaNoiseComesFromTheSeedAfterTheInitialLatents()
    {
        var pipe = TinyPipelines.Load("sd2");
        using var scope = TensorScope.Enter();
        GenerationResult Run(double eta) => pipe.Generate(new GenerationOptions { Prompt = "a horse", Seed = 9, Steps = 4, Eta = eta, Decode = false });
        using var a = Run(1); using var b = Run(1); using var deterministic = Run(0);
        Assert.Equal(a.InitialLatents.ToArray(), deterministic.InitialLatents.ToArray());
        Assert.Equal(a.FinalLatents.ToArray(), b.FinalLatents.ToArray());
        Assert.NotEqual(a.FinalLatents.ToArray(), deterministic.FinalLatents.ToArray());
        Assert.Null(a.Decoded);
        Assert.Throws<InvalidOperationException>(() => a.ToImage());
    }

    [Fact]
    public void SizeComesFromOptionsOrLatentsAndNonSquareImagesWork()
    {
        var pipe = TinyPipelines.Load("sd1");
        using var scope = TensorScope.Enter();
        using var r = pipe.Generate(new GenerationOptions { Prompt = "x", Seed = 2, Steps = 2, Height = 32, Width = 48 });
        Assert.Equal([1, 4, 8, 12], r.FinalLatents.Shape);
        Assert.Equal([1, 3, 32, 48], r.Image01!.Shape);
        using var fromLatents = pipe.Generate(new GenerationOptions { Prompt = "x", Steps = 2, InitialLatents = r.InitialLatents });
        Assert.Equal(r.FinalLatents.ToArray(), fromLatents.FinalLatents.ToArray());
        Assert.Equal(64, pipe.DefaultImageSize);
        Assert.Equal(4, pipe.VaeScaleFactor);
    }

    [Fact]
    public void StepCallbackSeesEveryStepWithItsTensors()
    {
        var pipe = TinyPipelines.Load("sd1");
        using var scope = TensorScope.Enter();
        var seen = new List<string>();
        using var r = pipe.Generate(new GenerationOptions { Prompt = "x", Seed = 3, Steps = 4, Decode = false }, s =>
        {
            Assert.All(new[] { s.UNetUncond, s.UNetCond, s.Guided, s.Latents }, t => Assert.Equal([1, 4, 16, 16], t.Shape));
            double norm = Math.Sqrt(s.UNetCond.ToArray().Zip(s.UNetUncond.ToArray(), (c, u) => (double)(c - u) * (c - u)).Sum());
            Assert.Equal(norm, s.TextNoiseNorm, 5);
            seen.Add($"{s.Completed}/{s.Total}@{s.Timestep}");
        });
        Assert.Equal(["1/4@751", "2/4@501", "3/4@251", "4/4@1"], seen);
        Assert.Equal([751, 501, 251, 1], r.Timesteps);
        Assert.Equal(4, r.TextNoiseNorms.Length);
    }

    // ------------------------------------------------------------------ latents files

    [Fact]
    public void LatentsFileTakesXT_TheOnlyTensor_OrTheNamedOne()
    {
        using var dir = new TempDir();
        using var scope = TensorScope.Enter();
        var x = Tensor.RandN(new Generator(4), 4, 16, 16);
        SafeTensorsWriter.Write(dir.File("single.safetensors"), [("noise", x)]);
        var single = LatentsFile.ReadInitial(dir.File("single.safetensors"));
        Assert.Equal([1, 4, 16, 16], single.Shape); // [C,h,w] read as [1,C,h,w]
        Assert.Equal(x.ToArray(), single.ToArray());

        SafeTensorsWriter.Write(dir.File("two.safetensors"), [("a", x), ("b", x * 2f)]);
        var e = Assert.Throws<DejaException>(() => LatentsFile.ReadInitial(dir.File("two.safetensors")));
        Assert.Contains("--latents-key", e.Message);
        Assert.Contains("a, b", e.Message);
        Assert.Equal((x * 2f).ToArray(), LatentsFile.ReadInitial(dir.File("two.safetensors"), "b").ToArray());
        Assert.Contains("no tensor 'c'", Assert.Throws<DejaException>(() => LatentsFile.ReadInitial(dir.File("two.safetensors"), "c")).Message);
        Assert.Contains("I64", Assert.Throws<DejaException>(() => LatentsFile.ReadInitial(TinyPipelines.GoldenPath("sd1"), "timesteps")).Message);
        Assert.Throws<DejaException>(() => LatentsFile.ReadInitial(dir.File("missing.safetensors")));
    }

    [Fact]
    public void WrongLatentsShapeNamesExpectedAndActual()
    {
        using var dir = new TempDir();
        var never = dir.File("never.safetensors");
        var golden = TinyPipelines.GoldenPath("sd1");
        var unetGolden = TestData.Golden("golden", "sd1_unet.safetensors");
        var e = Assert.Throws<ArgumentException>(() => GenerateRunner.Run(Request("sd1", r => r with { Seed = null, LatentsPath = unetGolden, LatentsKey = "latents", SaveLatentsPath = never })));
        Assert.Contains("[1,4,16,16]", e.Message);
        Assert.Contains("got [2,4,16,16]", e.Message);
        e = Assert.Throws<ArgumentException>(() => GenerateRunner.Run(Request("sd1", r => r with { LatentsPath = golden, Height = 128, SaveLatentsPath = never })));
        Assert.Contains("[1,4,32,16] for a 128×64 image, got [1,4,16,16]", e.Message);
        Assert.Empty(Directory.GetFiles(dir.Path));

        var pipe = TinyPipelines.Load("sd1");
        using var scope = TensorScope.Enter();
        var nan = Tensor.Zeros(1, 4, 16, 16);
        nan.Span[7] = float.NaN;
        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => pipe.Generate(new GenerationOptions { Prompt = "x", InitialLatents = nan })).Message);
    }

    // ------------------------------------------------------------------ bad input

    [Theory]
    [InlineData("steps0", "--steps must be at least 1")]
    [InlineData("guidanceNaN", "--guidance must be a finite number")]
    [InlineData("guidanceNegative", "--guidance must be a finite number")]
    [InlineData("eta2", "--eta must be between 0 and 1")]
    [InlineData("noSeed", "give --seed, or --latents")]
    [InlineData("etaWithoutSeed", "--eta > 0")]
    [InlineData("jpeg", "--out must name a .png file")]
    [InlineData("keyWithoutLatents", "--latents-key needs --latents")]
    [InlineData("nothingToWrite", "nothing to write")]
    [InlineData("height", "must be positive multiples of 4")]
    public void BadSettingsFailWithOneClearMessage(string what, string message)
    {
        using var dir = new TempDir();
        var request = Request("sd1", r => what switch
        {
            "steps0" => r with { Steps = 0 },
            "guidanceNaN" => r with { Guidance = double.NaN },
            "guidanceNegative" => r with { Guidance = -1 },
            "eta2" => r with { Eta = 2 },
            "noSeed" => r with { Seed = null },
            "etaWithoutSeed" => r with { Seed = null, Eta = 0.5, LatentsPath = TinyPipelines.GoldenPath("sd1") },
            "jpeg" => r with { ImagePath = dir.File("a.jpg") },
            "keyWithoutLatents" => r with { LatentsKey = "x_T" },
            "nothingToWrite" => r with { ImagePath = null },
            "height" => r with { Height = 66 },
            _ => throw new ArgumentException(what),
        }, dir.Path);
        var e = Assert.Throws<ArgumentException>(() => GenerateRunner.Run(request));
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain("\n", e.Message);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    /// <summary>The step count usually comes from the default: the message names the scheduler's limit and the option.</summary>
    [Fact]
    public void MoreStepsThanTheSchedulerHasTimestepsNamesTheScheduler()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<DejaException>(() => GenerateRunner.Run(Request("sd1", r => r with { Steps = 5000 }, dir.Path)));
        Assert.Contains("5000 DDIM steps (--steps, default 50)", e.Message);
        Assert.Contains("(1000, num_train_timesteps in scheduler/scheduler_config.json); give --steps 1000 or fewer", e.Message);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    /// <summary>
    /// The outputs are renamed into place, and renaming over /dev/null would replace the device. Tested
    /// with a named pipe in a temporary folder, which the test may harmlessly destroy if the check fails.
    /// </summary>
    [Fact]
    public void ASpecialFileAsOutputIsRefusedBeforeTheModelLoads()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var dir = new TempDir();
        var fifo = dir.File("pipe.safetensors");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo])) mkfifo.WaitForExit();
        var e = Assert.Throws<DejaException>(() => GenerateRunner.Run(Request("sd1", r => r with { SaveLatentsPath = fifo })));
        Assert.Contains("is not a regular file", e.Message);
        Assert.Equal(FileKind.Pipe, FileKinds.Of(fifo));
    }

    [Fact]
    public void MissingOrUnusableModelFolderIsReported()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<DirectoryNotFoundException>(() => GenerateRunner.Run(Request("sd1", r => r with { ModelDirectory = dir.File("nope") }, dir.Path)));
        Assert.Contains("does not exist", e.Message);
        var bad = Assert.Throws<DejaException>(() => GenerateRunner.Run(Request("sd1", r => r with { ModelDirectory = dir.Path }, dir.Path)));
        Assert.Contains("model_index.json is missing", bad.Message);
    }

    [Fact]
    public void UnwritableOutputFailsBeforeTheModelLoads()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("file"), "");
        var e = Assert.Throws<IOException>(() => GenerateRunner.Run(Request("sd1", r => r with { ImagePath = dir.File("file/sub/image.png") })));
        Assert.Contains("cannot write", e.Message);
        Assert.Contains("is a folder", Assert.Throws<ArgumentException>(() => GenerateRunner.Run(Request("sd1", r => r with { ImagePath = dir.Path + ".png", SaveLatentsPath = dir.Path }))).Message);
    }
}
