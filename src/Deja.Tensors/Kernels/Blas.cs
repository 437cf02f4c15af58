using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Deja.Tensors.Kernels;

/// <summary>
/// OpenBLAS, found at run time (Debian: libopenblas0-pthread). When it is absent Deja says so once on
/// stderr and uses its managed GEMM.
///
/// Core type rule. OpenBLAS picks its kernels when the library loads, from OPENBLAS_CORETYPE or CPU
/// detection; 0.3.21 detects Zen 4/5 as "Zen" (AVX2 kernels) and some environments pin Haswell,
/// which halves sgemm speed on CPUs with AVX-512. So, before loading, Deja applies its own setting
/// DEJA_OPENBLAS_CORETYPE:
///   unset or "auto": SkylakeX (the AVX-512 kernels) when the CPU has AVX-512 F/BW/DQ/VL, otherwise
///                    whatever the environment says;
///   "env":           leave OPENBLAS_CORETYPE and OpenBLAS's detection alone;
///   any other name:  use that core type (e.g. Haswell).
/// Set DEJA_BLAS=managed to skip OpenBLAS altogether, DEJA_OPENBLAS_PATH to load a specific file.
/// </summary>
public static unsafe class Blas
{
    const int RowMajor = 101, NoTrans = 111, Trans = 112;

    static readonly object Gate = new();
    static bool initialized;
    static delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> sgemm;
    static delegate* unmanaged<int, void> setThreads;
    static delegate* unmanaged<byte*> getCorename;
    static string? libraryPath;
    static string? requestedCore;

    /// <summary>True when OpenBLAS was found and loaded.</summary>
    public static bool Available { get { Init(); return sgemm != null; } }

    /// <summary>The file that was loaded, or null.</summary>
    public static string? LibraryPath { get { Init(); return libraryPath; } }

    /// <summary>The core type Deja asked for before loading (null if it left the choice to OpenBLAS).</summary>
    public static string? RequestedCoreType { get { Init(); return requestedCore; } }

    /// <summary>The kernels OpenBLAS actually uses (openblas_get_corename), or "managed".</summary>
    public static string CoreName
    {
        get
        {
            Init();
            if (getCorename == null) return sgemm == null ? "managed" : "unknown";
            return Marshal.PtrToStringAnsi((nint)getCorename()) ?? "unknown";
        }
    }

    public static bool CpuHasAvx512 =>
        Avx512F.IsSupported && Avx512BW.IsSupported && Avx512DQ.IsSupported && Avx512F.VL.IsSupported;

    [DllImport("libc", EntryPoint = "setenv")]
    static extern int SetEnv(string name, string value, int overwrite);

    static void Init()
    {
        if (initialized) return;
        lock (Gate)
        {
            if (initialized) return;
            try { Load(); }
            finally { initialized = true; }
        }
    }

    static void Load()
    {
        if (string.Equals(Environment.GetEnvironmentVariable("DEJA_BLAS"), "managed", StringComparison.OrdinalIgnoreCase))
            return;
        var setting = Environment.GetEnvironmentVariable("DEJA_OPENBLAS_CORETYPE");
        string? core = setting switch
        {
            null or "" or "auto" => CpuHasAvx512 ? "SkylakeX" : null,
            "env" => null,
            _ => setting,
        };
        if (core is not null)
        {
            // The native environment, not .NET's copy: OpenBLAS reads getenv() in its constructor.
            SetEnv("OPENBLAS_CORETYPE", core, 1);
            Environment.SetEnvironmentVariable("OPENBLAS_CORETYPE", core);
            requestedCore = core;
        }
        foreach (var c in Candidates())
        {
            if (!NativeLibrary.TryLoad(c, out var handle)) continue;
            if (!NativeLibrary.TryGetExport(handle, "cblas_sgemm", out var f)) continue;
            sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)f;
            if (NativeLibrary.TryGetExport(handle, "openblas_set_num_threads", out var t))
                setThreads = (delegate* unmanaged<int, void>)t;
            if (NativeLibrary.TryGetExport(handle, "openblas_get_corename", out var n))
                getCorename = (delegate* unmanaged<byte*>)n;
            libraryPath = c;
            if (setThreads != null) setThreads(OwnThreads(Threading.Threads));
            return;
        }
        Console.Error.WriteLine(MissingMessage(Candidates()));
    }

    /// <summary>Where Deja looks: DEJA_OPENBLAS_PATH if set, then the usual names and Debian's folder.</summary>
    internal static string[] Candidates()
    {
        var custom = Environment.GetEnvironmentVariable("DEJA_OPENBLAS_PATH");
        string[] standard =
        [
            "libopenblas.so.0",
            "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
            "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
            "libopenblas.so",
            "libopenblas.dylib",
            "libopenblas.dll",
        ];
        return string.IsNullOrEmpty(custom) ? standard : [custom, .. standard];
    }

    internal static string MissingMessage(IEnumerable<string> tried) =>
        "deja: OpenBLAS was not found (tried " + string.Join(", ", tried) + "); matrix products (sgemm: matmul, linear, " +
        "conv2d, attention) use Deja's managed kernels, which are several times slower. " +
        "Install it with: apt-get install libopenblas0-pthread, or point DEJA_OPENBLAS_PATH at libopenblas.";

    /// <summary>OpenBLAS's own thread count for Deja's setting: 1 when Deja partitions GEMMs itself.</summary>
    static int OwnThreads(int dejaThreads) => Gemm.DejaPartitions ? 1 : dejaThreads;

    internal static void SetThreads(int n)
    {
        if (!initialized) return; // applied at load
        if (setThreads != null) setThreads(OwnThreads(n));
    }

    /// <summary>Row-major C = alpha·op(A)·op(B) + beta·C through cblas_sgemm. Caller checks sizes.</summary>
    internal static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        sgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
}
