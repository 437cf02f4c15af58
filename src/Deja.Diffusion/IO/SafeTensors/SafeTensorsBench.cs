using System.Diagnostics;
using Deja.Tensors;

namespace Deja.Diffusion.IO;

/// <summary>
/// Loading-speed check for full-size checkpoints (not a unit test: it writes a multi-GB file).
/// Meant to be called from a benchmark command.
/// </summary>
public static class SafeTensorsBench
{
    public sealed record Result(SafeTensorsDType DType, int Tensors, long Parameters, long FileBytes, double WriteSeconds,
                                double OpenSeconds, double ReadSeconds, double ReadIntoSeconds, double MappedReadIntoSeconds)
    {
        public override string ToString() =>
            $"{DType}: {Tensors} tensors, {Parameters / 1e6:F1} M parameters, {FileBytes / 1e9:F2} GB file: " +
            $"write {WriteSeconds:F2} s, open {OpenSeconds * 1e3:F1} ms, read all into fresh tensors {ReadSeconds:F2} s " +
            $"({FileBytes / 1e9 / ReadSeconds:F2} GB/s); into existing tensors {ReadIntoSeconds:F2} s " +
            $"(from the memory map instead: {MappedReadIntoSeconds:F2} s)";
    }

    /// <summary>The SD 1.x UNet config (diffusers defaults with CLIP ViT-L/14's 768-wide text features).</summary>
    public static UNet2DConditionConfig Sd1UNetConfig() =>
        UNet2DConditionConfig.Parse("""{"sample_size": 64, "cross_attention_dim": 768, "attention_head_dim": 8}""", "SD1 UNet (built in)");

    /// <summary>
    /// Writes a file with the tensor names and shapes of a full-size SD1 UNet (686 tensors, 859.5 M
    /// parameters) filled with random values, stored as <paramref name="dtype"/>, into
    /// <paramref name="directory"/>; then times opening it and reading every tensor as float32, once
    /// into freshly allocated tensors (what a model load does) and once into the same tensors again
    /// (with positional reads, then from the memory map, to compare the two read modes).
    /// The file is deleted afterwards unless <paramref name="keepFile"/>. The file was just written, so
    /// it is read from the page cache: this measures Deja's side, not the disk.
    /// </summary>
    public static Result LoadRandom(string directory, SafeTensorsDType dtype = SafeTensorsDType.F32, bool keepFile = false)
    {
        var layout = CheckpointLayout.UNet(Sd1UNetConfig());
        var path = Path.Combine(directory, $"deja-bench-sd1-unet-{dtype}.safetensors");
        long parameters = layout.Sum(l => (long)Shapes.Numel(l.Shape));

        var clock = Stopwatch.StartNew();
        SafeTensorsWriter.WriteGenerated(path, layout.Select(l => (l.Name, l.Shape)), RandomValues, dtype,
                                         new Dictionary<string, string> { ["format"] = "pt", ["generator"] = "Deja SafeTensorsBench" });
        double write = clock.Elapsed.TotalSeconds;
        try
        {
            // Start from a clean heap so the timed read pays for fresh memory like a first load does.
            BufferPool.Trim();
            GC.Collect();
            GC.WaitForPendingFinalizers();

            clock.Restart();
            using var file = SafeTensorsFile.Open(path);
            double open = clock.Elapsed.TotalSeconds;
            clock.Restart();
            var tensors = file.ReadTensors();
            double read = clock.Elapsed.TotalSeconds;
            clock.Restart();
            file.ReadInto(tensors);
            double readInto = clock.Elapsed.TotalSeconds;
            using var mapped = SafeTensorsFile.Open(path, SafeTensorsReadMode.MemoryMap);
            clock.Restart();
            mapped.ReadInto(tensors);
            double mappedReadInto = clock.Elapsed.TotalSeconds;

            foreach (var t in tensors.Values) t.Dispose();
            BufferPool.Trim();
            return new Result(dtype, layout.Count, parameters, new FileInfo(path).Length, write, open, read, readInto, mappedReadInto);
        }
        finally
        {
            if (!keepFile) File.Delete(path);
        }
    }

    /// <summary>Cheap deterministic values in [-0.05, 0.05): the content does not matter, only that pages are touched.</summary>
    static void RandomValues(long start, Span<float> destination)
    {
        ulong state = (ulong)start * 0x9E3779B97F4A7C15UL + 0x2545F4914F6CDD1DUL;
        for (int i = 0; i < destination.Length; i++)
        {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            destination[i] = ((state >> 40) * (1f / (1 << 24)) - 0.5f) * 0.1f;
        }
    }
}
