using System.Diagnostics;

namespace Deja.Diffusion.Models.UNet;

/// <summary>The kinds of work a UNet forward is split into by <see cref="UNetProfile"/>.</summary>
public enum UNetOpKind
{
    /// <summary>3×3 and strided convolutions (conv_in, resnets, down/upsamplers, conv_out, 1×1 shortcuts).</summary>
    Conv,
    /// <summary>The attention kernel itself: softmax(q·kᵀ)·v.</summary>
    Attention,
    /// <summary>Linear layers: q/k/v/out projections, feed-forward, proj_in/proj_out, time embedding.</summary>
    Linear,
    GroupNorm,
    LayerNorm,
    /// <summary>Adds (residuals, time embedding), GEGLU/GELU, SiLU.</summary>
    Elementwise,
    /// <summary>Copies that only move data: permutes to and from heads, concatenations, upsampling.</summary>
    Layout,
}

/// <summary>
/// Wall time per <see cref="UNetOpKind"/>, accumulated over the forwards it is attached to
/// (<see cref="UNet2DConditionModel.Profile"/>). Only leaf operations are timed, so the kinds add up
/// to (almost) the whole forward; the rest is bookkeeping.
/// </summary>
public sealed class UNetProfile
{
    static readonly UNetOpKind[] Kinds = Enum.GetValues<UNetOpKind>();
    readonly long[] ticks = new long[Kinds.Length];
    readonly long[] calls = new long[Kinds.Length];

    internal void Add(UNetOpKind kind, long elapsedTicks)
    {
        ticks[(int)kind] += elapsedTicks;
        calls[(int)kind]++;
    }

    public double Seconds(UNetOpKind kind) => ticks[(int)kind] / (double)Stopwatch.Frequency;
    public long Calls(UNetOpKind kind) => calls[(int)kind];
    public double TotalSeconds => Kinds.Sum(Seconds);

    public void Reset()
    {
        Array.Clear(ticks);
        Array.Clear(calls);
    }

    /// <summary>Seconds per kind, keyed by the lower-case name used in reports ("conv", "group_norm", ...).</summary>
    public IReadOnlyDictionary<string, double> ToDictionary() => Kinds.ToDictionary(Name, Seconds);

    public static string Name(UNetOpKind kind) => kind switch
    {
        UNetOpKind.GroupNorm => "group_norm",
        UNetOpKind.LayerNorm => "layer_norm",
        _ => kind.ToString().ToLowerInvariant(),
    };

    /// <summary>Times one leaf operation: <c>using (profile.Time(kind)) ...</c>; free when <paramref name="profile"/> is null.</summary>
    internal static Timer Time(UNetProfile? profile, UNetOpKind kind) => new(profile, kind);

    internal readonly struct Timer : IDisposable
    {
        readonly UNetProfile? profile;
        readonly UNetOpKind kind;
        readonly long start;

        public Timer(UNetProfile? profile, UNetOpKind kind)
        {
            this.profile = profile;
            this.kind = kind;
            start = profile is null ? 0 : Stopwatch.GetTimestamp();
        }

        public void Dispose() => profile?.Add(kind, Stopwatch.GetTimestamp() - start);
    }
}
