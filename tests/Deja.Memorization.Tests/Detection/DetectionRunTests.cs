using Deja.Diffusion.IO;
using Deja.Memorization.Detection;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Detection;

public class DetectionRunTests
{
    static readonly GaussianMixtureModel Model = GaussianMixtureDemo.Create(seed: 31, memorized: 2, partial: 2, normal: 3);
    static string[] Prompts => Model.Conditions.Select(c => c.Prompt).ToArray();

    [Fact]
    public void SeedPoliciesDrawWhatTheyPromise()
    {
        var same = InitialNoise.Seeded(Model.LatentShape, 2, 51, SeedPolicy.Same);
        Assert.Same(same.For(0), same.For(5));
        Assert.Equal(Tensor.RandN(new Generator(51), [2, .. Model.LatentShape]).ToArray(), same.For(3).ToArray());
        var index = InitialNoise.Seeded(Model.LatentShape, 1, 10, SeedPolicy.Index);
        Assert.Equal(Tensor.RandN(new Generator(13), [1, .. Model.LatentShape]).ToArray(), index.For(3).ToArray());
        Assert.NotEqual(index.For(0).ToArray(), index.For(1).ToArray());
        Assert.Equal("index", index.Describe()["policy"]!.GetValue<string>());
    }

    [Fact]
    public void LatentsFilesAreCheckedAndUsed()
    {
        var dir = Directory.CreateTempSubdirectory("deja-noise-").FullName;
        try
        {
            string shared = Path.Combine(dir, "shared.safetensors"), rows = Path.Combine(dir, "rows.safetensors"), wrong = Path.Combine(dir, "wrong.safetensors");
            var x = Tensor.RandN(new Generator(1), [2, .. Model.LatentShape]);
            SafeTensorsWriter.Write(shared, [("x_T", x)]);
            SafeTensorsWriter.Write(rows, [("x_T", Tensor.RandN(new Generator(2), [3, 1, .. Model.LatentShape]))]);
            SafeTensorsWriter.Write(wrong, [("x_T", Tensor.Zeros(1, 4, 16, 16))]);
            var s = InitialNoise.FromFile(shared, Model.LatentShape, promptCount: 7);
            Assert.Equal(2, s.Generations);
            Assert.Equal(x.ToArray(), s.For(4).ToArray());
            var r = InitialNoise.FromFile(rows, Model.LatentShape, promptCount: 3);
            Assert.Equal(1, r.Generations);
            Assert.NotEqual(r.For(0).ToArray(), r.For(2).ToArray());
            Assert.Contains("rows for 3 prompts", Assert.Throws<DejaException>(() => InitialNoise.FromFile(rows, Model.LatentShape, promptCount: 4)).Message);
            Assert.Contains("the model expects", Assert.Throws<DejaException>(() => InitialNoise.FromFile(wrong, Model.LatentShape, promptCount: 1)).Message);
            Assert.Throws<DejaException>(() => InitialNoise.FromFile(Path.Combine(dir, "none.safetensors"), Model.LatentShape, 1));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void BatchSizeDoesNotChangeScoresAndDoneIndicesAreSkipped()
    {
        IMemorizationDetector[] detectors = [new AnisotropyDetector(), new MagnitudeDetector(), new SharpnessDetector()];
        var noise = InitialNoise.Seeded(Model.LatentShape, 2, 51, SeedPolicy.Same);
        var one = new DetectionRun { Model = Model, Detectors = detectors, Noise = noise, BatchSize = 1 }.Run(Prompts).SelectMany(b => b).ToList();
        var three = new DetectionRun { Model = Model, Detectors = detectors, Noise = noise, BatchSize = 3 }.Run(Prompts).ToList();
        Assert.Equal([3, 3, 1], three.Select(b => b.Count));
        var flat = three.SelectMany(b => b).ToList();
        Assert.Equal(Enumerable.Range(0, Prompts.Length), flat.Select(r => r.Index));
        for (int i = 0; i < one.Count; i++)
            foreach (var (name, value) in one[i].Scores)
                Assert.True(Math.Abs(value - flat[i].Scores[name]) <= 1e-4 * (1 + Math.Abs(value)), $"{name}[{i}]: {value} vs {flat[i].Scores[name]}");
        Assert.Equal(["anisotropy", "anisotropy_norm", "anisotropy_cosine", "magnitude", "sharpness"], one[0].Scores.Keys);
        var resumed = new DetectionRun { Model = Model, Detectors = detectors, Noise = noise, BatchSize = 2 }.Run(Prompts, new HashSet<int> { 0, 2, 3 }).SelectMany(b => b).ToList();
        Assert.Equal([1, 4, 5, 6], resumed.Select(r => r.Index));
        Assert.Equal(flat[4].Scores["anisotropy"], resumed[1].Scores["anisotropy"], 4);
    }

    [Fact]
    public void ParametersNameEverythingThatDeterminesTheScores()
    {
        var run = new DetectionRun { Model = Model, Detectors = [new AnisotropyDetector(), new SharpnessDetector()], Noise = InitialNoise.Seeded(Model.LatentShape, 1, 51, SeedPolicy.Same) };
        Assert.Equal("anisotropy+sharpness", run.Method);
        var p = run.Parameters();
        Assert.Equal(981, p["anisotropy"]!["t_norm"]!.GetValue<int>());
        Assert.Equal(41, p["anisotropy"]!["t_cosine"]!.GetValue<int>());
        Assert.Equal("x,c|x", p["anisotropy"]!["mode"]!.GetValue<string>());
        Assert.Equal("fd", p["sharpness"]!["jvp"]!.GetValue<string>());
        Assert.Equal(51, p["noise"]!["seed"]!.GetValue<long>());
        Assert.Equal(["anisotropy", "magnitude", "sharpness"], DetectorOptions.ParseMethods("all"));
        Assert.Throws<ArgumentException>(() => DetectorOptions.ParseMethods("anisotropy,nope"));
    }
}
