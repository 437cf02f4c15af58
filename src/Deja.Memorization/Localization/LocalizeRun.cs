using System.Text.Json.Nodes;
using Deja.Memorization.Models;
using Deja.Memorization.Replication;
using Deja.Tensors;

namespace Deja.Memorization.Localization;

/// <summary>
/// One prompt to map: its index in the prompt list, its generations' seeds (the names of the
/// generations in the outputs, and what seeds the probes) and their initial noise x_T [N, C, H, W];
/// <see cref="Kind"/> is the benchmark's label (verbatim, template, heldout) when known.
/// </summary>
public sealed record LocalizeJob(int Index, string Prompt, IReadOnlyList<long> Seeds, Tensor Latents, string? Kind = null);

/// <summary>One map of every generation of a prompt, [N][H·W].</summary>
public sealed record LocalizedMap(string Name, int Height, int Width, float[][] Values)
{
    /// <summary>The spatial mean of each generation's map, averaged over the generations (higher = more memorized).</summary>
    public double Mean => Values.Average(v => v.Length == 0 ? 0 : v.Average(x => (double)x));
}

/// <summary>A prompt's maps, and the generated images they are drawn over (null for models without images).</summary>
public sealed record LocalizeResult(LocalizeJob Job, IReadOnlyList<LocalizedMap> Maps, float[][]? Images,
    int ImageChannels, int ImageHeight, int ImageWidth, int Tokens, bool Truncated);

/// <summary>
/// `deja localize`'s engine: for each prompt, the CFG trajectory to the last step (shared by every
/// map), the curvature and score maps (<see cref="CurvatureMaps"/>), the Bright Ending attention map
/// (<see cref="BrightEnding"/>) and the final images. CLI and service call this.
/// </summary>
public sealed class LocalizeRun
{
    public required IDiffusionModelView Model { get; init; }
    /// <summary>The less-trained model θ̃ for cov_bad and score_diff_bad (METHODS.md §4.4).</summary>
    public IDiffusionModelView? BadModel { get; init; }
    public required CurvatureMaps Method { get; init; }
    public required IReadOnlyList<string> Maps { get; init; }

    /// <summary>Checks, before any work, that the options and models fit together.</summary>
    public void Validate()
    {
        Method.Validate(Model);
        if (Maps.Count == 0) throw new DejaException("localize: no map requested");
        if (Maps.Any(MapNames.NeedsBadModel) && BadModel is null)
            throw new DejaException("localize: cov_bad and score_diff_bad need a less-trained model: give --bad-model DIR (or leave those maps out with --maps)");
        if (BadModel is not null)
        {
            if (!Shapes.Equal(BadModel.LatentShape, Model.LatentShape))
                throw new DejaException($"localize: the bad model {BadModel.Name} has latents {Shapes.Str(BadModel.LatentShape)}, the model {Model.Name} {Shapes.Str(Model.LatentShape)}; θ̃ must be the same architecture");
            using var a = Model.NullCondition();
            using var b = BadModel.NullCondition();
            if (!Shapes.Equal(a.Shape, b.Shape))
                throw new DejaException($"localize: the bad model {BadModel.Name} takes text states {Shapes.Str(b.Shape)}, the model {Model.Name} gives {Shapes.Str(a.Shape)}; θ̃ must be the same architecture");
            if (BadModel.Scheduler.Prediction != Model.Scheduler.Prediction)
                throw new DejaException($"localize: the bad model predicts {BadModel.Scheduler.Prediction}, the model {Model.Scheduler.Prediction}");
        }
        if (Maps.Contains(MapNames.BrightEnding) && Model is not StableDiffusionView)
            throw new DejaException($"localize: bright_ending needs cross-attention, which {Model.Name} does not have; leave it out with --maps");
    }

    public JsonObject Parameters()
    {
        var p = Method.Parameters(Model);
        p["maps"] = new JsonArray([.. Maps.Select(m => (JsonNode)m)]);
        if (BadModel is not null) p["bad_model"] = new JsonObject { ["name"] = BadModel.Name, ["id"] = BadModel.Id };
        return p;
    }

    public LocalizeResult Run(LocalizeJob job, Tensor nullCondition)
    {
        ArgumentNullException.ThrowIfNull(job);
        if (job.Latents.Rank != 4 || !Shapes.Equal(job.Latents.Shape[1..], Model.LatentShape))
            throw new DejaException($"localize: latents {Shapes.Str(job.Latents.Shape)} do not fit {Model.Name} ({Shapes.Str(Model.LatentShape)})");
        if (job.Seeds.Count != job.Latents.Shape[0]) throw new ArgumentException($"localize: {job.Seeds.Count} seeds for {job.Latents.Shape[0]} latents");
        EncodedConditions encoded;
        using (GradMode.NoGrad()) encoded = Model.Encode([job.Prompt]);
        using (encoded)
        {
            var (z, t, final) = Method.Trajectory(Model, job.Latents, encoded.Conditions, nullCondition);
            using (z)
            using (final)
            {
                var maps = new List<LocalizedMap>();
                var curvature = Maps.Where(m => m != MapNames.BrightEnding).ToArray();
                var computed = curvature.Length > 0
                    ? Method.Compute(Model, BadModel, z, t, encoded.Conditions, nullCondition, job.Seeds, curvature)
                    : [];
                int h = z.Shape[2], w = z.Shape[3];
                foreach (var name in curvature) maps.Add(new LocalizedMap(name, h, w, computed[name]));
                if (Maps.Contains(MapNames.BrightEnding))
                {
                    int n = z.Shape[0];
                    using var _ = GradMode.NoGrad();
                    using var conds = Detection.PromptBatch.RepeatRows(encoded.Conditions, n);
                    int end = BrightEnding.EndTokenIndex(encoded.TokenCounts[0]);
                    using var be = BrightEnding.EndTokenMaps(Model, z, t, conds, Enumerable.Repeat(end, n).ToArray());
                    int bh = be.Shape[1], bw = be.Shape[2];
                    var values = be.ToArray();
                    maps.Add(new LocalizedMap(MapNames.BrightEnding, bh, bw,
                        [.. Enumerable.Range(0, n).Select(r => values[(r * bh * bw)..((r + 1) * bh * bw)])]));
                }
                var (images, c, ih, iw) = Images(final);
                return new LocalizeResult(job, maps, images, c, ih, iw, encoded.TokenCounts[0], encoded.Truncated[0]);
            }
        }
    }

    /// <summary>The generations as images [C, H, W] in [0, 1] (decoded by the VAE when there is one).</summary>
    (float[][]? Images, int C, int H, int W) Images(Tensor final)
    {
        if (Model is not StableDiffusionView sd) return (null, 0, 0, 0);
        using var _ = GradMode.NoGrad();
        using var decoded = sd.Pipeline.Decode(final);
        int n = decoded.Shape[0], c = decoded.Shape[1], h = decoded.Shape[2], w = decoded.Shape[3], per = c * h * w;
        var all = CaptionGenerations.ToUnitRange(decoded.ToArray());
        return ([.. Enumerable.Range(0, n).Select(r => all[(r * per)..((r + 1) * per)])], c, h, w);
    }
}
