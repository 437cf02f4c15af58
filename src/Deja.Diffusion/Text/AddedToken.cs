namespace Deja.Diffusion.Text;

/// <summary>
/// A token matched literally in the raw text before any normalization (transformers' "added tokens":
/// the special tokens, and for SD2 tokenizers the pad token "!").
/// </summary>
/// <param name="Content">The literal text.</param>
/// <param name="Id">Its id.</param>
/// <param name="LeftStrip">Whitespace before it is removed.</param>
/// <param name="RightStrip">Whitespace after it is removed.</param>
/// <param name="Special">Declared special (skipped by <see cref="ClipTokenizer.Decode"/>).</param>
public sealed record AddedToken(string Content, int Id, bool LeftStrip = false, bool RightStrip = false, bool Special = true);
