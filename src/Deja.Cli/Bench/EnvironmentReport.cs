using System.CommandLine;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Deja.Tensors.Kernels;

namespace Deja.Cli;

/// <summary>
/// `deja bench env`: what this process computes with — the CPU's instruction sets as .NET sees them
/// (after DOTNET_EnableAVX512=0 and the like), the SIMD path Deja's kernels take, the BLAS and its
/// kernels, the thread count and how GEMMs are partitioned. CI prints it for each leg, so a log says
/// which legs really ran different code.
/// </summary>
public static class EnvironmentReport
{
    public static Command Command()
    {
        var cmd = new Command("env", "Print the instruction sets, SIMD path, BLAS and threads this process uses\n\nExample: deja bench env");
        cmd.SetAction(_ => { Console.WriteLine(Describe()); return 0; });
        return cmd;
    }

    public static string Describe()
    {
        var isa = new List<string>();
        if (Avx512F.IsSupported) isa.Add("avx512f");
        if (Avx2.IsSupported) isa.Add("avx2");
        if (Fma.IsSupported) isa.Add("fma");
        if (System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported) isa.Add("neon");
        if (isa.Count == 0) isa.Add("none");
        string blas = Blas.Available ? $"OpenBLAS {Blas.CoreName}" : "managed";
        string gemm = Gemm.DejaPartitions ? "Deja panels, single-threaded BLAS" : "BLAS threads";
        return $"arch {RuntimeInformation.ProcessArchitecture}, isa {string.Join('+', isa)}, simd {Simd.Best} " +
               $"(Vector512 {(Vector512.IsHardwareAccelerated ? "yes" : "no")}, Vector<float> {Vector<float>.Count} lanes), " +
               $"blas {blas}, gemm {gemm}, threads {Threading.Threads}";
    }
}
