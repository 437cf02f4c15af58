using Deja.Tensors;

namespace Deja.Diffusion.Text;

/// <summary>A tokenizer file is missing or cannot be read; <see cref="FilePath"/> names it.</summary>
public sealed class TokenizerFileException : DejaException
{
    public string FilePath { get; }

    public TokenizerFileException(string filePath, string problem, Exception? inner = null)
        : base($"Tokenizer file '{filePath}': {problem}", inner)
    {
        FilePath = filePath;
    }
}
