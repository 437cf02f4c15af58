using System.CommandLine;
using System.CommandLine.Invocation;

namespace Deja.Cli;

/// <summary>The deja command line: its commands, and the one place where errors become exit codes (see <see cref="ExitCodes"/>).</summary>
public static class DejaCli
{
    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("deja — find out what a text-to-image diffusion model has memorized, and stop it");
        root.Subcommands.Add(TokenizeCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(DetectCommand.Create());
        root.Subcommands.Add(CalibrateCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(SynthCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(FilterNormsCommand.Create());
        root.Subcommands.Add(ReplicateCommand.Create());
        root.Subcommands.Add(FuzzCommand.Create());
        root.Subcommands.Add(ExplainCommand.Create());
        root.Subcommands.Add(LocalizeCommand.Create());
        root.Subcommands.Add(EvalLocalizeCommand.Create());
        root.Subcommands.Add(MitigateCommand.Create());
        root.Subcommands.Add(MitigateSummaryCommand.Create());
        root.Subcommands.Add(JudgeCommand.Create());
        root.Subcommands.Add(ReportCommand.Create());
        root.Subcommands.Add(MergeCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        FiniteNumbers.RequireEverywhere(root);
        return root;
    }

    public static int Run(string[] args)
    {
        var parse = CreateRoot().Parse(args);
        // --help and --version clear parse errors; anything else with errors is a usage error.
        if (parse.Errors.Count > 0 && parse.Action is ParseErrorAction) return UsageErrors.Write(parse, Console.Error);
        try
        {
            // No process-termination handling by System.CommandLine: the commands that can save their
            // work listen for SIGINT/SIGTERM themselves (Interruption); the others keep the default action.
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null });
        }
        catch (Exception e)
        {
            return ErrorReport.Write(e, Console.Error, ErrorReport.DebugRequested());
        }
    }
}
