using Deja.Diffusion.Models.Clip;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.Clip;

/// <summary>
/// The inputs_embeds path under autograd (Wen et al.'s token significance differentiates the text-encoder
/// output with respect to the prompt's token embeddings), on tiny random models.
/// </summary>
public class ClipGradientTests
{
    [Theory]
    [InlineData("quick_gelu", 0)]
    [InlineData("gelu", 0)]
    [InlineData("gelu", 1)]
    public void InputEmbeddingGradientMatchesFiniteDifferences(string act, int clipSkip)
    {
        var model = new ClipTextModel(ClipTextConfigs.Tiny(act), new Generator(3));
        model.SetRequiresGrad(false);
        var embeds = Tensor.RandN(new Generator(4), 2, 5, 8).RequireGrad();
        GradCheck.Check(x => model.ForwardEmbeds(x[0], clipSkip), [embeds]);
    }

    [Fact]
    public void WeightGradientsMatchFiniteDifferences()
    {
        var model = new ClipTextModel(ClipTextConfigs.Tiny("quick_gelu"), new Generator(5));
        var embeds = Tensor.RandN(new Generator(6), 1, 4, 8);
        var layer = model.TextModel.Encoder.Layers[0];
        Tensor[] weights = [layer.SelfAttn.QProj.Weight, layer.Mlp.Fc1.Bias!, model.TextModel.Embeddings.PositionEmbedding.Weight];
        GradCheck.Check(_ => model.ForwardEmbeds(embeds), weights, maxPerInput: 12);
    }

    [Fact]
    public void TokenEmbeddingsThenForwardEmbedsEqualsForwardOfIds()
    {
        var model = new ClipTextModel(ClipTextConfigs.Tiny("gelu"), new Generator(7));
        int[][] ids = [[0, 5, 9, 2, 1, 1], [0, 7, 2, 1, 1, 1]];
        using var viaIds = model.Forward(ids, new ClipTextOptions { OutputPooler = true });
        var embeds = model.TokenEmbeddings(ids).Detach().RequireGrad();
        using var viaEmbeds = model.ForwardEmbeds(embeds);
        ClipTestData.Near(viaIds.LastHiddenState, viaEmbeds, 0, "ids vs inputs_embeds");
        using var pooled = model.Pool(viaEmbeds, ids);
        ClipTestData.Near(viaIds.PoolerOutput!, pooled, 0, "pooler");

        // The gradient reaches the embeddings and flows only backwards in time: the output at position 1
        // does not depend on later tokens.
        // (Weighted: with the default LayerNorm affine of a random model, a plain sum over features is constant.)
        using var out1 = Ops.Select(viaEmbeds, 1, 1);
        using var weights = Tensor.RandN(new Generator(1), out1.Shape);
        Ops.Sum(out1 * weights).Backward();
        var g = embeds.Grad!;
        for (int b = 0; b < 2; b++)
            for (int p = 0; p < 6; p++)
            {
                double norm = 0;
                for (int h = 0; h < 8; h++) norm += Math.Abs(g[b, p, h]);
                if (p <= 1) Assert.True(norm > 0, $"batch {b} position {p} should get a gradient");
                else Assert.Equal(0, norm);
            }
    }

    [Fact]
    public void PoolerFollowsTheConfigsEndOfTextRule()
    {
        // Legacy eos_token_id 2: argmax(ids). Otherwise the first id equal to eos_token_id.
        int[][] ids = [[0, 19, 3, 4, 19, 1]];
        var legacy = new ClipTextModel(ClipTextConfigs.Tiny(eos: 2), new Generator(8));
        var modern = new ClipTextModel(ClipTextConfigs.Tiny(eos: 4), new Generator(8));
        using var _ = GradMode.NoGrad();
        using var l = legacy.Forward(ids, new ClipTextOptions { OutputPooler = true });
        using var m = modern.Forward(ids, new ClipTextOptions { OutputPooler = true });
        using var at1 = Ops.Select(l.LastHiddenState, 1, 1);
        using var at3 = Ops.Select(m.LastHiddenState, 1, 3);
        ClipTestData.Near(at1, l.PoolerOutput!, 0, "argmax rule");
        ClipTestData.Near(at3, m.PoolerOutput!, 0, "eos rule");
    }

    [Fact]
    public void NoGradForwardRecordsNothing()
    {
        var model = new ClipTextModel(ClipTextConfigs.Tiny(), new Generator(9));
        var embeds = Tensor.RandN(new Generator(10), 1, 3, 8).RequireGrad();
        using (GradMode.NoGrad())
        {
            using var o = model.ForwardEmbeds(embeds);
            Assert.False(o.RequiresGrad);
        }
        using var withGrad = model.ForwardEmbeds(embeds);
        Assert.True(withGrad.RequiresGrad);
    }
}
