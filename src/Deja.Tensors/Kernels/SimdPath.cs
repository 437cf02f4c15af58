using System.Numerics;
using System.Runtime.Intrinsics;

namespace Deja.Tensors.Kernels;

/// <summary>
/// Which instruction width a hand-vectorized kernel runs. Every such kernel has all three, so it is
/// right on every CPU and vectorized on every CPU that has SIMD:
///   Vector512: AVX-512 (Zen 4/5, Ice Lake and later);
///   Vector:    System.Numerics.Vector&lt;T&gt;, the platform's preferred width: 256 bits with AVX2/FMA
///              (Zen 3, Haswell and later, and AVX-512 CPUs), 128 bits with NEON on arm64;
///   Scalar:    plain code (no hardware intrinsics at all, e.g. DOTNET_EnableHWIntrinsic=0).
/// The kernels pick <see cref="Best"/> unless a test forces another supported path.
/// </summary>
public enum SimdPath { Scalar, Vector, Vector512 }

public static class Simd
{
    /// <summary>The widest path this process's JIT accelerates.</summary>
    public static SimdPath Best { get; } =
        Vector512.IsHardwareAccelerated ? SimdPath.Vector512
        : Vector.IsHardwareAccelerated ? SimdPath.Vector
        : SimdPath.Scalar;

    /// <summary>Whether <paramref name="path"/> runs in hardware here (the scalar path always does).</summary>
    public static bool Supports(SimdPath path) => path <= Best;

    /// <summary>A line for logs and benchmark headers: "Vector512 (Vector&lt;float&gt; 8 lanes)".</summary>
    public static string Describe() => $"{Best} (Vector<float> {Vector<float>.Count} lanes)";

    /// <summary>Refuses a path the CPU (or the runtime's settings) cannot run.</summary>
    public static SimdPath Check(SimdPath path) =>
        Supports(path) ? path : throw new PlatformNotSupportedException($"SIMD path {path} is not available here (best: {Best})");
}
