namespace Deja.Tensors.Optim;

/// <summary>
/// Everything an <see cref="Optimizer"/> (or an <see cref="Ema"/>) needs to resume exactly where it
/// stopped: named tensors (e.g. "unet.conv_in.weight.exp_avg") and integer counters
/// (e.g. "unet.conv_in.weight.step"), plus the number of Step/Update calls. Hyperparameters are not
/// part of it: the training script constructs the optimizer with them, as in PyTorch's param groups.
/// A checkpoint writer can store <see cref="Tensors"/> as tensors and the counters as metadata.
/// </summary>
public sealed class OptimizerState
{
    /// <summary>Number of Step() (or Ema.Update()) calls so far.</summary>
    public long Step { get; set; }

    /// <summary>State tensors by key "{parameter name}.{slot}" (for Ema: by parameter name).</summary>
    public Dictionary<string, Tensor> Tensors { get; } = new();

    /// <summary>Integer state by key, e.g. "{parameter name}.step" for the per-parameter step counts.</summary>
    public Dictionary<string, long> Counters { get; } = new();
}
