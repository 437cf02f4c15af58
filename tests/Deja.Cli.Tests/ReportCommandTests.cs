using System.Text.Json;
using Deja.Cli.Tests.Support;
using Deja.Memorization.Tests.Reporting;
using PuppeteerSharp;

namespace Deja.Cli.Tests;

/// <summary>
/// `deja report` (issue 15 §2) end to end: the command writes the file, and the system's Chromium, driven
/// headless through PuppeteerSharp, opens it offline with no console error, no request but the file
/// itself, no script run, every figure drawn at a non-zero size, and a `&lt;script&gt;` prompt shown as text.
/// </summary>
public class ReportCommandTests
{
    /// <summary>Debian's chromium; .ci/run installs it. Its absence fails the test: a skipped browser check would prove nothing.</summary>
    const string Chromium = "/usr/bin/chromium";

    static string[] ReportArgs(ReportFixture f) =>
    [
        "report", "--out", "report.html", "--positives", f.Positives, "--negatives", f.Negatives, "--calibration", f.Calibration,
        "--bootstrap", "100", f.Scored, f.Explain, f.Localize, f.MitigateNone, f.MitigatePrompt,
    ];

    [Fact]
    public async Task TheReportOpensOfflineInChromiumWithEveryFigureAndNoConsoleError()
    {
        Assert.True(File.Exists(Chromium), $"the browser test needs Debian's chromium at {Chromium} (apt-get install chromium; .ci/run installs it)");
        using var f = new ReportFixture();
        var run = Support.Deja.Run(f.Dir, ReportArgs(f));
        Assert.True(run.ExitCode == 0, run.ToString());
        var path = Path.Combine(f.Dir, "report.html");
        Assert.Equal($"report: report.html ({new FileInfo(path).Length:N0} bytes)", run.Out.Trim());

        await using var browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage"],
        });
        await using var page = await browser.NewPageAsync();
        var problems = new List<string>();
        var requests = new List<string>();
        page.Console += (_, e) => { if (e.Message.Type is ConsoleType.Error or ConsoleType.Warning) problems.Add($"console {e.Message.Type}: {e.Message.Text}"); };
        page.PageError += (_, e) => problems.Add($"page error: {e.Message}");
        page.Dialog += async (_, e) => { problems.Add($"dialog (a script ran): {e.Dialog.Message}"); await e.Dialog.Dismiss(); };
        page.Request += (_, e) => { if (!e.Request.Url.StartsWith("data:", StringComparison.Ordinal)) requests.Add(e.Request.Url); };
        await page.SetViewportAsync(new ViewPortOptions { Width = 1280, Height = 900 });
        var response = await page.GoToAsync(new Uri(path).AbsoluteUri, WaitUntilNavigation.Load);
        Assert.True(response.Ok, $"loading {path}: {response.Status}");

        var seen = await page.EvaluateExpressionAsync<JsonElement>("""
            (() => {
              const sized = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
              const svgs = [...document.querySelectorAll('svg')];
              const imgs = [...document.images];
              return {
                sections: [...document.querySelectorAll('section')].map(s => s.id),
                svgs: svgs.length, svgsSized: svgs.filter(sized).length,
                imgs: imgs.length, imgsDecoded: imgs.filter(i => i.complete && i.naturalWidth > 0 && sized(i)).length,
                scripts: document.scripts.length,
                hostileAsText: document.body.innerText.split('<script>alert("x")</script> a red <b>circle</b> & \'quoted\'').length - 1,
                version: document.getElementById('deja-version').textContent,
              };
            })()
            """);
        Assert.Empty(problems);
        Assert.Equal([new Uri(path).AbsoluteUri], requests);
        Assert.Equal(["roc", "metrics", "histograms", "top", "explain", "localize", "mitigate"],
            seen.GetProperty("sections").EnumerateArray().Select(s => s.GetString()!));
        int svgs = 1 + ReportFixture.Columns.Length + 1, imgs = f.LocalizePrompts * ReportFixture.Maps.Length + 2 * f.MitigatePrompts * ReportFixture.Generations;
        Assert.Equal((svgs, svgs), (seen.GetProperty("svgs").GetInt32(), seen.GetProperty("svgsSized").GetInt32()));
        Assert.Equal((imgs, imgs), (seen.GetProperty("imgs").GetInt32(), seen.GetProperty("imgsDecoded").GetInt32()));
        Assert.Equal(0, seen.GetProperty("scripts").GetInt32());
        // The hostile prompt is read as text in the explain table, the localize and mitigate rows (the top-20 table may not reach it).
        Assert.InRange(seen.GetProperty("hostileAsText").GetInt32(), 3, 4);
        Assert.Equal(Deja.Tensors.DejaVersion.Text, seen.GetProperty("version").GetString());

        // The listener does hear the page: an error logged now is caught (so "no problems" above means none).
        await page.EvaluateExpressionAsync("console.error('probe')");
        for (int i = 0; i < 50 && problems.Count == 0; i++) await Task.Delay(20);
        Assert.Equal(["console Error: probe"], problems);
    }

    [Fact]
    public void BadInputsExitWith1AndOneLineAndWriteNothing()
    {
        using var f = new ReportFixture(positives: 4, negatives: 10, scored: 2, localizePrompts: 1, mitigatePrompts: 1);
        var missing = Support.Deja.Run(f.Dir, "report", "--out", "r.html", "nothere.jsonl");
        Assert.True(missing.ExitCode == 1, missing.ToString());
        Assert.Equal("deja: report: input nothere.jsonl does not exist", Assert.Single(missing.ErrorLines));
        var half = Support.Deja.Run(f.Dir, "report", "--out", "r.html", "--positives", f.Positives);
        Assert.True(half.ExitCode == 1, half.ToString());
        Assert.StartsWith("deja: report: --positives needs --negatives", Assert.Single(half.ErrorLines));
        var none = Support.Deja.Run(f.Dir, "report", "--out", "r.html");
        Assert.True(none.ExitCode == 1, none.ToString());
        Assert.False(File.Exists(Path.Combine(f.Dir, "r.html")));
        var help = Support.Deja.Run(f.Dir, "report", "--help");
        Assert.Contains("Example: deja report --out report.html", help.Out);
    }
}
