using Deja.Tensors;

namespace Deja.Diffusion.Models.Vae;

/// <summary>
/// Receives a module's output during a forward pass, named by the module's checkpoint path
/// (e.g. "decoder.mid_block.attentions.0"). The tensor may be freed when the block ends: copy what
/// you keep, and since tensors created inside the callback belong to the model's current
/// <see cref="TensorScope"/> (and are freed with it), pass the copies to <see cref="TensorScope.Untrack"/>.
/// Used by parity tests against diffusers' forward hooks and for debugging.
/// </summary>
public delegate void ActivationObserver(string name, Tensor value);

/// <summary>An observer together with the path of the module that reports to it.</summary>
internal readonly record struct Observe(ActivationObserver? Observer, string Path)
{
    public static readonly Observe None = new(null, "");

    public Observe Child(string name) => Observer is null ? this : new(Observer, Path.Length == 0 ? name : $"{Path}.{name}");

    public Observe Child(string name, int index) => Observer is null ? this : Child($"{name}.{index}");

    /// <summary>Reports <paramref name="value"/> as this module's output.</summary>
    public Tensor Report(Tensor value)
    {
        Observer?.Invoke(Path, value);
        return value;
    }
}
