using Deja.Diffusion.Images;
using Deja.Tensors;

namespace Deja.Memorization.Fuzzing;

/// <summary>PNG images (training data, replication references, masks): decoded and turned into a tensor.</summary>
internal sealed class PngTarget : FuzzTarget
{
    public override string Name => "png";
    public override string DeeperStage => "past the chunk layer into pixel decoding";
    public override string FileName => "image.png";
    public override IReadOnlyList<FuzzMutation> Mutations => PngMutations.All;

    /// <summary>
    /// zlib inflates at most 1032:1 and a 1-bit palette pixel with transparency becomes 4 bytes (32 per
    /// stored bit-byte): a sound decoder may need about 33 000 bytes per input byte, plus 16 MB.
    /// </summary>
    public override long AllocationLimit(long inputBytes) => 33_024 * inputBytes + (16L << 20);

    public override IReadOnlyList<byte[]> Prepare(string workDir) => PngSeeds.All();

    public override void Consume(string path, FuzzProbe probe)
    {
        // The chunk layer alone (CRCs, IHDR, palette) tells whether the input reaches pixel decoding;
        // the refusal that counts is Png.Read's, which names the file.
        try
        {
            PngChunks.Parse(File.ReadAllBytes(path));
            probe.Deeper();
        }
        catch (DejaException) { }
        var image = Png.Read(path);
        image.ToTensor01().Dispose();
    }
}
