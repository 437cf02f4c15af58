namespace Deja.Tensors;

/// <summary>Shape arithmetic and the checks that turn bad shapes into messages naming the op.</summary>
public static class Shapes
{
    public static int Numel(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (var d in shape) n *= d;
        if (n > Array.MaxLength) throw new ArgumentException($"shape {Str(shape)} has {n} elements, more than one tensor can hold");
        return (int)n;
    }

    public static string Str(ReadOnlySpan<int> shape) => "[" + string.Join(",", shape.ToArray()) + "]";

    public static void Validate(int[] shape, string op)
    {
        foreach (var d in shape)
            if (d < 0) throw new ArgumentException($"{op}: negative dimension in shape {Str(shape)}");
        Numel(shape);
    }

    /// <summary>Normalizes a possibly negative axis, or throws naming the op.</summary>
    public static int Axis(int axis, int rank, string op)
    {
        int a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) throw new ArgumentOutOfRangeException(nameof(axis), $"{op}: axis {axis} is out of range for a tensor of rank {rank}");
        return a;
    }

    public static int FlatIndex(int[] shape, int[] index)
    {
        if (index.Length != shape.Length) throw new ArgumentException($"index of rank {index.Length} for a tensor of shape {Str(shape)}");
        int flat = 0;
        for (int i = 0; i < shape.Length; i++)
        {
            int k = index[i] < 0 ? index[i] + shape[i] : index[i];
            if (k < 0 || k >= shape[i]) throw new IndexOutOfRangeException($"index {Str(index)} is outside shape {Str(shape)}");
            flat = flat * shape[i] + k;
        }
        return flat;
    }

    /// <summary>Row-major strides in elements.</summary>
    public static int[] Strides(ReadOnlySpan<int> shape)
    {
        var s = new int[shape.Length];
        int acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
        return s;
    }

    /// <summary>NumPy broadcasting of two shapes.</summary>
    public static int[] Broadcast(int[] a, int[] b, string op)
    {
        int r = Math.Max(a.Length, b.Length);
        var o = new int[r];
        for (int i = 0; i < r; i++)
        {
            int da = i < r - a.Length ? 1 : a[i - (r - a.Length)];
            int db = i < r - b.Length ? 1 : b[i - (r - b.Length)];
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"{op}: shapes {Str(a)} and {Str(b)} cannot be broadcast together");
            o[i] = da == 1 ? db : da;
        }
        return o;
    }

    public static bool Equal(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.SequenceEqual(b);

    /// <summary>Resolves one -1 in a reshape target.</summary>
    public static int[] Infer(int[] target, int numel, int[] from)
    {
        int known = 1, free = -1;
        for (int i = 0; i < target.Length; i++)
        {
            if (target[i] == -1)
            {
                if (free >= 0) throw new ArgumentException($"Reshape: more than one -1 in {Str(target)}");
                free = i;
            }
            else if (target[i] < 0) throw new ArgumentException($"Reshape: negative size in {Str(target)}");
            else known *= target[i];
        }
        var o = (int[])target.Clone();
        if (free >= 0)
        {
            if (known == 0 || numel % known != 0) throw new ArgumentException($"Reshape: cannot reshape {Str(from)} into {Str(target)}");
            o[free] = numel / known;
        }
        if (Numel(o) != numel) throw new ArgumentException($"Reshape: cannot reshape {Str(from)} ({numel} elements) into {Str(target)}");
        return o;
    }
}
