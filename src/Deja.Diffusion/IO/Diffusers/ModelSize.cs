using Deja.Tensors;

namespace Deja.Diffusion.IO;

/// <summary>
/// Compares the size of the model a config describes with the weights file meant to fill it, before
/// the model is built: a config that claims a huge model (damaged, or paired with the wrong weights)
/// is refused without allocating it, so what a load allocates is bounded by the file it reads.
/// </summary>
public static class ModelSize
{
    /// <summary>The smallest element a float tensor can be stored in (F16/BF16).</summary>
    const int MinBytesPerParameter = 2;

    /// <summary>
    /// Parameters of a layout, counted until they pass <paramref name="limit"/> (then the count so far is
    /// returned: enough to know the layout is too large, without enumerating the rest of a huge one).
    /// Saturates at long.MaxValue instead of overflowing.
    /// </summary>
    public static long Parameters(IEnumerable<CheckpointLayout.Item> layout, long limit = long.MaxValue)
    {
        long total = 0;
        foreach (var item in layout)
        {
            long n = 1;
            foreach (var d in item.Shape) n = d == 0 ? 0 : n > long.MaxValue / d ? long.MaxValue : n * d;
            total = total > long.MaxValue - n ? long.MaxValue : total + n;
            if (total > limit) break;
        }
        return total;
    }

    /// <summary>The problem, or null when the file's tensor data is large enough for the layout (pass a lazy one, e.g. <see cref="CheckpointLayout.UNetItems"/>).</summary>
    public static string? Mismatch(IEnumerable<CheckpointLayout.Item> layout, SafeTensorsFile file, string configSource)
    {
        long available = file.FileLength - file.DataStart, budget = available / MinBytesPerParameter;
        long parameters = Parameters(layout, budget);
        if (parameters <= budget) return null;
        return $"{configSource} describes a model of more than {budget} parameters ({MinBytesPerParameter} bytes each at least), " +
               $"but '{file.Path}' holds only {available} bytes of tensor data: the config does not belong to these weights";
    }

    /// <summary>Throws <see cref="DejaException"/> when the file cannot hold the model the layout describes.</summary>
    public static void CheckFits(IEnumerable<CheckpointLayout.Item> layout, SafeTensorsFile file, string configSource)
    {
        if (Mismatch(layout, file, configSource) is { } problem) throw new DejaException(problem);
    }
}
