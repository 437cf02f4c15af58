using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Deja.Diffusion.IO;
using Deja.Diffusion.Models.Clip;
using Deja.Diffusion.Models.UNet;
using Deja.Diffusion.Schedulers;
using Deja.Diffusion.Text;
using Deja.Tensors;
using Deja.Tensors.Optim;

namespace Deja.Diffusion.Training;

/// <summary>
/// Trains a text-to-image diffusion model from scratch with the DDPM ε-objective (as diffusers'
/// train_text_to_image.py): t ~ U{0..999}, x_t = √ᾱ_t·x₀ + σ_t·ε, loss = mean (ε̂(x_t, t, c) − ε)²;
/// the UNet and the text encoder are trained jointly with AdamW, gradients clipped to norm 1, an EMA
/// of the weights kept for sampling, and the caption dropped to "" with probability p so that
/// classifier-free guidance works. Every random draw of step k comes from a generator seeded by
/// (seed, k), so a run resumed from a checkpoint continues exactly as if it had never stopped.
/// </summary>
public sealed class Trainer
{
    public MiniConfig Config { get; }
    public TrainerOptions Options { get; }
    public UNet2DConditionModel UNet { get; }
    public ClipTextModel TextModel { get; }
    public ClipTokenizer Tokenizer { get; }
    /// <summary>
    /// Stable Diffusion's scaled_linear β schedule (0.00085 … 0.012), so that the detectors' timesteps
    /// mean what they mean on SD. See <see cref="TrainerOptions.OffsetNoise"/> for why pixel-space
    /// training needs offset noise on top of it.
    /// </summary>
    public static readonly (string Name, int TrainSteps, double BetaStart, double BetaEnd) ScheduleSpec = ("scaled_linear", 1000, 0.00085, 0.012);
    public NoiseSchedule Schedule { get; } = CreateSchedule();

    /// <summary>The training noise schedule (<see cref="ScheduleSpec"/>), for code that draws x_t as a training step does without a trainer.</summary>
    public static NoiseSchedule CreateSchedule() => NoiseSchedule.Create(ScheduleSpec.Name, ScheduleSpec.TrainSteps, ScheduleSpec.BetaStart, ScheduleSpec.BetaEnd);
    public int Step { get; private set; }

    readonly AdamW optimizer;
    readonly Ema ema;
    readonly (string Name, Tensor Value)[] parameters;

    public Trainer(MiniConfig config, TrainerOptions options, ClipTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(config); ArgumentNullException.ThrowIfNull(options); ArgumentNullException.ThrowIfNull(tokenizer);
        options.Validate();
        Config = config; Options = options; Tokenizer = tokenizer;
        var init = new Generator(options.Seed ^ 0x5EEDUL);
        UNet = new UNet2DConditionModel(config.UNet, init);
        TextModel = new ClipTextModel(config.Text, init);
        UNet.Train(); TextModel.Train();
        parameters = [.. UNet.NamedParameters("unet."), .. TextModel.NamedParameters("text_encoder.")];
        optimizer = new AdamW(parameters, options.LearningRate, weightDecay: options.WeightDecay);
        ema = new Ema(parameters, options.EmaDecay);
    }

    /// <summary>The learning rate of step k (1-based): linear warm-up, then constant.</summary>
    public double LearningRateAt(int step) =>
        Options.WarmupSteps == 0 ? Options.LearningRate : Options.LearningRate * Math.Min(1.0, step / (double)Options.WarmupSteps);

