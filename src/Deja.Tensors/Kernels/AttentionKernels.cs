using System.Numerics.Tensors;

namespace Deja.Tensors.Kernels;

/// <summary>The sizes of one attention call, with the batch and head dims folded into BH.</summary>
internal readonly record struct AttentionShape(int BH, int Lq, int Lk, int D, int Dv, bool Causal, float Scale);

/// <summary>
/// Memory-efficient scaled dot-product attention, O = softmax(scale·Q·Kᵀ [+ causal mask])·V, computed
/// a block of query rows at a time so the Lq×Lk score matrix never exists whole (at SD's 64×64
/// latents it would be 1 GB). Per block: S = scale·Q_blk·Kᵀ (sgemm), row softmax in place, O_blk = P·V
/// (sgemm). The forward keeps each row's logsumexp; the backward recomputes P from it block by block
/// (flash-attention style) and never stores P either.
///
/// Parallelism: tasks are (head, query block) in the forward and (head, chunk of query blocks) in the
/// backward, run by <see cref="Threading.For"/>, each task calling a single-threaded sgemm on its own
/// scratch. This breaks the rule of never calling Gemm inside a Threading loop, on purpose: measured
/// on 2 cores at SD self-attention (B2 H8 L4096 D40) the forward took 0.21 s this way against 0.45 s
/// with sequential blocks and OpenBLAS's own threads (which spin-wait between the many short calls:
/// 1.1 s of CPU against 0.44 s), and the row softmax runs in parallel too. OpenBLAS's thread count is
/// process-wide, so <see cref="WithSerialBlas"/> sets it to 1 for the duration of the loop and then
/// restores it; a concurrent Gemm elsewhere meanwhile runs single-threaded, slower but correct.
/// Single-threaded OpenBLAS reaches about 150 GFLOPS per core on these skinny products (K or N = head
/// dim 40), close to the core's peak, so there is no managed micro-kernel for them.
///
/// Block boundaries, chunks and the order in which partial dK/dV are summed depend only on the shapes,
/// so results do not depend on the thread count.
/// </summary>
internal static unsafe class AttentionKernels
{
    /// <summary>
    /// Score-block floats per task (2 MB: 128 query rows at 4096 keys). Measured at SD shapes, 64 to
    /// 512 rows are within a few percent; 16-row blocks lose 40% to sgemm's per-call overhead.
    /// </summary>
    const int ScoreBudget = 512 * 1024;
    /// <summary>Fewest query rows per block, however many keys (sgemm is inefficient below).</summary>
    const int MinRows = 64;
    /// <summary>Backward tasks per call the chunking aims for, so a few heads still fill the cores.</summary>
    const int MinBackwardTasks = 16;

    /// <summary>Tests set this (on their thread) to force small query blocks on small shapes.</summary>
    [ThreadStatic] internal static int BlockRowsOverride;

    internal static int BlockRows(int lq, int lk)
    {
        int rows = BlockRowsOverride > 0 ? BlockRowsOverride : Math.Max(MinRows, ScoreBudget / AttentionRows.Padded(lk) / 16 * 16);
        return Math.Max(1, Math.Min(rows, lq));
    }

    /// <summary>Keys visible to the rows of a block ending at row i1 (exclusive).</summary>
    static int KeysFor(in AttentionShape s, int i1) => s.Causal ? Math.Min(s.Lk, i1) : s.Lk;

    /// <summary>Keys visible to query row i.</summary>
    static int RowKeys(in AttentionShape s, int i, int blockKeys) => s.Causal ? Math.Min(i + 1, blockKeys) : blockKeys;

    // ------------------------------------------------------------------ forward

    /// <summary>o [BH, Lq, Dv] and lse [BH, Lq] (natural-log logsumexp of each row's scaled scores).</summary>
    public static void Forward(in AttentionShape s, float* q, float* k, float* v, float* o, float* lse)
    {
        if (s.BH == 0 || s.Lq == 0) return;
        int rows = BlockRows(s.Lq, s.Lk), blocks = (s.Lq + rows - 1) / rows;
        var shape = s;
        nint Q = (nint)q, K = (nint)k, V = (nint)v, O = (nint)o, Lse = (nint)lse;
        WithSerialBlas(s.BH * blocks, task =>
        {
            int bh = task / blocks, i0 = task % blocks * rows, i1 = Math.Min(shape.Lq, i0 + rows);
            var scratch = BufferPool.Rent(rows * AttentionRows.Padded(shape.Lk));
            try
            {
                fixed (float* sc = scratch)
                    ForwardBlock(shape, bh, i0, i1, (float*)Q, (float*)K, (float*)V, (float*)O, (float*)Lse, sc);
            }
            finally { BufferPool.Return(scratch); }
        });
    }

