using Deja.Diffusion.IO;
using Deja.Diffusion.Models.UNet;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.UNet;

/// <summary>UNet2DConditionModel against diffusers 0.25.1 (golden sdN_unet.safetensors).</summary>
[Collection(Deja.Diffusion.Tests.ThreadSensitive.Name)]
public class UNetParityTests
{
    // fp32 vs fp32 with a different summation order; the goldens' own fp32-vs-f64 drift is ≤ 1e-6
    const double Tol = 1e-5;

    [Theory]
    [InlineData("sd1", 981)]
    [InlineData("sd1", 501)]
    [InlineData("sd1", 1)]
    [InlineData("sd2", 981)]
    [InlineData("sd2", 501)]
    [InlineData("sd2", 1)]
    public void ScalarTimestepMatchesDiffusersAndFloat64Reference(string model, int t)
    {
        var unet = TinyUNet.Load(model);
        using var g = TinyUNet.Golden(model);
        using var scope = TensorScope.Enter();
        var latents = g.ReadTensor("latents");
        var context = g.ReadTensor("encoder_hidden_states");
        Tensor output;
        using (GradMode.NoGrad()) output = unet.Forward(latents, t, context);
        TinyUNet.Near(g.ReadTensor($"out_t{t}"), output, Tol, $"{model} out_t{t}");
        TinyUNet.Near(g.ReadTensor($"out_t{t}.f64ref"), output, Tol, $"{model} out_t{t} vs f64");
    }

    [Theory]
    [InlineData("sd1")]
    [InlineData("sd2")]
    public void PerSampleTimestepsMatchDiffusers(string model)
    {
        var unet = TinyUNet.Load(model);
        using var g = TinyUNet.Golden(model);
        using var scope = TensorScope.Enter();
        var steps = g.ReadInt64("timesteps_per_sample").Data.Select(v => (float)v).ToArray();
        Assert.Equal([981f, 41f], steps);
        Tensor output;
        using (GradMode.NoGrad()) output = unet.Forward(g.ReadTensor("latents"), steps, g.ReadTensor("encoder_hidden_states"));
        TinyUNet.Near(g.ReadTensor("out_t_per_sample"), output, Tol, $"{model} out_t_per_sample");

        // the same through a timestep tensor
        Tensor viaTensor;
        using (GradMode.NoGrad()) viaTensor = unet.Forward(g.ReadTensor("latents"), Tensor.FromArray(steps, 2), g.ReadTensor("encoder_hidden_states"));
        Assert.Equal(output.ToArray(), viaTensor.ToArray());
    }

    [Theory]
    [InlineData("sd1")]
    [InlineData("sd2")]
    public void NonSquareLatentsMatchDiffusers(string model)
    {
        var unet = TinyUNet.Load(model);
        using var g = TinyUNet.Golden(model);
        using var scope = TensorScope.Enter();
        var context = g.ReadTensor("encoder_hidden_states");
        using var second = Ops.Narrow(context, 0, 1, 1);
        Tensor output;
        using (GradMode.NoGrad()) output = unet.Forward(g.ReadTensor("latents_nonsquare"), 501, second);
        TinyUNet.Near(g.ReadTensor("out_nonsquare_t501"), output, Tol, $"{model} out_nonsquare_t501");
    }

    [Theory]
    [InlineData("sd1")]
    [InlineData("sd2")]
    public void HookedActivationsMatchDiffusers(string model)
    {
        var unet = TinyUNet.Load(model);
        using var g = TinyUNet.Golden(model);
        using var scope = TensorScope.Enter();
        // plain arrays: tensors made inside the hook belong to the forward's scopes and are freed with them
        var seen = new Dictionary<string, (float[] Data, int[] Shape)>();
        Tensor output;
        using (GradMode.NoGrad())
            output = unet.Forward(g.ReadTensor("latents"), 981, g.ReadTensor("encoder_hidden_states"), (path, t) =>
            {
                Assert.False(seen.ContainsKey(path), $"{path} reported twice");
                using var one = Ops.Narrow(t, 0, 1, 1); // the goldens hold batch element 1
                seen[path] = (one.ToArray(), (int[])one.Shape.Clone());
            });
        var names = g.Names.Where(n => n.StartsWith("act_t981.", StringComparison.Ordinal)).ToList();
        Assert.Equal(17, names.Count);
        foreach (var name in names)
        {
            var path = name["act_t981.".Length..];
            Assert.True(seen.ContainsKey(path), $"no activation reported for {path}");
            TinyUNet.Near(g.ReadTensor(name), Tensor.FromArray(seen[path].Data, seen[path].Shape), Tol, $"{model} {name}");
        }
        // the hooked path (separate residual adds) gives the same output as the fused one
        Tensor plain;
        using (GradMode.NoGrad()) plain = unet.Forward(g.ReadTensor("latents"), 981, g.ReadTensor("encoder_hidden_states"));
        TinyUNet.Near(plain, output, 5e-6, $"{model} hooked vs plain");
    }

    [Theory]
    [InlineData("sd1")]
    [InlineData("sd2")]
    public void DifferentiablePathMatchesInferencePath(string model)
    {
        var unet = TinyUNet.Load(model);
        using var g = TinyUNet.Golden(model);
        using var scope = TensorScope.Enter();
        var latents = g.ReadTensor("latents").RequireGrad();
        var output = unet.Forward(latents, 501, g.ReadTensor("encoder_hidden_states"));
        Assert.True(output.RequiresGrad);
        TinyUNet.Near(g.ReadTensor("out_t501"), output, Tol, $"{model} out_t501 with autograd");
    }

    [Fact]
    public void ThreadCountDoesNotChangeTheOutput()
    {
        var unet = TinyUNet.Load("sd2");
        using var g = TinyUNet.Golden("sd2");
        using var scope = TensorScope.Enter();
        using var _ = GradMode.NoGrad();
        var latents = g.ReadTensor("latents");
        var context = g.ReadTensor("encoder_hidden_states");
        int saved = Deja.Tensors.Kernels.Threading.Threads;
        try
        {
            Deja.Tensors.Kernels.Threading.Threads = 1;
            var one = unet.Forward(latents, 981, context).ToArray();
            Deja.Tensors.Kernels.Threading.Threads = 2;
            var two = unet.Forward(latents, 981, context).ToArray();
            for (int i = 0; i < one.Length; i++)
                Assert.True(Math.Abs(one[i] - two[i]) <= 1e-5 * Math.Abs(one[i]) + 1e-7, $"[{i}]: 1 thread {one[i]}, 2 threads {two[i]}");
        }
        finally { Deja.Tensors.Kernels.Threading.Threads = saved; }
    }
}
