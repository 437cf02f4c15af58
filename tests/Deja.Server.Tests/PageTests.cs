using System.Globalization;
using Deja.Memorization.Detection;
using Deja.Server.Tests.Support;
using Microsoft.Extensions.Hosting;
using PuppeteerSharp;

namespace Deja.Server.Tests;

/// <summary>A test that needs the system browser; skipped, saying why, where it is not installed (CI installs it).</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public const string Browser = "/usr/bin/chromium";

    public ChromiumFactAttribute()
    {
        if (!File.Exists(Browser)) Skip = $"{Browser} is not installed (apt-get install chromium; .ci/run installs it): the web page is not tested";
    }
}

/// <summary>The web page at / driven in headless Chromium against a real Kestrel server on a free port.</summary>
public class PageTests
{
    static readonly string[] Prompts =
    [
        "a red circle on a dotted background",
        "<img src=x onerror=\"window.pwned=1\">",
        "<script>window.pwned=2</script> & \"quotes\"",
    ];

    [ChromiumFact]
    public async Task The_page_screens_typed_prompts_shows_them_as_text_and_works_from_the_keyboard()
    {
        var reference = Models.Run(Models.TinySd1).Run(Prompts).SelectMany(b => b).Select(r => r.Scores["anisotropy"]).ToArray();
        double threshold = reference.Order().ElementAt(1) - 1e-9; // flags the two highest scores
        var service = new ScreeningService(new ServerSettings { Port = 0, Log = TextWriter.Null });
        service.Attach(Screener.Create(Models.Run(Models.TinySd1), threshold: threshold));
        using var host = DejaServer.CreateHostBuilder(service).Build();
        await host.StartAsync();
        try
        {
            string address = DejaServer.Address(host);
            await using var browser = await Puppeteer.LaunchAsync(new LaunchOptions
            {
                Headless = true, ExecutablePath = ChromiumFactAttribute.Browser,
                Args = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"], // root in CI: no sandbox
            });
            await using var page = await browser.NewPageAsync();
            var problems = new List<string>();
            page.Console += (_, e) => { if (e.Message.Type is ConsoleType.Error or ConsoleType.Warning) problems.Add(e.Message.Text); };
            page.PageError += (_, e) => problems.Add(e.Message);
            var response = await page.GoToAsync(address + "/");
            Assert.True(response.Ok, $"GET / answered {response.Status}");
            await page.WaitForFunctionAsync("() => document.getElementById('model-info').textContent.startsWith('Model ')");

            // Keyboard only: Tab to the prompt box, type, Ctrl+Enter.
            await page.Keyboard.PressAsync("Tab");
            Assert.Equal("prompts", await page.EvaluateExpressionAsync<string>("document.activeElement.id"));
            await page.Keyboard.TypeAsync(string.Join("\n", Prompts));
            await page.Keyboard.DownAsync("Control");
            await page.Keyboard.PressAsync("Enter");
            await page.Keyboard.UpAsync("Control");
            await page.WaitForSelectorAsync($"#results tbody tr:nth-child({Prompts.Length})");

            var cells = await page.EvaluateExpressionAsync<string[][]>(
                "[...document.querySelectorAll('#results tbody tr')].map(r => [...r.cells].map(c => c.textContent))");
            Assert.Equal(Prompts.Length, cells.Length);
            for (int i = 0; i < Prompts.Length; i++)
            {
                Assert.Equal(Prompts[i], cells[i][1]); // the markup is shown as the characters it is
                Assert.Equal(reference[i].ToString("F4", CultureInfo.InvariantCulture), cells[i][2]);
                Assert.Equal(reference[i] > threshold ? "flagged: likely memorized" : "not flagged", cells[i][4]);
            }
            Assert.Equal(2, cells.Count(c => c[4].StartsWith("flagged", StringComparison.Ordinal)));
            Assert.Equal("3 prompt(s) screened, 2 flagged.", await page.EvaluateExpressionAsync<string>("document.getElementById('status').textContent"));
            // Nothing a prompt contained became markup or ran.
            Assert.True(await page.EvaluateExpressionAsync<bool>("window.pwned === undefined"));
            Assert.Equal(0, await page.EvaluateExpressionAsync<int>("document.querySelectorAll('#results img, #results script').length"));

            // Tab on past the key field and the button to the first row's Explain button; Enter shows its token bars.
            for (int i = 0; i < 3; i++) await page.Keyboard.PressAsync("Tab");
            Assert.Equal("Explain prompt 1", await page.EvaluateExpressionAsync<string>("document.activeElement.getAttribute('aria-label')"));
            await page.Keyboard.PressAsync("Enter");
            await page.WaitForSelectorAsync("#explanation:not([hidden]) #bars li");
            var tokens = await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('#bars .token')].map(t => t.textContent)");
            Assert.Equal(["a·", "red·", "circle·", "on·", "a·", "dotted·", "background·"], tokens);
            Assert.Equal(Prompts[0], await page.EvaluateExpressionAsync<string>("document.getElementById('explanation-prompt').textContent"));
            Assert.Empty(problems);
        }
        finally
        {
            await host.StopAsync();
            await service.DisposeAsync();
        }
    }
}