    /// <summary>
    /// Runs steps until <see cref="TrainerOptions.Steps"/>, calling <paramref name="checkpoint"/> every
    /// <see cref="TrainerOptions.CheckpointEvery"/> steps and at the end, and <paramref name="onStep"/> after each step.
    /// </summary>
    public void Train(IReadOnlyList<TrainingExample> data, Action<Trainer>? checkpoint = null, Action<TrainingStep>? onStep = null, CancellationToken cancel = default, Action<Trainer>? onStepDone = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Count == 0) throw new ArgumentException("train: no training examples");
        int size = Config.Channels * Config.ImageSize * Config.ImageSize;
        foreach (var e in data)
            if (e.Pixels.Length != size) throw new ArgumentException($"train: an image of {e.Pixels.Length} values, the model needs {Config.Channels}×{Config.ImageSize}×{Config.ImageSize}");
        var cumulative = new long[data.Count];
        long total = 0;
        for (int i = 0; i < data.Count; i++) cumulative[i] = total += Math.Max(1, data[i].Repeats);
        var clock = Stopwatch.StartNew();
        while (Step < Options.Steps)
        {
            cancel.ThrowIfCancellationRequested();
            var result = TrainStep(data, cumulative, total, clock);
            onStep?.Invoke(result);
            onStepDone?.Invoke(this);
            if (checkpoint is not null && (Step % Options.CheckpointEvery == 0 || Step == Options.Steps)) checkpoint(this);
        }
    }

    /// <summary>Wall seconds spent in each phase of the steps so far ("batch", "text_encoder",
    /// "unet_forward", "loss", "backward", "clip_grad", "optimizer", "ema"): `deja bench train --profile`.</summary>
    public Dictionary<string, double> PhaseSeconds { get; } = new();

    long phaseStart;

    /// <summary>Ends the current phase under <paramref name="name"/> and starts the next.</summary>
    void Phase(string name)
    {
        long now = Stopwatch.GetTimestamp();
        PhaseSeconds[name] = PhaseSeconds.GetValueOrDefault(name) + (now - phaseStart) / (double)Stopwatch.Frequency;
        phaseStart = now;
    }

    TrainingStep TrainStep(IReadOnlyList<TrainingExample> data, long[] cumulative, long total, Stopwatch clock)
    {
        phaseStart = Stopwatch.GetTimestamp();
        int k = Step + 1, b = Options.BatchSize, c = Config.Channels, s = Config.ImageSize, size = c * s * s;
        var g = new Generator(Options.Seed * 0x9E3779B97F4A7C15UL + (ulong)k);
        var pixels = new float[b * size];
        var captions = new string[b];
        var timesteps = new float[b];
        var repeats = new int[b];
        float[]? norms = null;
        var scaleX = new float[b]; var scaleE = new float[b];
        for (int i = 0; i < b; i++)
        {
            long r = (long)(g.NextDouble() * total);
            int index = Array.BinarySearch(cumulative, r + 1);
            if (index < 0) index = ~index;
            data[index].Pixels.CopyTo(pixels, i * size);
            repeats[i] = data[index].Repeats;
            captions[i] = g.NextDouble() < Options.ConditionDropout ? "" : Augment(data[index].Caption, k, i);
            int t = g.NextInt(Schedule.TrainTimesteps);
            timesteps[i] = t;
            scaleX[i] = MathF.Sqrt(Schedule.AlphaBar(t));
            scaleE[i] = Schedule.Sigma(t);
        }
        var ids = captions.Select(cap => Tokenizer.EncodePadded(cap).Ids).ToArray();
        Phase("batch");
        double lr = LearningRateAt(k);
        optimizer.LearningRate = lr;
        double lossValue;
        int kept = b;
        bool skipped = false;
        using (var scope = TensorScope.Enter())
        {
            var x0 = Tensor.FromArray(pixels, b, c, s, s);
            var noise = Tensor.RandN(g, b, c, s, s);
            // offset noise: one extra draw per (image, channel) shifts the whole channel (drawn last, so 0 leaves every other draw as it was)
            if (Options.OffsetNoise > 0) noise = noise + Tensor.RandN(g, b, c, 1, 1) * (float)Options.OffsetNoise;
            var xt = x0 * Tensor.FromArray(scaleX, b, 1, 1, 1) + noise * Tensor.FromArray(scaleE, b, 1, 1, 1);
            Phase("batch");
            var states = TextModel.Forward(ids);
            Phase("text_encoder");
            var predicted = UNet.Forward(xt, timesteps, states);
            Phase("unet_forward");
            var perSample = Ops.Mean(Ops.Square(predicted - noise), [1, 2, 3]);     // [B]
            var weights = Options.FilterThreshold is { } tau ? FilterWeights(xt, timesteps, predicted, tau, out kept, out norms) : null;
            if (weights is not null && kept == 0)
            {
                skipped = true; // Wen's filter: nothing kept, so no backward, no optimizer step (the EMA does not move either)
                lossValue = double.NaN;
            }
            else
            {
                var loss = weights is null ? Ops.Mean(perSample) : Ops.Sum(perSample * weights) * (1f / kept);
                lossValue = loss.Item();
                optimizer.ZeroGrad();
                Phase("loss");
                loss.Backward();
                Phase("backward");
                Gradients.ClipGradNorm(parameters.Select(p => p.Value), Options.MaxGradNorm);
                Phase("clip_grad");
                optimizer.Step();
                Phase("optimizer");
                ema.Update();
                Phase("ema");
            }
        }
        Step = k;
        return new TrainingStep(k, Options.Steps, lossValue, lr, kept, b, skipped, clock.Elapsed, norms, repeats);
    }

    /// <summary>
    /// The caption with W's random words inserted (--augment-random-tokens), from a generator of its own
    /// per (seed, step, sample): with 0 every other draw of the step is what it was without the option.
    /// </summary>
    string Augment(string caption, int step, int sample)
    {
        if (Options.AugmentRandomTokens == 0) return caption;
        var g = new Generator(unchecked(Options.Seed * 0xD1B54A32D192ED03UL + (ulong)step * 0x9E3779B97F4A7C15UL + (ulong)sample + 1));
        return new RandomTokenAugmentation { Kind = Options.AugmentKind, Repeat = Options.AugmentRandomTokens }.Apply(caption, g, Tokenizer);
    }

    /// <summary>1 for the samples whose ‖ε_c − ε_u‖ under the current model (<paramref name="norms"/>) is below τ, else 0 (METHODS.md §1.4).</summary>
    Tensor FilterWeights(Tensor xt, float[] timesteps, Tensor conditional, double tau, out int kept, out float[] norms)
    {
        norms = ConditionNorms.Of(UNet, TextModel, Tokenizer, xt, timesteps, conditional);
        var w = norms.Select(n => n < tau ? 1f : 0f).ToArray();
        kept = w.Count(v => v > 0);
        return Tensor.FromArray(w, w.Length);
    }

    // ------------------------------------------------------------------ checkpoints

    const string CheckpointFile = "checkpoint.safetensors";

    /// <summary>The resumable state: weights, EMA, optimizer moments, step and options (atomic write).</summary>
    public void SaveCheckpoint(string directory)
    {
        Directory.CreateDirectory(directory);
        var tensors = new List<(string, Tensor)>();
        foreach (var (n, t) in parameters) tensors.Add(("model." + n, t));
        var emaState = ema.ExportState();
        foreach (var (n, t) in emaState.Tensors) tensors.Add(("ema." + n, t));
        var optState = optimizer.ExportState();
        foreach (var (n, t) in optState.Tensors) tensors.Add(("optim." + n, t));
        var meta = new Dictionary<string, string>
        {
            ["format"] = "pt", ["deja_checkpoint"] = "1", ["step"] = Step.ToString(CultureInfo.InvariantCulture),
            ["config"] = Config.Name, ["options"] = OptionsJson(),
            ["ema_step"] = emaState.Step.ToString(CultureInfo.InvariantCulture),
            ["optim_step"] = optState.Step.ToString(CultureInfo.InvariantCulture),
            ["optim_counters"] = JsonSerializer.Serialize(optState.Counters),
        };
        SafeTensorsWriter.Write(Path.Combine(directory, CheckpointFile), tensors, meta);
        foreach (var (_, t) in emaState.Tensors) t.Dispose();
        foreach (var (_, t) in optState.Tensors) t.Dispose();
    }

    /// <summary>Whether <paramref name="directory"/> holds a checkpoint.</summary>
    public static bool HasCheckpoint(string directory) => File.Exists(Path.Combine(directory, CheckpointFile));

    /// <summary>Restores a checkpoint written by <see cref="SaveCheckpoint"/> for the same config and options (the step count may grow).</summary>
    public void LoadCheckpoint(string directory)
    {
        var path = Path.Combine(directory, CheckpointFile);
        using var file = SafeTensorsFile.Open(path);
        var meta = file.Metadata;
        if (!meta.TryGetValue("deja_checkpoint", out _)) throw new DejaException($"{path} is not a Deja training checkpoint");
        if (meta["config"] != Config.Name)
            throw new DejaException($"{path} was trained with config '{meta["config"]}', this run uses '{Config.Name}'");
        var saved = JsonNode.Parse(meta["options"])!.AsObject();
        var now = JsonNode.Parse(OptionsJson())!.AsObject();
        foreach (var (key, value) in now)
            if (key != "steps" && !JsonNode.DeepEquals(value, saved[key]))
                throw new DejaException($"{path} was trained with {key} = {saved[key]?.ToJsonString() ?? "(none)"}, this run uses {value?.ToJsonString()}; use the same options or another output folder");
        foreach (var (n, t) in parameters) t.CopyFrom(file.ReadTensor("model." + n));
        var emaState = new OptimizerState { Step = long.Parse(meta["ema_step"], CultureInfo.InvariantCulture) };
        var optState = new OptimizerState { Step = long.Parse(meta["optim_step"], CultureInfo.InvariantCulture) };
        foreach (var name in file.Names)
        {
            if (name.StartsWith("ema.", StringComparison.Ordinal)) emaState.Tensors[name[4..]] = file.ReadTensor(name);
            else if (name.StartsWith("optim.", StringComparison.Ordinal)) optState.Tensors[name[6..]] = file.ReadTensor(name);
        }
        foreach (var (k, v) in JsonSerializer.Deserialize<Dictionary<string, long>>(meta["optim_counters"])!) optState.Counters[k] = v;
        ema.ImportState(emaState);
        optimizer.ImportState(optState);
        Step = int.Parse(meta["step"], CultureInfo.InvariantCulture);
    }

    string OptionsJson()
    {
        var o = new JsonObject
        {
            ["steps"] = Options.Steps, ["batch_size"] = Options.BatchSize, ["learning_rate"] = Options.LearningRate,
            ["warmup_steps"] = Options.WarmupSteps, ["weight_decay"] = Options.WeightDecay, ["max_grad_norm"] = Options.MaxGradNorm,
            ["ema_decay"] = Options.EmaDecay, ["condition_dropout"] = Options.ConditionDropout, ["seed"] = Options.Seed,
            ["filter_threshold"] = Options.FilterThreshold, ["offset_noise"] = Options.OffsetNoise,
        };
        // recorded only when on, so checkpoints of runs without it resume as before
        if (Options.AugmentRandomTokens > 0)
        {
            o["augment_random_tokens"] = Options.AugmentRandomTokens;
            o["augment_kind"] = RandomTokenAugmentation.KindName(Options.AugmentKind);
        }
        return o.ToJsonString();
    }

    /// <summary>
    /// Runs <paramref name="use"/> with the EMA weights in the UNet and text encoder, then puts the
    /// training weights back, so that a run can export snapshots (e.g. the less-trained model θ̃ of
    /// METHODS.md §4.4) and continue exactly as if it had not.
    /// </summary>
    public void WithEmaWeights(Action use)
    {
        var saved = parameters.Select(p => Tensor.FromArray(p.Value.ReadOnlySpan, p.Value.Shape)).ToArray();
        try
        {
            ema.CopyTo(parameters);
            use();
        }
        finally
        {
            for (int i = 0; i < parameters.Length; i++) { parameters[i].Value.CopyFrom(saved[i]); saved[i].Dispose(); }
        }
    }

    /// <summary>Copies the EMA weights into the UNet and text encoder (for sampling and export); training must not continue after.</summary>
    public void UseEmaWeights()
    {
        ema.CopyTo(parameters);
        UNet.Eval(); TextModel.Eval();
    }
}
