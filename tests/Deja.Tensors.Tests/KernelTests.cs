using Deja.Tensors.Kernels;
using Deja.Tensors.Tests.Support;

namespace Deja.Tensors.Tests;

[Collection(Deja.Tensors.Tests.ThreadSensitive.Name)]
public class KernelTests
{
    [Fact]
    public void OpenBlasIsLoadedWithAvx512KernelsWhenTheCpuHasThem()
    {
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
            Normwise.Close(mm1, mm2, 1e-5, "matmul");
            Assert.True(add1.AsSpan().SequenceEqual(add2), "elementwise must be bit-identical");
            Assert.True(s1.AsSpan().SequenceEqual(s2), "sum must be bit-identical");
        }
        finally { Threading.Threads = saved; }
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
