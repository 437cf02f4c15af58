using System.Diagnostics;
using System.Globalization;

namespace Deja.Cli;

/// <summary>
/// A progress bar with rate and ETA on stderr. On a terminal it redraws one line in place (`\r` and
/// the ANSI erase-to-end-of-line code, at most 10 times a second); when stderr is redirected (a log
/// file, CI) it writes a plain line at the start, then at most every <see cref="LineInterval"/>, and at
/// the end, so logs stay short and readable.
/// </summary>
public sealed class Progress
{
    const int BarWidth = 24;
    static readonly TimeSpan RedrawInterval = TimeSpan.FromMilliseconds(100);

    readonly string label;
    readonly int total;
    readonly TextWriter output;
    readonly bool interactive;
    readonly Stopwatch clock = Stopwatch.StartNew();
    TimeSpan lastDraw = TimeSpan.MinValue;
    int lastWidth;
    bool finished;

    /// <summary>Minimum time between lines when not on a terminal.</summary>
    public TimeSpan LineInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <param name="interactive">Redraw in place; default: stderr is a terminal.</param>
    public Progress(string label, int total, TextWriter? output = null, bool? interactive = null)
    {
        if (total < 1) throw new ArgumentOutOfRangeException(nameof(total), total, "progress: total must be at least 1");
        this.label = label;
        this.total = total;
        this.output = output ?? Console.Error;
        this.interactive = interactive ?? (output is null && !Console.IsErrorRedirected);
    }

    /// <summary>
    /// <paramref name="done"/> of the total units are finished; <paramref name="detail"/> is shown after
    /// the ETA. <paramref name="elapsed"/>: the work's own clock (default: time since this bar was made).
    /// </summary>
    public void Report(int done, string? detail = null, TimeSpan? elapsed = null)
    {
        if (finished) return;
        done = Math.Clamp(done, 0, total);
        var now = clock.Elapsed;
        var worked = elapsed ?? now;
        bool last = done == total;
        var interval = interactive ? RedrawInterval : LineInterval;
        if (!last && lastDraw != TimeSpan.MinValue && now - lastDraw < interval) return;
        lastDraw = now;
        var line = Line(done, worked, detail);
        if (interactive)
        {
            // pad over a longer previous line as well, for terminals that ignore the erase code
            output.Write("\r" + line + new string(' ', Math.Max(0, lastWidth - line.Length)) + "\x1b[K");
            lastWidth = line.Length;
            if (last) output.WriteLine();
        }
        else output.WriteLine(line);
        output.Flush();
        finished = last;
    }

    string Line(int done, TimeSpan elapsed, string? detail)
    {
        int filled = (int)((long)BarWidth * done / total);
        var bar = new string('=', filled) + (filled < BarWidth ? ">" + new string(' ', BarWidth - filled - 1) : "");
        var width = total.ToString(CultureInfo.InvariantCulture).Length;
        var text = $"{label} [{bar}] {done.ToString(CultureInfo.InvariantCulture).PadLeft(width)}/{total} {100 * done / total,3}%";
        if (done > 0)
        {
            var perUnit = elapsed / done;
            text += done == total
                ? $"  {Duration(elapsed)} ({Duration(perUnit)}/step)"
                : $"  {Duration(perUnit)}/step  ETA {Duration(perUnit * (total - done))}";
        }
        return detail is null ? text : $"{text}  {detail}";
    }

    /// <summary>"850 ms", "12.4 s", "3m05s", "1h02m".</summary>
    public static string Duration(TimeSpan t)
    {
        if (t.TotalSeconds < 1) return $"{t.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)} ms";
        if (t.TotalSeconds < 60) return $"{t.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s";
        if (t.TotalHours < 1) return $"{(int)t.TotalMinutes}m{t.Seconds:00}s";
        return $"{(int)t.TotalHours}h{t.Minutes:00}m";
    }
}
