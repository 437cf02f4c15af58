using Deja.Diffusion.IO;
using Deja.Diffusion.Models.Vae;
using Deja.Tensors;
using static Deja.Diffusion.Tests.Vae.VaeTestSupport;

namespace Deja.Diffusion.Tests.Vae;

/// <summary>AutoencoderKL against diffusers (golden sdN_vae.safetensors, tiny-sdN/vae weights).</summary>
public class VaeParityTests
{
    [Theory]
    [InlineData("sd1")]
    [InlineData("sd2")]
    public void DecodeMatchesDiffusers(string model)
    {
        var vae = LoadTiny(model);
        using var g = SafeTensorsFile.Open(TestData.Golden("golden", $"{model}_vae.safetensors"));
        using var _ = GradMode.NoGrad();

        using var decoded = vae.Decode(g.ReadTensor("decode_input"));
        Near(g.ReadTensor("decode_output"), decoded, "decode_output");
        Near(g.ReadTensor("decode_output.f64ref"), decoded, "decode_output vs f64ref");
        using var image01 = AutoencoderKL.ToUnitRange(decoded);
        Near(g.ReadTensor("image_0_1"), image01, "image_0_1");

        // the convenience path: scaled latents straight to [0,1]
        using var viaScaled = vae.DecodeScaledToUnitRange(g.ReadTensor("latents"));
        Near(g.ReadTensor("image_0_1"), viaScaled, "image_0_1 from scaled latents");
    }

    [Theory]
    [InlineData("sd1")]
    [InlineData("sd2")]
    public void EncodeMatchesDiffusers(string model)
    {
        var vae = LoadTiny(model);
        using var g = SafeTensorsFile.Open(TestData.Golden("golden", $"{model}_vae.safetensors"));
        using var _ = GradMode.NoGrad();
        var image = g.ReadTensor("encode_input");
        var noise = g.ReadTensor("encode_noise");

        using var posterior = vae.Encode(image);
        Near(g.ReadTensor("encode_mean"), posterior.Mean, "encode_mean");
        Near(g.ReadTensor("encode_logvar"), posterior.LogVar, "encode_logvar");
        Near(g.ReadTensor("encode_std"), posterior.Std, "encode_std");
        using var sample = posterior.Sample(noise);
        Near(g.ReadTensor("encode_sample"), sample, "encode_sample");
        using var mode = posterior.Mode();
        Near(g.ReadTensor("encode_mean"), mode, "mode");

        using var scaled = vae.EncodeScaled(image, noise);
        Near(g.ReadTensor("encode_latents_scaled"), scaled, "encode_latents_scaled");
    }

    [Fact]
    public void DecodeIntermediatesMatchDiffusersHooks()
    {
        var vae = LoadTiny("sd1");
        using var g = SafeTensorsFile.Open(TestData.Golden("golden", "sd1_vae.safetensors"));
        using var _ = GradMode.NoGrad();
        var seen = new Dictionary<string, Tensor>();
        // the goldens hold batch element 0; observed tensors are freed after their block, so copy
        using var decoded = vae.Decode(g.ReadTensor("decode_input"), (name, value) =>
        {
            using var first = Ops.Select(value, 0, 0);
            var copy = seen[name] = Tensor.FromArray(first.ReadOnlySpan, [1, .. first.Shape]);
            TensorScope.Untrack(copy);
        });

        var hooked = g.Names.Where(n => n.StartsWith("act_decode.", StringComparison.Ordinal)).ToList();
        Assert.Equal(6, hooked.Count);
        foreach (var name in hooked)
        {
            var module = name["act_decode.".Length..];
            Assert.True(seen.ContainsKey(module), $"no activation reported for '{module}' (reported: {string.Join(", ", seen.Keys)})");
            Near(g.ReadTensor(name), seen[module], name);
        }
        Assert.Contains("decoder.conv_out", seen.Keys);
    }

    [Fact]
    public void SampleWithGeneratorIsMeanPlusStdTimesThatNoise()
    {
        var vae = LoadTiny("sd1");
        using var g = SafeTensorsFile.Open(TestData.Golden("golden", "sd1_vae.safetensors"));
        using var _ = GradMode.NoGrad();
        using var posterior = vae.Encode(g.ReadTensor("encode_input"));
        using var sample = posterior.Sample(new Generator(5));
        using var noise = Tensor.RandN(new Generator(5), posterior.Mean.Shape);
        using var expected = posterior.Sample(noise);
        Assert.Equal(expected.ToArray(), sample.ToArray());
    }

    [Fact]
    public void NoGradAndRecordedForwardsAgree()
    {
        // under autograd the residual adds are out of place; without, in place: same numbers
        var vae = LoadTiny("sd2");
        using var g = SafeTensorsFile.Open(TestData.Golden("golden", "sd2_vae.safetensors"));
        var z = g.ReadTensor("decode_input").RequireGrad();
        using var recorded = vae.Decode(z);
        Assert.True(recorded.RequiresGrad);
        using (GradMode.NoGrad())
        {
            using var plain = vae.Decode(z);
            Assert.Equal(plain.ToArray(), recorded.ToArray());
        }
    }
}
