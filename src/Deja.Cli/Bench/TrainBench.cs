using System.CommandLine;
using System.Diagnostics;
using Deja.Diffusion.Text;
using Deja.Diffusion.Training;
using Deja.Tensors;
using Deja.Tensors.Kernels;

namespace Deja.Cli;

/// <summary>`deja bench train`: seconds per optimizer step of a mini model on random images (sets the training budget).</summary>
public static class TrainBench
{
    public static Command Command()
    {
        var config = new Option<string>("--config") { Description = "mini or toy", DefaultValueFactory = _ => "mini" };
        var batch = new Option<int>("--batch") { Description = "Images per step", DefaultValueFactory = _ => 32 };
        var steps = new Option<int>("--steps") { Description = "Timed steps (after 2 warm-up steps)", DefaultValueFactory = _ => 10 };
        var tokenizer = new Option<string>("--tokenizer") { Description = "CLIP tokenizer folder", DefaultValueFactory = _ => TrainCommand.DefaultTokenizer() };
        var filter = new Option<double?>("--filter-threshold") { Description = "Time steps of Wen's filtered training (one more UNet forward per step, for ε_u); τ itself only matters if it skips whole batches" };
        var augment = new Option<int>("--augment-random-tokens") { Description = "Time steps with Wen's random-token caption augmentation (N words)", DefaultValueFactory = _ => 0 };
        var profile = new Option<bool>("--profile") { Description = "Also print where the timed steps spent their time: phases, UNet forward by kind, backward by op" };
        var cmd = new Command("train", "Benchmark training steps of a mini model\n\nExample: deja bench train --config mini --batch 32") { config, batch, steps, tokenizer, filter, augment, profile };
        cmd.SetAction(pr =>
        {
            var cfg = MiniConfig.Get(pr.GetValue(config)!);
            int b = pr.GetValue(batch), n = pr.GetValue(steps);
            var g = new Generator(1);
            int size = cfg.Channels * cfg.ImageSize * cfg.ImageSize;
            var data = Enumerable.Range(0, 64).Select(i => new TrainingExample(
                Enumerable.Range(0, size).Select(_ => (float)Math.Tanh(g.NextNormal())).ToArray(), $"a random picture number {i}")).ToList();
            var trainer = new Trainer(cfg, new TrainerOptions { Steps = 2, BatchSize = b }, ClipTokenizer.Load(pr.GetValue(tokenizer)!));
            Console.Error.WriteLine($"{cfg.Name}: UNet {trainer.UNet.ParameterCount() / 1e6:F2} M, text encoder {trainer.TextModel.ParameterCount() / 1e6:F2} M parameters; batch {b}, {Threading.Threads} threads");
            trainer.Train(data);
            var sw = Stopwatch.StartNew();
            var options = new TrainerOptions { Steps = n, BatchSize = b, FilterThreshold = pr.GetValue(filter), AugmentRandomTokens = pr.GetValue(augment) };
            var timed = new Trainer(cfg, options, ClipTokenizer.Load(pr.GetValue(tokenizer)!));
            bool profiling = pr.GetValue(profile);
            var unetProfile = profiling ? new Deja.Diffusion.Models.UNet.UNetProfile() : null;
            if (profiling) { timed.UNet.Profile = unetProfile; Autograd.BackwardProfile = new(); }
            sw.Restart();
            timed.Train(data);
            double per = sw.Elapsed.TotalSeconds / n;
            if (profiling)
            {
                var backward = Autograd.BackwardProfile!;
                Autograd.BackwardProfile = null;
                Console.WriteLine($"per step, seconds ({n} steps):");
                foreach (var (phase, sec) in timed.PhaseSeconds) Console.WriteLine($"  {phase,-14} {sec / n,8:F4}");
                Console.WriteLine("UNet forward by kind:");
                foreach (var (kind, sec) in unetProfile!.ToDictionary().OrderByDescending(kv => kv.Value)) Console.WriteLine($"  {kind,-14} {sec / n,8:F4}");
                Console.WriteLine("backward by op (the UNet's and the text encoder's):");
                foreach (var (op, (sec, calls)) in backward.OrderByDescending(kv => kv.Value.Seconds).Take(20))
                    Console.WriteLine($"  {op,-22} {sec / n,8:F4}  ({calls / n} calls)");
            }
            string variant = (options.FilterThreshold is { } tau ? $", filter τ {tau}" : "") + (options.AugmentRandomTokens > 0 ? $", {options.AugmentRandomTokens} random words" : "");
            Console.WriteLine($"train_{cfg.Name}: batch {b}{variant}: {per:F3} s/step, {b / per:F0} images/s, peak RSS {BenchTimer.PeakRssMb():F0} MB; 60 min = {3600 / per:F0} steps");
            return 0;
        });
        return cmd;
    }
}
