using System.CommandLine;

namespace Deja.Cli;

/// <summary>`deja bench ...`: speed and memory measurements (never timed unit tests).</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Measure speed and memory of Deja's kernels and models\n\nExample: deja bench detect --config sd1 --batch 1,8");
        bench.Subcommands.Add(OpsBench.Command());
        bench.Subcommands.Add(LoadBench.Command());
        bench.Subcommands.Add(TextBench.Command());
        bench.Subcommands.Add(VaeBench.Command());
        bench.Subcommands.Add(UNetBench.Command());
        bench.Subcommands.Add(DetectBench.Command());
        bench.Subcommands.Add(TrainBench.Command());
        bench.Subcommands.Add(DeterminismBench.Command());
        bench.Subcommands.Add(EnvironmentReport.Command());
        bench.Subcommands.Add(PanelsBench.Command());
        bench.Subcommands.Add(LocalizeBench.Command());
        bench.Subcommands.Add(MitigateBench.Command());
        bench.Subcommands.Add(ServeBench.Command());
        return bench;
    }
}