    static void ForwardBlock(in AttentionShape s, int bh, int i0, int i1, float* q, float* k, float* v, float* o, float* lse, float* sc)
    {
        int rows = i1 - i0, keys = KeysFor(s, i1), ld = AttentionRows.Padded(keys);
        float* qb = q + ((long)bh * s.Lq + i0) * s.D, kb = k + (long)bh * s.Lk * s.D, vb = v + (long)bh * s.Lk * s.Dv;
        float* ob = o + ((long)bh * s.Lq + i0) * s.Dv, lb = lse + (long)bh * s.Lq + i0;
        Gemm.Sgemm(false, true, rows, keys, s.D, s.Scale, qb, s.D, kb, s.D, 0f, sc, ld);
        // P is left unnormalized (entries in [0, 1]); dividing the Dv-wide output rows afterwards is cheaper.
        Span<float> inv = rows <= 1024 ? stackalloc float[rows] : new float[rows];
        for (int r = 0; r < rows; r++)
        {
            float* row = sc + (long)r * ld;
            int len = RowKeys(s, i0 + r, keys);
            float max = AttentionRows.Max(row, len);
            float sum = AttentionRows.ExpShifted(row, len, max);
            if (len < keys) new Span<float>(row + len, keys - len).Clear(); // causally masked keys
            inv[r] = 1f / sum;
            lb[r] = max + MathF.Log(sum);
        }
        Gemm.Sgemm(false, false, rows, s.Dv, keys, 1f, sc, ld, vb, s.Dv, 0f, ob, s.Dv);
        for (int r = 0; r < rows; r++) AttentionRows.Scale(ob + (long)r * s.Dv, s.Dv, inv[r]);
    }

    // ------------------------------------------------------------------ backward

    /// <summary>
    /// Gradients from dO [BH, Lq, Dv] given the forward's o and lse. dq/dk/dv may be null when not
    /// wanted. With P = exp(S − lse), dP = dO·Vᵀ and Δ = rowsum(dO ⊙ O):
    /// dV = Pᵀ·dO, dS = P ⊙ (dP − Δ), dQ = scale·dS·K, dK = scale·dSᵀ·Q.
    /// dK and dV sum over query blocks: each task owns a fixed chunk of consecutive blocks and adds
    /// them in order; chunk 0 writes into dk/dv, later chunks into partial buffers added afterwards
    /// in chunk order.
    /// </summary>
    public static void Backward(in AttentionShape s, float* q, float* k, float* v, float* o, float* lse, float* dO,
        float* dq, float* dk, float* dv)
    {
        if (s.BH == 0) return;
        long kSize = (long)s.Lk * s.D, vSize = (long)s.Lk * s.Dv;
        if (s.Lq == 0)
        {
            if (dk != null) new Span<float>(dk, checked((int)(s.BH * kSize))).Clear();
            if (dv != null) new Span<float>(dv, checked((int)(s.BH * vSize))).Clear();
            return;
        }
        int rows = BlockRows(s.Lq, s.Lk), blocks = (s.Lq + rows - 1) / rows;
        int chunks = Math.Clamp((MinBackwardTasks + s.BH - 1) / s.BH, 1, blocks);
        int perChunk = (blocks + chunks - 1) / chunks;
        chunks = (blocks + perChunk - 1) / perChunk;
        // Partial dK|dV for chunks 1.. of each head: [BH, chunks − 1, Lk·(D + Dv)].
        long partSize = kSize + vSize;
        float[]? partials = chunks > 1 && (dk != null || dv != null)
            ? BufferPool.Rent(checked((int)(s.BH * (chunks - 1) * partSize))) : null;
        var shape = s;
        nint Q = (nint)q, K = (nint)k, V = (nint)v, O = (nint)o, Lse = (nint)lse, DO = (nint)dO, DQ = (nint)dq, DK = (nint)dk, DV = (nint)dv;
        try
        {
            fixed (float* part = partials)
            {
                nint Part = (nint)part;
                WithSerialBlas(s.BH * chunks, task =>
                {
                    int bh = task / chunks, c = task % chunks;
                    float* accK = null, accV = null;
                    if (c == 0)
                    {
                        if (DK != 0) accK = (float*)DK + bh * kSize;
                        if (DV != 0) accV = (float*)DV + bh * vSize;
                    }
                    else
                    {
                        float* p = (float*)Part + (bh * (chunks - 1) + c - 1) * partSize;
                        if (DK != 0) accK = p;
                        if (DV != 0) accV = p + kSize;
                    }
                    if (accK != null) new Span<float>(accK, (int)kSize).Clear();
                    if (accV != null) new Span<float>(accV, (int)vSize).Clear();
                    int ld = AttentionRows.Padded(shape.Lk);
                    var scratch = BufferPool.Rent(2 * rows * ld);
                    try
                    {
                        fixed (float* sc = scratch)
                            for (int b = c * perChunk; b < Math.Min(blocks, (c + 1) * perChunk); b++)
                            {
                                int i0 = b * rows, i1 = Math.Min(shape.Lq, i0 + rows);
                                BackwardBlock(shape, bh, i0, i1, (float*)Q, (float*)K, (float*)V, (float*)O, (float*)Lse, (float*)DO,
                                    (float*)DQ, accK, accV, sc, sc + rows * ld);
                            }
                    }
                    finally { BufferPool.Return(scratch); }
                });
                if (partials is not null)
                    Threading.For(s.BH, bh =>
                    {
                        for (int c = 1; c < chunks; c++)
                        {
                            float* p = (float*)Part + (bh * (chunks - 1) + c - 1) * partSize;
                            if (DK != 0) AddInto((float*)DK + bh * kSize, p, kSize);
                            if (DV != 0) AddInto((float*)DV + bh * vSize, p + kSize, vSize);
                        }
                    });
            }
        }
        finally { if (partials is not null) BufferPool.Return(partials); }
    }

