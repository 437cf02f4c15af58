using System.Net.Http.Headers;
using System.Text;
using Deja.Diffusion.Pipelines;
using Deja.Memorization.Detection;
using Deja.Memorization.Models;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Hosting;

namespace Deja.Server.Tests.Support;

/// <summary>The repository's test data (testdata/ next to Deja.sln).</summary>
public static class Repo
{
    public static string Root { get; } = Find();

    static string Find()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (Directory.Exists(Path.Combine(d.FullName, "testdata")) && File.Exists(Path.Combine(d.FullName, "Deja.sln")))
                return d.FullName;
        throw new DirectoryNotFoundException("the repository root (Deja.sln, testdata/) was not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The tiny random-weight SD1 pipeline: a detector call takes milliseconds.</summary>
    public static string TinySd1 => Path.Combine(Root, "testdata", "golden", "tiny-sd1");
}

/// <summary>
/// Models and detection runs built the way `deja serve` builds them (the tiny SD1 pipeline, anisotropy at
/// detect's defaults), loaded once per test class that asks for them.
/// </summary>
public static class Models
{
    static readonly Lazy<StableDiffusionView> Tiny = new(() => new StableDiffusionView(StableDiffusionPipeline.Load(Repo.TinySd1)));

    public static StableDiffusionView TinySd1 => Tiny.Value;

    public static DetectionRun Run(IDiffusionModelView view, SeedPolicy policy = SeedPolicy.Same, int batch = 8, long seed = 51) => new()
    {
        Model = view, Detectors = [new AnisotropyDetector()], Noise = InitialNoise.Seeded(view.LatentShape, 1, seed, policy), BatchSize = batch,
    };
}

/// <summary>
/// The service under WebApplicationFactory: the same host builder `deja serve` runs (DejaServer.CreateHostBuilder),
/// with the test server in place of Kestrel. The model is attached at once unless <c>attach</c> is false.
/// </summary>
// TEntryPoint must come from an assembly with an entry point: the test assembly's (the test SDK generates one).
public sealed class ServerFactory : WebApplicationFactory<ServerFactory>
{
    public ScreeningService Service { get; }

    // The service serves nothing from disk; the factory still wants a content root, and looks for a
    // project folder beside Deja.sln unless this setting names one.
    static ServerFactory() => Environment.SetEnvironmentVariable("ASPNETCORE_TEST_CONTENTROOT_DEJA_SERVER_TESTS", AppContext.BaseDirectory);

    public ServerFactory(ServerSettings settings, Screener? screener)
    {
        Service = new ScreeningService(settings with { Log = TextWriter.Null });
        if (screener is not null) Service.Attach(screener);
    }

    public static ServerFactory Tiny(ServerSettings? settings = null, double? threshold = null, SeedPolicy policy = SeedPolicy.Same) =>
        new(settings ?? new ServerSettings(), Screener.Create(Models.Run(Models.TinySd1, policy), threshold: threshold));

    protected override IHostBuilder CreateHostBuilder() => DejaServer.CreateHostBuilder(Service);

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) Service.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}

public static class Http
{
    public static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    public static HttpRequestMessage Post(string path, string body, string? key = null)
    {
        var m = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(body) };
        if (key is not null) m.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return m;
    }
}
