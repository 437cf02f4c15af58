namespace Deja.Diffusion.IO;

/// <summary>
/// scheduler/scheduler_config.json read as DDIM settings; defaults are diffusers' <c>DDIMScheduler</c>
/// defaults. Configs of the other beta-schedule schedulers that SD repositories ship (SD1.x/SD2-base
/// ship <c>PNDMScheduler</c>) are accepted and reinterpreted as DDIM, exactly as diffusers'
/// <c>DDIMScheduler.from_config(pipe.scheduler.config)</c> does: shared keys are kept, missing ones
/// take DDIM's defaults.
/// </summary>
public sealed record DdimSchedulerConfig : DiffusersConfig
{
    public static readonly string[] SupportedClasses =
        ["DDIMScheduler", "PNDMScheduler", "DDPMScheduler", "LMSDiscreteScheduler", "EulerDiscreteScheduler",
         "EulerAncestralDiscreteScheduler", "DPMSolverMultistepScheduler"];
    public static readonly string[] SupportedPredictionTypes = ["epsilon", "v_prediction"];
    public static readonly string[] SupportedBetaSchedules = ["linear", "scaled_linear", "squaredcos_cap_v2"];
    public static readonly string[] SupportedTimestepSpacings = ["leading", "trailing", "linspace"];

    /// <summary>The class the file names (may be another scheduler whose settings DDIM reuses).</summary>
    public string ClassName { get; init; } = "DDIMScheduler";
    public int NumTrainTimesteps { get; init; } = 1000;
    public double BetaStart { get; init; } = 0.0001;
    public double BetaEnd { get; init; } = 0.02;
    public string BetaSchedule { get; init; } = "linear";
    /// <summary>Explicit betas; when set they replace beta_start/beta_end/beta_schedule.</summary>
    public double[]? TrainedBetas { get; init; }
    public bool ClipSample { get; init; } = true;
    public double ClipSampleRange { get; init; } = 1.0;
    /// <summary>Whether ᾱ before the first timestep is 1 (true) or ᾱ_0 (false; SD uses false).</summary>
    public bool SetAlphaToOne { get; init; } = true;
    public int StepsOffset { get; init; }
    public string PredictionType { get; init; } = "epsilon";
    public bool Thresholding { get; init; }
    public double DynamicThresholdingRatio { get; init; } = 0.995;
    public double SampleMaxValue { get; init; } = 1.0;
    public string TimestepSpacing { get; init; } = "leading";
    public bool RescaleBetasZeroSnr { get; init; }

    public bool IsVPrediction => PredictionType == "v_prediction";

    /// <summary>Reads a config file; the fields that fix the noise schedule must be present (see <see cref="ConfigReader.Require"/>).</summary>
    public static DdimSchedulerConfig Load(string path) => From(ConfigReader.Load(path).Require(RequiredKeys));

    /// <summary>Fields a config file must have (every diffusers scheduler config since 0.1 writes them).</summary>
    public static readonly string[] RequiredKeys = ["num_train_timesteps", "beta_start", "beta_end", "beta_schedule"];
    public static DdimSchedulerConfig Parse(string json, string source = "scheduler/scheduler_config.json") => From(ConfigReader.Parse(json, source));

    static DdimSchedulerConfig From(ConfigReader r) => new()
    {
        Source = r.Source,
        Raw = r.Root,
        ClassName = r.String("_class_name", "DDIMScheduler"),
        NumTrainTimesteps = r.Int("num_train_timesteps", 1000),
        BetaStart = r.Double("beta_start", 0.0001),
        BetaEnd = r.Double("beta_end", 0.02),
        BetaSchedule = r.String("beta_schedule", "linear"),
        TrainedBetas = r.DoublesOrNull("trained_betas"),
        ClipSample = r.Bool("clip_sample", true),
        ClipSampleRange = r.Double("clip_sample_range", 1.0),
        SetAlphaToOne = r.Bool("set_alpha_to_one", true),
        StepsOffset = r.Int("steps_offset", 0),
        PredictionType = r.String("prediction_type", "epsilon"),
        Thresholding = r.Bool("thresholding", false),
        DynamicThresholdingRatio = r.Double("dynamic_thresholding_ratio", 0.995),
        SampleMaxValue = r.Double("sample_max_value", 1.0),
        TimestepSpacing = r.String("timestep_spacing", "leading"),
        RescaleBetasZeroSnr = r.Bool("rescale_betas_zero_snr", false),
    };

    static readonly HashSet<string> Keys =
    [
        "_class_name", "_diffusers_version", "num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
        "clip_sample", "clip_sample_range", "set_alpha_to_one", "steps_offset", "prediction_type", "thresholding",
        "dynamic_thresholding_ratio", "sample_max_value", "timestep_spacing", "rescale_betas_zero_snr",
    ];

    protected override IReadOnlySet<string> ModeledKeys => Keys;

    public override IReadOnlyList<string> Problems()
    {
        var p = new List<string>();
        void Bad(string what) => p.Add($"{Source}: {what}");
        if (!SupportedClasses.Contains(ClassName))
            Bad($"scheduler class '{ClassName}' is not supported (supported: {List(SupportedClasses)}; all are run as DDIM)");
        if (!SupportedPredictionTypes.Contains(PredictionType))
            Bad($"prediction_type '{PredictionType}' is not supported (supported: {List(SupportedPredictionTypes)})");
        if (TrainedBetas is null && !SupportedBetaSchedules.Contains(BetaSchedule))
            Bad($"beta_schedule '{BetaSchedule}' is not supported (supported: {List(SupportedBetaSchedules)}, or trained_betas)");
        if (TrainedBetas is not null && TrainedBetas.Length != NumTrainTimesteps)
            Bad($"trained_betas has {TrainedBetas.Length} values but num_train_timesteps is {NumTrainTimesteps}");
        if (!SupportedTimestepSpacings.Contains(TimestepSpacing))
            Bad($"timestep_spacing '{TimestepSpacing}' is not supported (supported: {List(SupportedTimestepSpacings)})");
        if (Thresholding) Bad("thresholding (dynamic thresholding) true is not supported (supported: false)");
        if (NumTrainTimesteps <= 0 || NumTrainTimesteps > Limits.MaxTrainTimesteps)
            Bad($"num_train_timesteps {NumTrainTimesteps} must be between 1 and {Limits.MaxTrainTimesteps}");
        if (StepsOffset < 0 || StepsOffset >= Math.Max(NumTrainTimesteps, 1))
            Bad($"steps_offset {StepsOffset} must be between 0 and num_train_timesteps − 1");
        if (TrainedBetas is not null && TrainedBetas.Any(b => !(b > 0 && b < 1)))
            Bad("trained_betas values must lie strictly between 0 and 1");
        if (TrainedBetas is null && !(BetaStart > 0 && BetaEnd >= BetaStart && BetaEnd < 1))
            Bad($"beta_start {BetaStart} / beta_end {BetaEnd} must satisfy 0 < beta_start <= beta_end < 1");
        return p;
    }
}
