using Deja.Cli.Tests.Support;
using Deja.Tensors;

namespace Deja.Cli.Tests;

/// <summary>The exit-code contract (0 ok, 1 bad input, 2 usage, 70 internal error, 130/143 interrupted) and its one-line messages.</summary>
public class ExitCodeTests
{
    [Theory]
    [InlineData("detect --n abc", "--n: 'abc' is not a whole number")]
    [InlineData("detect --n 99999999999", "--n: '99999999999' is not a whole number from -2147483648 to 2147483647")]
    [InlineData("detect --image-size big", "--image-size: 'big' is not a whole number")]
    [InlineData("detect --guidance NaN", "--guidance: 'NaN' is not a finite number")]
    [InlineData("detect --guidance 1e999", "--guidance: '1e999' is not a finite number")]
    [InlineData("generate --eta Infinity --model m --prompt p --out o.png", "--eta: 'Infinity' is not a finite number")]
    [InlineData("eval --positives a", "Option '--negatives' is required")]
    [InlineData("detect --no-such-option", "Unrecognized command or argument '--no-such-option'")]
    [InlineData("merge a.jsonl", "Option '--out' is required")]
    [InlineData("merge --out x.jsonl", "Required argument 'FILES' missing")]
    [InlineData("detect --shards many", "--shards: 'many' is not a whole number")]
    public void UsageErrorsExit2WithOneLineEachAndNoHelp(string commandLine, string message)
    {
        using var dir = new TempDir();
        var r = Support.Deja.Run(dir.Path, commandLine.Split(' '));
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains(message, r.Error);
        Assert.Contains("--help' for its options", r.Error);
        Assert.DoesNotContain("Description:", r.Error + r.Out); // not the whole help
        Assert.DoesNotContain("System.", r.Error);             // no .NET type names (System.Int32, System.Nullable`1)
        Assert.Empty(dir.Files());
    }

    [Fact]
    public void HelpIsNotAnError()
    {
        using var dir = new TempDir();
        var r = Support.Deja.Run(dir.Path, "detect", "--help");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("--allow-mixed", Support.Deja.Run(dir.Path, "eval", "--help").Out);
    }

    [Fact]
    public void BadInputExits1WithOneDejaLine()
    {
        using var dir = new TempDir();
        var r = Support.Deja.Run(dir.Path, "detect", "--model", dir.File("no-such-model"), "--prompts", dir.File("p.txt"), "--out", dir.File("s.jsonl"));
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Equal("deja: --model: '" + dir.File("no-such-model") + "' is not a folder (a diffusers pipeline folder, the name of a bundled model such as deja-mini, or analytic[:SEED])", Assert.Single(r.ErrorLines));
    }

    [Fact]
    public void DejaErrorsAndTheOlderInputExceptionsAreBadInput()
    {
        foreach (var e in new Exception[]
                 {
                     new DejaException("x"), new ArgumentException("x"), new InvalidDataException("x"), new FileNotFoundException("x"),
                     new IOException("x"), new UnauthorizedAccessException("x"),
                     new AggregateException(new DejaException("x")),
                 })
            Assert.Equal(ExitCodes.BadInput, ErrorReport.ExitCodeFor(e));
        // the readers' unsupported settings are DejaExceptions now: these two are bugs like any other
        Assert.Equal(ExitCodes.InternalError, ErrorReport.ExitCodeFor(new NotSupportedException("x")));
        Assert.Equal(ExitCodes.InternalError, ErrorReport.ExitCodeFor(new KeyNotFoundException("x")));
    }

    [Fact]
    public void AnythingElseIsAnInternalErrorWithoutAStackTraceUnlessDebugging()
    {
        var bug = Thrown(new InvalidOperationException("Sequence contains no elements"));
        Assert.Equal(ExitCodes.InternalError, ErrorReport.ExitCodeFor(bug));
        Assert.Equal(ExitCodes.InternalError, ErrorReport.ExitCodeFor(Thrown(new NullReferenceException())));

        var quiet = new StringWriter();
        Assert.Equal(70, ErrorReport.Write(bug, quiet, debug: false));
        var line = Assert.Single(quiet.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("deja: internal error (InvalidOperationException: Sequence contains no elements); this is a bug in deja, please report it", line);
        Assert.Contains("DEJA_DEBUG=1", line);
        Assert.DoesNotContain(" at ", line);

        var loud = new StringWriter();
        Assert.Equal(70, ErrorReport.Write(bug, loud, debug: true));
        Assert.Contains(nameof(Thrown), loud.ToString()); // the stack trace
    }

    [Fact]
    public void ExitCodesAreTheDocumentedOnes()
    {
        Assert.Equal((0, 1, 2, 70, 130, 143),
            (ExitCodes.Ok, ExitCodes.BadInput, ExitCodes.Usage, ExitCodes.InternalError, ExitCodes.Interrupted, ExitCodes.Terminated));
    }

    static Exception Thrown(Exception e)
    {
        try { throw e; }
        catch (Exception caught) { return caught; }
    }
}
