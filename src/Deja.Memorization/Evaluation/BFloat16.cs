namespace Deja.Memorization.Evaluation;

/// <summary>
/// bf16 rounding for parity with J and A, whose stored scores pass through bfloat16 tensors before the
/// AUC is computed (METHODS.md §0.6); the rounding creates ties that change the ROC slightly.
/// </summary>
public static class BFloat16
{
    /// <summary>The float32 rounded to the nearest bfloat16 (ties to even), returned as a float32,
    /// as PyTorch's float→bfloat16 conversion does. NaN stays NaN; values past the bf16 range become ±∞.</summary>
    public static float Round(float value)
    {
        if (float.IsNaN(value)) return value;
        uint bits = BitConverter.SingleToUInt32Bits(value);
        // Adding 0x7FFF plus the lowest kept bit rounds the 16 dropped bits to nearest, ties to even;
        // a carry into the exponent is the correct rounding up (up to infinity).
        uint lsb = (bits >> 16) & 1;
        bits = (bits + 0x7FFFu + lsb) & 0xFFFF0000u;
        return BitConverter.UInt32BitsToSingle(bits);
    }

    /// <summary>A score (kept as double) through float32 then bf16: scores are computed in float32,
    /// so the float step is exact for them.</summary>
    public static double Round(double value) => Round((float)value);
}
