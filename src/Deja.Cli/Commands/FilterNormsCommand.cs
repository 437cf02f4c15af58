using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Deja.Diffusion.Pipelines;
using Deja.Diffusion.Training;
using Deja.Memorization.Evaluation;

namespace Deja.Cli;

/// <summary>
/// `deja filter-norms`: the distribution of r = ‖ε_c − ε_u‖ (Wen et al.'s training-time filter, METHODS.md
/// §1.4) over a training folder under a model, per kind of example, so that `deja train --filter-threshold τ`
/// can take a τ measured on this model family rather than SD1's README value.
/// </summary>
public static class FilterNormsCommand
{
    static readonly double[] Quantiles = [0.05, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99];

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder (diffusers layout), e.g. a snapshot of a training run", Required = true };
        var data = new Option<string>("--data") { Description = "Training folder (captions.jsonl; a row's \"kind\" groups the table, else its repeat count)", Required = true };
        var draws = new Option<int>("--draws") { Description = "Draws of (t, noise) per example", DefaultValueFactory = _ => 4 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the draws", DefaultValueFactory = _ => 0UL };
        var offset = new Option<double>("--offset-noise") { Description = "Offset noise as in training (deja train's default)", DefaultValueFactory = _ => 0.1 };
        var batch = new Option<int>("--batch") { Description = "Samples per UNet call (does not change the result)", DefaultValueFactory = _ => 32 };
        var tau = new Option<double[]>("--tau") { Description = "Thresholds at which to report the fraction of each kind the filter would keep (r < τ)", AllowMultipleArgumentsPerToken = true };
        var output = new Option<string?>("--out") { Description = "Also write one JSON row per sample (example, file, kind, t, norm) to this file" };
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON instead of a table" };
        var cmd = new Command("filter-norms", "Measure ‖ε_c − ε_u‖ on a training folder under a model, per kind: the quantity `deja train --filter-threshold τ` compares with τ\n\n" +
            "Example: deja filter-norms --model data/models/deja-mini-early --data synth --tau 1 2 3")
        {
            model, data, draws, seed, offset, batch, tau, output, json,
        };
        cmd.SetAction(pr => Run(pr.GetValue(model)!, pr.GetValue(data)!, pr.GetValue(draws), pr.GetValue(seed), pr.GetValue(offset), pr.GetValue(batch),
            pr.GetValue(tau) ?? [], pr.GetValue(output), pr.GetValue(json)));
        return cmd;
    }

    static int Run(string modelDir, string dataDir, int draws, ulong seed, double offsetNoise, int batch, double[] taus, string? outFile, bool json)
    {
        if (draws < 1) throw new ArgumentException($"filter-norms: --draws must be at least 1, got {draws}");
        if (batch < 1) throw new ArgumentException($"filter-norms: --batch must be at least 1, got {batch}");
        foreach (var t in taus) if (!(t > 0)) throw new ArgumentException($"filter-norms: every --tau must be positive, got {t}");
        var pipe = StableDiffusionPipeline.Load(modelDir);
        if (pipe.Vae is not null) throw new ArgumentException("filter-norms: this model has a VAE; the survey encodes no images, so it needs a pixel-space model such as deja-mini");
        var unet = pipe.UNet.Config;
        int size = unet.SampleSize ?? throw new ArgumentException("filter-norms: the model's unet/config.json gives no sample_size");
        var folder = CaptionedImageFolder.Load(dataDir, size);
        var kinds = KindsByFile(dataDir);
        string KindOf(int e) => kinds.GetValueOrDefault(folder.Files[e]) ?? $"repeats {folder.Examples[e].Repeats}";
        var schedule = Trainer.CreateSchedule();
        var progress = new Progress("filter-norms", folder.Examples.Count * draws);
        var samples = ConditionNorms.Survey(pipe.UNet, pipe.TextEncoder.Model, pipe.TextEncoder.Tokenizer, schedule, folder.Examples,
            unet.InChannels, size, draws, seed, offsetNoise, batch, (done, _) => progress.Report(done));
        if (outFile is not null)
        {
            using var w = new StreamWriter(outFile);
            foreach (var s in samples)
                w.WriteLine(new JsonObject { ["example"] = s.Example, ["file"] = folder.Files[s.Example], ["kind"] = KindOf(s.Example), ["t"] = s.Timestep, ["norm"] = Math.Round(s.Norm, 5) }.ToJsonString());
        }
        var groups = samples.GroupBy(s => KindOf(s.Example)).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (Kind: g.Key, Norms: g.Select(s => (double)s.Norm).Order().ToArray())).Append(("all", samples.Select(s => (double)s.Norm).Order().ToArray())).ToList();
        var summary = new JsonObject { ["model"] = pipe.Info.Id, ["data"] = Path.GetFullPath(dataDir), ["draws"] = draws, ["seed"] = seed, ["offset_noise"] = offsetNoise };
        var rows = new JsonArray();
        foreach (var (kind, norms) in groups)
        {
            var row = new JsonObject { ["kind"] = kind, ["samples"] = norms.Length, ["mean"] = Math.Round(norms.Average(), 4) };
            foreach (var q in Quantiles) row[$"p{q * 100:0}"] = Math.Round(Percentile.OfSorted(norms, 100 * q), 4);
            row["max"] = Math.Round(norms.Max(), 4);
            foreach (var t in taus) row[$"kept_below_{t.ToString(CultureInfo.InvariantCulture)}"] = Math.Round(norms.Count(v => v < t) / (double)norms.Length, 4);
            rows.Add(row);
        }
        summary["kinds"] = rows;
        if (json) { Console.WriteLine(summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true })); return 0; }
        Console.WriteLine($"‖ε_c − ε_u‖ under {modelDir} ({pipe.Info.Id}), {draws} draws per example, t ~ U{{0..{schedule.TrainTimesteps - 1}}}");
        var header = new List<string> { "kind", "samples", "mean" };
        header.AddRange(Quantiles.Select(q => $"p{q * 100:0}")); header.Add("max");
        header.AddRange(taus.Select(t => $"kept<{t.ToString(CultureInfo.InvariantCulture)}"));
        Console.WriteLine(string.Join('\t', header));
        foreach (var row in rows)
            Console.WriteLine(string.Join('\t', row!.AsObject().Select(kv => kv.Value is null ? "" : kv.Value.GetValueKind() == JsonValueKind.Number ? double.Parse(kv.Value.ToJsonString(), CultureInfo.InvariantCulture).ToString(kv.Key.StartsWith("kept", StringComparison.Ordinal) ? "P1" : "0.###", CultureInfo.InvariantCulture) : kv.Value.ToString())));
        return 0;
    }

    /// <summary>file → "kind" from captions.jsonl (deja synth writes verbatim/template/diverse); rows without one are left out.</summary>
    static Dictionary<string, string> KindsByFile(string dataDir)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(Path.Combine(dataDir, CaptionedImageFolder.CaptionsFile)))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.TryGetProperty("file", out var f) && doc.RootElement.TryGetProperty("kind", out var k) && k.ValueKind == JsonValueKind.String)
                    map[f.GetString()!] = k.GetString()!;
            }
            catch (JsonException) { } // CaptionedImageFolder.Load has already reported malformed rows
        }
        return map;
    }
}