    static void AddInto(float* acc, float* x, long n)
    {
        var a = new Span<float>(acc, checked((int)n));
        TensorPrimitives.Add(a, new ReadOnlySpan<float>(x, (int)n), a);
    }

    static void BackwardBlock(in AttentionShape s, int bh, int i0, int i1, float* q, float* k, float* v, float* o, float* lse,
        float* dO, float* dq, float* accK, float* accV, float* p, float* ds)
    {
        int rows = i1 - i0, keys = KeysFor(s, i1), ld = AttentionRows.Padded(keys);
        long qRow = (long)bh * s.Lq + i0;
        float* qb = q + qRow * s.D, kb = k + (long)bh * s.Lk * s.D, vb = v + (long)bh * s.Lk * s.Dv;
        float* ob = o + qRow * s.Dv, dOb = dO + qRow * s.Dv, lb = lse + qRow;
        // P, exactly normalized through the saved logsumexp.
        Gemm.Sgemm(false, true, rows, keys, s.D, s.Scale, qb, s.D, kb, s.D, 0f, p, ld);
        for (int r = 0; r < rows; r++)
        {
            float* row = p + (long)r * ld;
            int len = RowKeys(s, i0 + r, keys);
            AttentionRows.ExpShifted(row, len, lb[r]);
            if (len < keys) new Span<float>(row + len, keys - len).Clear();
        }
        if (accV != null)
            Gemm.Sgemm(true, false, keys, s.Dv, rows, 1f, p, ld, dOb, s.Dv, 1f, accV, s.Dv);
        if (dq == null && accK == null) return;
        Gemm.Sgemm(false, true, rows, keys, s.Dv, 1f, dOb, s.Dv, vb, s.Dv, 0f, ds, ld);
        for (int r = 0; r < rows; r++)
        {
            float delta = AttentionRows.Dot(dOb + (long)r * s.Dv, ob + (long)r * s.Dv, s.Dv);
            AttentionRows.SoftmaxGrad(p + (long)r * ld, ds + (long)r * ld, keys, delta);
        }
        if (dq != null)
            Gemm.Sgemm(false, false, rows, s.D, keys, s.Scale, ds, ld, kb, s.D, 0f, dq + qRow * s.D, s.D);
        if (accK != null)
            Gemm.Sgemm(true, false, keys, s.D, rows, s.Scale, ds, ld, qb, s.D, 1f, accK, s.D);
    }

    // ------------------------------------------------------------------ threading

    static readonly object BlasGate = new();
    static int serialBlasSections;

    /// <summary>
    /// Runs the tasks on Deja's threads with OpenBLAS single-threaded meanwhile (each task's sgemm
    /// runs on the task's own thread), then gives OpenBLAS its thread count back. Counted, so that
    /// attention calls running at the same time on several threads restore it only when the last ends.
    /// </summary>
    static void WithSerialBlas(int count, Action<int> body)
    {
        if (Threading.Threads == 1 || count == 1)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        _ = Blas.Available; // load OpenBLAS now: loading applies Threading.Threads and would undo the override
        lock (BlasGate) if (serialBlasSections++ == 0) Blas.SetThreads(1);
        try { Threading.For(count, body); }
        finally { lock (BlasGate) if (--serialBlasSections == 0) Blas.SetThreads(Threading.Threads); }
    }
}
