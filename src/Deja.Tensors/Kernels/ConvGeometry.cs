namespace Deja.Tensors.Kernels;

/// <summary>
/// Sizes and buffer layout of one conv2d (groups 1, dilation 1, square stride and padding).
///
/// The kernels avoid classic im2col. The zero-padded input is split into stride×stride phase planes,
/// phase (ry, rx) holding padded pixels (s·i + ry, s·j + rx), each plane Hq×Wq. Output pixel (y, x)
/// reads tap (ky, kx) from phase (ky mod s, kx mod s) at plane position (y + ky div s, x + kx div s).
/// Writing outputs "wide", at column y·Wq + x of a row of Wq-wide lines, makes that position equal to
/// the output column plus a constant per tap, so tap t's input matrix is simply the phase planes
/// shifted by <see cref="TapOffset"/>: a plain strided GEMM operand, no copy. The columns with
/// x ≥ Wo are junk, dropped when the wide output is compacted (and zero in wide gradients).
/// With stride 1 the single phase is just the padded input.
///
/// Small images are batched: <see cref="Group"/> images sit side by side in a row (each a plane
/// apart), so a GEMM sees enough columns; their junk columns keep neighbouring images apart.
/// With few channels, <see cref="TapsPerGemm"/> taps are stacked into one GEMM of depth taps·C
/// (rows copied from the shifted planes, a contiguous memcpy each) because depth-C GEMMs would be
/// bound by re-reading the output.
///
/// Small outputs with many channels (SD's 32×32 and smaller levels) use <see cref="Im2col"/> instead:
/// there the tap-major weight copy ([O,T,C], as large as the weight) costs more than the columns,
/// and the junk columns are a large fraction of a small image. Im2col copies the junk-free columns
/// of all images, rows ordered (c, tap) so the weight is used in its own [O, C·T] layout, and runs
/// one GEMM of depth C·T. It is chosen when N·Ho·Wo ≤ 8·O (16·O for planes of at most 8×8), which
/// keeps the columns buffer within eight (sixteen) times the weight's size, and 256 MB.
/// </summary>
internal readonly struct ConvGeometry
{
    /// <summary>Columns a GEMM should see at least; smaller images are grouped up to this.</summary>
    const int GroupColumns = 4096;
    /// <summary>Depth below which taps are stacked into one GEMM.</summary>
    const int MinDepth = 256;
    /// <summary>Im2col when the batch has at most this many output pixels per output channel
    /// (measured: 32×32 and smaller SD levels gain 5–10% with it, 64×64 loses 10%).</summary>
    const long Im2colPixelsPerOutput = 8;
    /// <summary>Output planes this small (8×8) have a third of their wide columns junk (10×10 padded
    /// planes): there im2col pays up to twice the pixels per output channel (measured: deja-mini's
    /// 8×8 level at batch 32, 16 pixels per output channel, trains 5% faster; no SD shape changes path).</summary>
    const int SmallPlane = 64;
    /// <summary>The largest im2col matrix (256 MB); bigger problems use the shifted GEMMs.</summary>
    const long MaxIm2colFloats = 1L << 26;

    public readonly int N, C, H, W, O, Kh, Kw, Stride, Pad;
    public readonly int Ho, Wo, Hq, Wq, PhasesY, PhasesX, Group, TapsPerGemm;
    public readonly bool Im2col;

    /// <summary>Tests set this to run every shape through one strategy (null: choose by size).
    /// Per thread, so tests elsewhere running in parallel are unaffected.</summary>
    internal static bool? ForceIm2col { get => forceIm2col; set => forceIm2col = value; }
    [ThreadStatic] static bool? forceIm2col;

    public ConvGeometry(int n, int c, int h, int w, int o, int kh, int kw, int stride, int pad)
    {
        N = n; C = c; H = h; W = w; O = o; Kh = kh; Kw = kw; Stride = stride; Pad = pad;
        int hp = h + 2 * pad, wp = w + 2 * pad;
        Ho = (hp - kh) / stride + 1;
        Wo = (wp - kw) / stride + 1;
        Hq = (hp + stride - 1) / stride;
        Wq = (wp + stride - 1) / stride;
        PhasesY = Math.Min(stride, kh);
        PhasesX = Math.Min(stride, kw);
        long pixels = (long)n * Ho * Wo;
        long perOutput = (long)Ho * Wo <= SmallPlane ? 2 * Im2colPixelsPerOutput : Im2colPixelsPerOutput;
        Im2col = kh * kw > 1 && (ForceIm2col ?? (pixels <= perOutput * o && pixels * c * kh * kw <= MaxIm2colFloats));
        Group = Im2col ? Math.Max(n, 1) : Math.Clamp(GroupColumns / (Hq * Wq), 1, Math.Max(n, 1));
        TapsPerGemm = Math.Clamp((MinDepth + c - 1) / c, 1, kh * kw);
    }

    public int Taps => Kh * Kw;
    /// <summary>Floats of one phase plane of one channel of one image.</summary>
    public int Plane => Hq * Wq;
    /// <summary>Row length (leading dimension) of the phase and wide buffers: a group of planes.</summary>
    public int Ld => Group * Plane;
    public int Phases => PhasesY * PhasesX;
    public long PhaseLength => (long)Phases * C * Ld;
    public long WideLength => (long)O * Ld;
    public int InputPlane => H * W;
    public int OutputPlane => Ho * Wo;
    /// <summary>Columns of the im2col matrix: every output pixel of the batch.</summary>
    public long Im2colColumns => (long)N * Ho * Wo;

    /// <summary>Wide columns a GEMM computes for <paramref name="images"/> images of a group.</summary>
    public int Columns(int images) => (images - 1) * Plane + (Ho - 1) * Wq + Wo;

    /// <summary>Stride 1, no padding, one image per GEMM: the input itself is the phase buffer.</summary>
    public bool DirectInput => Stride == 1 && Pad == 0 && Group == 1;

    /// <summary>Stride 1, kernel width 1, one image per GEMM: wide rows have no junk, so the GEMM
    /// writes the output layout itself (leading dimension Ho·Wo).</summary>
    public bool DirectOutput => Stride == 1 && Kw == 1 && Group == 1;

    /// <summary>Where tap t's operand starts in the phase buffer (row 0 = channel 0).</summary>
    public long TapOffset(int t)
    {
        int ky = t / Kw, kx = t % Kw;
        int phase = ky % Stride * PhasesX + kx % Stride;
        return (long)phase * C * Ld + ky / Stride * Wq + kx / Stride;
    }
}
