using Deja.Tensors.Kernels;

namespace Deja.Tensors.Tests;

/// <summary>
/// A test that forces one SIMD path: it runs only where this process can run that path, and is reported
/// as skipped, with the reason, elsewhere (e.g. Vector512 on an AVX2-only CPU or under
/// DOTNET_EnableAVX512=0; the Vector path under DOTNET_EnableHWIntrinsic=0).
/// </summary>
public sealed class SimdFactAttribute : FactAttribute
{
    public SimdFactAttribute(SimdPath path)
    {
        if (!Simd.Supports(path)) Skip = $"this CPU/runtime cannot run the {path} path (best here: {Simd.Best})";
    }
}
