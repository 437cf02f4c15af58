namespace Deja.Tensors.Nn;

/// <summary>nn.Dropout: active in training mode only (see <see cref="Ops.Dropout"/>); masks come from its own generator.</summary>
public sealed class Dropout : Module
{
    readonly Generator generator;

    public float P { get; }

    /// <param name="p">Probability of zeroing an element.</param>
    /// <param name="generator">Source of the masks; a generator seeded with 0 when omitted.</param>
    public Dropout(float p = 0.5f, Generator? generator = null)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), $"Dropout: p must be in [0, 1], got {p}");
        P = p;
        this.generator = generator ?? new Generator(0);
    }

    public Tensor Forward(Tensor x) => Ops.Dropout(x, P, generator, Training);
}
