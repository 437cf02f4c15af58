using System.Text;
using Deja.Diffusion.IO;
using Deja.Diffusion.Pipelines;
using Deja.Memorization.Detection;
using Deja.Tensors;

namespace Deja.Memorization.Fuzzing;

/// <summary>
/// Weights files: every tensor read as Deja reads them (floats through both read modes, integers as
/// int64) and the content hash computed. Seeds: a hand-built file with every readable dtype, an empty
/// tensor and metadata, and the micro VAE's weights in F32, F16 and BF16.
/// </summary>
internal sealed class SafeTensorsTarget : FuzzTarget
{
    public override string Name => "safetensors";
    public override string DeeperStage => "past the header into tensor data";
    public override string FileName => "weights.safetensors";
    public override IReadOnlyList<FuzzMutation> Mutations => SafeTensorsMutations.All;

    /// <summary>F16 and BF16 widen 2× into float32 and U8/BOOL 8× into int64; parsing the header costs a few times its size.</summary>
    public override long AllocationLimit(long inputBytes) => 16 * inputBytes + (4L << 20);

    public override IReadOnlyList<byte[]> Prepare(string workDir)
    {
        var seeds = new List<byte[]> { AllDTypes() };
        var layout = CheckpointLayout.Vae(AutoencoderKLConfig.Parse(MicroPipeline.VaeConfig));
        var generator = new Generator(7);
        foreach (var dtype in new[] { SafeTensorsDType.F32, SafeTensorsDType.F16, SafeTensorsDType.BF16 })
        {
            var path = Path.Combine(workDir, $"seed-{dtype}.safetensors");
            var tensors = layout.Select(l => (l.Name, Tensor.RandN(generator, l.Shape))).ToList();
            SafeTensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt" }, dtype);
            foreach (var (_, t) in tensors) t.Dispose();
            seeds.Add(File.ReadAllBytes(path));
            File.Delete(path);
        }
        return seeds;
    }

    /// <summary>One tensor of every dtype Deja reads, an empty one and metadata, laid out back to back.</summary>
    internal static byte[] AllDTypes()
    {
        var parts = new List<(string Name, string DType, int[] Shape, byte[] Data)>
        {
            ("a", "F32", [2, 3], [.. new[] { 1.5f, -2f, 0.25f, 3e-3f, 1e4f, -0f }.SelectMany(BitConverter.GetBytes)]),
            ("b", "F16", [4], [.. new[] { (Half)1, (Half)(-0.5), (Half)65504, (Half)6e-5 }.SelectMany(h => BitConverter.GetBytes(h))]),
            ("c", "BF16", [2, 2], [0x80, 0x3F, 0x00, 0xC0, 0x49, 0x40, 0x00, 0x00]),
            ("d", "F64", [3], [.. new[] { 1.0, -1e30, 1e-300 }.SelectMany(BitConverter.GetBytes)]),
            ("empty", "F32", [0, 3], []),
            ("ids", "I64", [5], [.. new long[] { 0, 1, -1, long.MaxValue, 49407 }.SelectMany(BitConverter.GetBytes)]),
            ("i32", "I32", [2], [.. new[] { int.MinValue, 7 }.SelectMany(BitConverter.GetBytes)]),
            ("mask", "BOOL", [4], [1, 0, 1, 1]),
            ("u8", "U8", [3], [0, 128, 255]),
        };
        var header = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\",\"note\":\"fuzz seed\"}");
        long offset = 0;
        foreach (var (name, dtype, shape, data) in parts)
        {
            header.Append($",\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{string.Join(",", shape)}],\"data_offsets\":[{offset},{offset + data.Length}]}}");
            offset += data.Length;
        }
        header.Append('}');
        return SafeTensorsMutations.Build(header.ToString(), [.. parts.SelectMany(p => p.Data)]);
    }

    public override void Consume(string path, FuzzProbe probe)
    {
        using (var file = SafeTensorsFile.Open(path))
        {
            probe.Deeper();
            foreach (var e in file.Entries)
            {
                if (e.DType.IsReadableAsFloat()) file.ReadTensor(e.Name).Dispose();
                else if (e.DType.IsReadableAsInt64()) file.ReadInt64(e.Name);
            }
            file.ContentHash();
        }
        using var mapped = SafeTensorsFile.Open(path, SafeTensorsReadMode.MemoryMap);
        foreach (var t in mapped.ReadTensors().Values) t.Dispose();
    }
}

/// <summary>
/// Latents files given to generate (--latents) and detect: read both ways. Seeds: x_T alone, a generate
/// output (x_T and final latents), per-prompt rows, and F16 latents.
/// </summary>
internal sealed class LatentsTarget : FuzzTarget
{
    static readonly int[] LatentShape = [4, 8, 8];
    const int Prompts = 2;

    public override string Name => "latents";
    public override string DeeperStage => "past the header into tensor data";
    public override string FileName => "latents.safetensors";
    public override IReadOnlyList<FuzzMutation> Mutations => SafeTensorsMutations.All;
    public override long AllocationLimit(long inputBytes) => 16 * inputBytes + (4L << 20);

    public override IReadOnlyList<byte[]> Prepare(string workDir)
    {
        var generator = new Generator(11);
        var seeds = new List<byte[]>();
        void Add(Action<string> write)
        {
            var path = Path.Combine(workDir, "seed.safetensors");
            write(path);
            seeds.Add(File.ReadAllBytes(path));
            File.Delete(path);
        }
        using var x = Tensor.RandN(generator, [1, .. LatentShape]);
        using var rows = Tensor.RandN(generator, [Prompts, 1, .. LatentShape]);
        using var final = Tensor.RandN(generator, [1, .. LatentShape]);
        Add(p => SafeTensorsWriter.Write(p, [(LatentsFile.InitialName, x)]));
        Add(p => LatentsFile.Write(p, x, final, new Dictionary<string, string> { ["seed"] = "1" }));
        Add(p => SafeTensorsWriter.Write(p, [("noise", rows)]));
        Add(p => SafeTensorsWriter.Write(p, [(LatentsFile.InitialName, x)], dtype: SafeTensorsDType.F16));
        return seeds;
    }

    public override void Consume(string path, FuzzProbe probe)
    {
        using (SafeTensorsFile.Open(path)) probe.Deeper();
        var problems = new List<DejaException>();
        try { LatentsFile.ReadInitial(path).Dispose(); }
        catch (DejaException e) { problems.Add(e); }
        try { InitialNoise.FromFile(path, LatentShape, Prompts, perPromptRows: false).For(1); }
        catch (DejaException e) { problems.Add(e); }
        if (problems.Count > 0) throw problems[0];
    }
}
