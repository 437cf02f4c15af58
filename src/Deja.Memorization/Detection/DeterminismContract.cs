namespace Deja.Memorization.Detection;

/// <summary>
/// What Deja guarantees about the reproducibility of scores (README, "Determinism contract"), as numbers
/// that the tests assert:
/// <list type="bullet">
/// <item>same inputs, seed, thread count, batch size, CPU kind and BLAS → bit-identical scores;</item>
/// <item>any thread count (DEJA_THREADS) → bit-identical scores: every parallel split depends on the
///   shapes only (GEMM panels on the shapes and the machine's core count, never on the setting);</item>
/// <item>another batch size or batch composition (hence prompt order), another CPU kind (AVX-512,
///   AVX2, no SIMD), core count or BLAS (OpenBLAS, managed) → within <see cref="Tolerance"/>: these change the
///   order of float sums (row blocking of the products, vector width, FMA contraction).</item>
/// </list>
/// The tolerances are about 5× the largest difference `deja bench determinism` measured on deja-mini
/// (2026-12-07, 2-core EPYC with AVX-512: anisotropy and magnitude ≤ 1.3e-6 relative, the cosine term
/// ≤ 3.5e-7 absolute, sharpness ≤ 8.5e-4 relative: its finite-difference quotient divides ε's float
/// error by the step).
/// </summary>
public static class DeterminismContract
{
    /// <summary>(relative, absolute) tolerance of a score column across batch sizes, CPU kinds and BLAS.</summary>
    public static (double Relative, double Absolute) Tolerance(string column) =>
        column.StartsWith("sharpness", StringComparison.Ordinal) ? (5e-3, 1e-6) : (1e-5, 2e-6);

    /// <summary>Whether two scores of a column agree within the contract.</summary>
    public static bool Agree(string column, double a, double b)
    {
        var (rel, abs) = Tolerance(column);
        return Math.Abs(a - b) <= rel * Math.Max(Math.Abs(a), Math.Abs(b)) + abs;
    }
}
