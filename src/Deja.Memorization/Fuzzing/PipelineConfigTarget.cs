using System.Text;
using Deja.Diffusion.IO;
using Deja.Diffusion.Pipelines;
using Deja.Tensors;

namespace Deja.Memorization.Fuzzing;

/// <summary>
/// One JSON file of a pipeline folder (model_index.json or a component's config) inside the micro
/// pipeline: the folder is opened and validated as every command does, then loaded, and the component
/// the file configures is run once (encode a prompt, one UNet step, one VAE decode, the DDIM timesteps).
/// </summary>
internal sealed class PipelineConfigTarget(string name, string relativePath) : FuzzTarget
{
    string folder = "";
    byte[] seed = [];

    public override string Name => name;
    public override string DeeperStage => "past validation into loading and running the model";
    public override string FileName => relativePath;

    public override IReadOnlyList<FuzzMutation> Mutations { get; } =
        [JsonMutations.EditValue, JsonMutations.EditValue, JsonMutations.EditValue, JsonMutations.DuplicateMember];

    public override IReadOnlyList<byte[]> Prepare(string workDir)
    {
        folder = workDir;
        seed = Encoding.UTF8.GetBytes(MicroPipeline.Write(workDir)[relativePath]);
        // The same settings written compactly, the way other tools save them.
        var compact = Encoding.UTF8.GetBytes(System.Text.Json.Nodes.JsonNode.Parse(seed)!.ToJsonString());
        return [seed, compact];
    }

    /// <summary>The config file is a few hundred bytes; what a load may allocate is set by the micro model (well under 16 MB).</summary>
    public override long AllocationLimit(long inputBytes) => 64 * inputBytes + (16L << 20);

    public override void Consume(string path, FuzzProbe probe)
    {
        var opened = PipelineFolder.Open(folder);
        probe.Deeper();
        var pipeline = StableDiffusionPipeline.Load(opened);
        using var scope = TensorScope.Enter();
        using var noGrad = GradMode.NoGrad();
        switch (relativePath)
        {
            case "text_encoder/config.json":
                pipeline.TextEncoder.EncodePrompts(["a photo of the cat"]).Dispose();
                break;
            case "unet/config.json":
                var latents = Tensor.RandN(new Generator(1), [1, .. pipeline.LatentShape(8 * pipeline.VaeScaleFactor, 8 * pipeline.VaeScaleFactor)[1..]]);
                var context = Tensor.Zeros(1, pipeline.TextEncoder.Length, pipeline.TextEncoder.HiddenSize);
                pipeline.UNet.Forward(latents, 500, context);
                break;
            case "vae/config.json":
                pipeline.Decode(Tensor.RandN(new Generator(2), [1, pipeline.LatentChannels, 4, 4]));
                break;
            case "scheduler/scheduler_config.json":
                int steps = Math.Min(50, pipeline.Geometry.TrainTimesteps);
                var x = Tensor.RandN(new Generator(3), [1, 4, 2, 2]);
                int t = pipeline.Scheduler.Timesteps(steps)[0];
                pipeline.Scheduler.Step(Tensor.RandN(new Generator(4), [1, 4, 2, 2]), t, x, steps);
                break;
        }
    }
}
