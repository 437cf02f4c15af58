using System.CommandLine;
using System.Text.Json;
using Deja.Diffusion.IO;

namespace Deja.Cli;

/// <summary>`deja bench load`: checkpoint loading speed on a generated full-size SD1 UNet file (3.4 GB fp32).</summary>
public static class LoadBench
{
    public static Command Command()
    {
        var dtype = new Option<string>("--dtype") { Description = "Storage type of the generated file: f32, f16 or bf16", DefaultValueFactory = _ => "f32" };
        var dir = new Option<string>("--dir") { Description = "Folder for the temporary file (needs 3.5 GB free for f32)", DefaultValueFactory = _ => Path.GetTempPath() };
        var json = new Option<bool>("--json") { Description = "One JSON object instead of text" };
        var cmd = new Command("load", "Time opening and reading a generated full-size SD1 UNet safetensors file\n\nExample: deja bench load --dtype f16") { dtype, dir, json };
        cmd.SetAction(pr =>
        {
            var type = pr.GetValue(dtype)!.ToLowerInvariant() switch
            {
                "f32" => SafeTensorsDType.F32,
                "f16" => SafeTensorsDType.F16,
                "bf16" => SafeTensorsDType.BF16,
                var other => throw new ArgumentException($"--dtype {other}: use f32, f16 or bf16"),
            };
            Console.Error.WriteLine("writing a full-size SD1 UNet file with random values, then reading it back ...");
            BenchTimer.Isolate();
            var r = SafeTensorsBench.LoadRandom(pr.GetValue(dir)!, type);
            if (pr.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["name"] = $"load_sd1_unet_{type.ToString().ToLowerInvariant()}", ["seconds"] = Math.Round(r.OpenSeconds + r.ReadSeconds, 4),
                    ["open_seconds"] = r.OpenSeconds, ["read_fresh_seconds"] = r.ReadSeconds, ["read_into_existing_seconds"] = r.ReadIntoSeconds,
                    ["file_bytes"] = r.FileBytes, ["tensors"] = r.Tensors, ["peak_rss_mb"] = Math.Round(BenchTimer.PeakRssMb(), 1),
                }));
            else Console.WriteLine(r);
            return 0;
        });
        return cmd;
    }
}
