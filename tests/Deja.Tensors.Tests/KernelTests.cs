using Deja.Tensors.Kernels;
using Deja.Tensors.Tests.Support;

namespace Deja.Tensors.Tests;

[Collection(Deja.Tensors.Tests.ThreadSensitive.Name)]
public class KernelTests
{
    [Fact]
    public void OpenBlasIsLoadedWithAvx512KernelsWhenTheCpuHasThem()
    {
        if (string.Equals(Environment.GetEnvironmentVariable("DEJA_BLAS"), "managed", StringComparison.OrdinalIgnoreCase))
        {
            // CI's managed leg: the setting must keep OpenBLAS out of the process
            Assert.False(Blas.Available, "DEJA_BLAS=managed must not load OpenBLAS");
            return;
        }
        // CI installs libopenblas0-pthread; without it this test says why it fails.
        Assert.True(Blas.Available, "OpenBLAS not found: apt-get install libopenblas0-pthread");
        if (Blas.CpuHasAvx512 && Environment.GetEnvironmentVariable("DEJA_OPENBLAS_CORETYPE") is null or "" or "auto")
            Assert.Equal("SkylakeX", Blas.RequestedCoreType);
    }

    [Fact]
    public void MissingLibraryMessageSaysWhatAndHow()
    {
        var msg = Blas.MissingMessage(["/nonexistent/libopenblas.so.0"]);
        Assert.Contains("/nonexistent/libopenblas.so.0", msg);
        Assert.Contains("sgemm", msg);
        Assert.Contains("apt-get install libopenblas0-pthread", msg);
    }

    [Fact]
    public void SgemmAtAnSdShapeMatchesManagedKernel()
    {
        // The AVX-512 kernels Deja selects must agree with the portable kernel at a real UNet shape.
        var a = Rand.Normal(1, 256, 2880); var b = Rand.Normal(2, 2880, 320);
        var fast = Ops.MatMul(a, b).ToArray();
        Gemm.ForceManaged = true;
        float[] slow;
        try { slow = Ops.MatMul(a, b).ToArray(); }
        finally { Gemm.ForceManaged = false; }
        Close.All(slow, fast, 1e-4, 2e-4);
    }

    [Fact]
    public void ResultsWithOneAndTwoThreadsAgree()
    {
        var a = Rand.Normal(1, 300, 500); var b = Rand.Normal(2, 500, 200);
        var x = Rand.Normal(3, 64, 257, 33); var y = Rand.Normal(4, 257, 1);
        int saved = Threading.Threads;
        try
        {
            Threading.Threads = 1;
            var mm1 = Ops.MatMul(a, b).ToArray(); var add1 = Ops.Mul(x, y).ToArray(); var s1 = Ops.Sum(x, [1]).ToArray();
            Threading.Threads = 2;
            var mm2 = Ops.MatMul(a, b).ToArray(); var add2 = Ops.Mul(x, y).ToArray(); var s2 = Ops.Sum(x, [1]).ToArray();
            Assert.True(mm1.AsSpan().SequenceEqual(mm2), "matmul must be bit-identical");
            Assert.True(add1.AsSpan().SequenceEqual(add2), "elementwise must be bit-identical");
            Assert.True(s1.AsSpan().SequenceEqual(s2), "sum must be bit-identical");
        }
        finally { Threading.Threads = saved; }
    }

    /// <summary>
    /// Deja's GEMM panels: every transpose combination, split along rows and along columns, agrees with the
    /// managed kernel and gives the same bits for 1, 2 and 3 threads (with either BLAS).
    /// </summary>
    [Theory]
    [InlineData(false, false, 700, 90, 300)]
    [InlineData(true, false, 90, 700, 300)]
    [InlineData(false, true, 130, 1000, 200)]
    [InlineData(true, true, 1000, 77, 250)]
    public void PartitionedGemmIsRightAndThreadCountInvariant(bool transA, bool transB, int m, int n, int k)
    {
        int savedPanels = Gemm.PanelsPerProduct;
        Gemm.PanelsPerProduct = 4; // as on a 4-core machine, whatever this one has
        try
        {
            var (_, _, panels) = Gemm.Panels(m, n, k);
            Assert.True(panels > 1, "the shape must be large enough to be split");
            CheckPartitioned(transA, transB, m, n, k);
        }
        finally { Gemm.PanelsPerProduct = savedPanels; }
    }

    static void CheckPartitioned(bool transA, bool transB, int m, int n, int k)
    {
        var a = Rand.Normal(5, transA ? k * m : m * k).ToArray();
        var b = Rand.Normal(6, transB ? n * k : k * n).ToArray();
        var c0 = Rand.Normal(7, m * n).ToArray();
        float[] Run(int threads, bool managed)
        {
            var c = (float[])c0.Clone();
            int saved = Threading.Threads;
            Threading.Threads = threads;
            Gemm.ForceManaged = managed;
            try { Gemm.Sgemm(transA, transB, m, n, k, 0.5f, a, transA ? m : k, b, transB ? k : n, 0.25f, c, n); }
            finally { Threading.Threads = saved; Gemm.ForceManaged = false; }
            return c;
        }
        var two = Run(2, false);
        Close.All(Run(1, true), two, 1e-4, 2e-4);
        Assert.True(Run(1, false).AsSpan().SequenceEqual(two), "1 vs 2 threads");
        Assert.True(Run(3, false).AsSpan().SequenceEqual(two), "3 vs 2 threads");
    }

    [Fact]
    public void PanelsDependOnTheShapeAndTheCoreCountOnly()
    {
        int saved = Gemm.PanelsPerProduct;
        try
        {
            // columns when n ≥ m, rows otherwise; aligned widths; small products stay whole
            Gemm.PanelsPerProduct = 8;
            Assert.Equal((true, 1024, 8), Gemm.Panels(320, 8192, 2880));
            Assert.Equal((false, 1024, 8), Gemm.Panels(8192, 320, 320));
            Assert.Equal((true, 64, 1), Gemm.Panels(64, 64, 64));
            Gemm.PanelsPerProduct = 2;
            Assert.Equal((true, 4096, 2), Gemm.Panels(320, 8192, 2880));
            Assert.Equal((false, 192, 2), Gemm.Panels(300, 200, 100));
        }
        finally { Gemm.PanelsPerProduct = saved; }
        Assert.Equal(Math.Clamp(Environment.ProcessorCount, 1, 8), Gemm.PanelsPerProduct);
    }

    [Fact]
    public void SizeClassesWasteAtMostAnEighth()
    {
        foreach (var n in new[] { 16_384, 16_385, 100_000, 1 << 20, (1 << 20) + 1, 10_485_760, 123_456_789 })
        {
            int c = BufferPool.SizeClass(n);
            Assert.True(c >= n && c <= n + n / 8 + 1, $"{n} → {c}");
            Assert.Equal(c, BufferPool.SizeClass(c));
        }
        Assert.Equal(100, BufferPool.SizeClass(100));
    }
}
