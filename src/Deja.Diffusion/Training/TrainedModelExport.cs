using System.Text.Json.Nodes;
using Deja.Diffusion.IO;
using Deja.Tensors;

namespace Deja.Diffusion.Training;

/// <summary>
/// Writes a trained mini model in the diffusers folder layout (model_index.json, unet/, text_encoder/,
/// tokenizer/, scheduler/; pixel space, so no vae/), weights stored as F16 so that deja-mini ships in a
/// few MB. Components are written into a temporary folder that is then moved into place, so a crash
/// never leaves a model that looks complete and is not.
/// </summary>
public static class TrainedModelExport
{
    /// <summary>The DDIM scheduler config of an exported model: the trainer's schedule (<see cref="Trainer.ScheduleSpec"/>).</summary>
    public static string SchedulerJson => new JsonObject
    {
        ["_class_name"] = "DDIMScheduler", ["_diffusers_version"] = "0.25.1",
        ["beta_end"] = Trainer.ScheduleSpec.BetaEnd, ["beta_schedule"] = Trainer.ScheduleSpec.Name, ["beta_start"] = Trainer.ScheduleSpec.BetaStart,
        ["clip_sample"] = false, ["num_train_timesteps"] = Trainer.ScheduleSpec.TrainSteps, ["prediction_type"] = "epsilon",
        ["set_alpha_to_one"] = false, ["steps_offset"] = 1, ["trained_betas"] = null,
    }.ToJsonString(new() { WriteIndented = true });

    static readonly string[] TokenizerFiles = ["vocab.json", "merges.txt", "special_tokens_map.json", "tokenizer_config.json"];

    /// <summary>Saves the trainer's current weights (call <see cref="Trainer.UseEmaWeights"/> first for the EMA) under <paramref name="directory"/>.</summary>
    public static void Save(Trainer trainer, string directory, string tokenizerDir, SafeTensorsDType dtype = SafeTensorsDType.F16)
    {
        var staging = Path.Combine(directory, ".export-tmp");
        if (Directory.Exists(staging)) Directory.Delete(staging, true);
        Directory.CreateDirectory(staging);
        var index = new JsonObject
        {
            ["_class_name"] = "StableDiffusionPipeline", ["_diffusers_version"] = "0.25.1",
            ["scheduler"] = new JsonArray("diffusers", "DDIMScheduler"),
            ["text_encoder"] = new JsonArray("transformers", "CLIPTextModel"),
            ["tokenizer"] = new JsonArray("transformers", "CLIPTokenizer"),
            ["unet"] = new JsonArray("diffusers", "UNet2DConditionModel"),
            ["vae"] = new JsonArray(null, null),
            ["safety_checker"] = new JsonArray(null, null), ["feature_extractor"] = new JsonArray(null, null),
            ["requires_safety_checker"] = false,
            ["deja_config"] = trainer.Config.Name, ["deja_steps"] = trainer.Step,
        };
        File.WriteAllText(Path.Combine(staging, "model_index.json"), index.ToJsonString(new() { WriteIndented = true }) + "\n");
        Component(staging, "unet", trainer.Config.UNetJson, "diffusion_pytorch_model.safetensors", trainer.UNet.StateDict().Select(kv => (kv.Key, kv.Value)), dtype);
        Component(staging, "text_encoder", trainer.Config.TextJson, "model.safetensors", trainer.TextModel.StateDict().Select(kv => (kv.Key, kv.Value)), dtype);
        Directory.CreateDirectory(Path.Combine(staging, "scheduler"));
        File.WriteAllText(Path.Combine(staging, "scheduler", "scheduler_config.json"), SchedulerJson.Trim() + "\n");
        Directory.CreateDirectory(Path.Combine(staging, "tokenizer"));
        foreach (var f in TokenizerFiles)
        {
            var src = Path.Combine(tokenizerDir, f);
            if (File.Exists(src)) File.Copy(src, Path.Combine(staging, "tokenizer", f));
            else if (f is "vocab.json" or "merges.txt") throw new DejaException($"tokenizer folder '{tokenizerDir}' has no {f}");
        }
        // Move each component over the previous export, model_index.json last: it is what makes the folder a model.
        File.Delete(Path.Combine(directory, "model_index.json"));
        foreach (var part in new[] { "unet", "text_encoder", "scheduler", "tokenizer" })
        {
            var target = Path.Combine(directory, part);
            if (Directory.Exists(target)) Directory.Delete(target, true);
            Directory.Move(Path.Combine(staging, part), target);
        }
        File.Move(Path.Combine(staging, "model_index.json"), Path.Combine(directory, "model_index.json"));
        Directory.Delete(staging, true);
    }

    static void Component(string root, string name, string configJson, string weightsFile, IEnumerable<(string Name, Tensor Value)> parameters, SafeTensorsDType dtype)
    {
        var dir = Path.Combine(root, name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), configJson.Trim() + "\n");
        SafeTensorsWriter.Write(Path.Combine(dir, weightsFile), parameters, new Dictionary<string, string> { ["format"] = "pt" }, dtype);
    }
}
