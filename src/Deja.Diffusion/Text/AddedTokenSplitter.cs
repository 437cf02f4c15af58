using Deja.Diffusion.Text.Unicode;

namespace Deja.Diffusion.Text;

/// <summary>
/// Cuts raw text around literal occurrences of added tokens (transformers' <c>Trie.split</c>: the
/// earliest occurrence wins, the longest token at that position), applies their lstrip/rstrip, and
/// drops empty pieces.
/// </summary>
internal sealed class AddedTokenSplitter
{
    readonly AddedToken[] byLengthDescending;
    readonly HashSet<char> firstChars;

    public AddedTokenSplitter(IEnumerable<AddedToken> tokens)
    {
        byLengthDescending = [.. tokens.Where(t => t.Content.Length > 0).OrderByDescending(t => t.Content.Length)];
        firstChars = [.. byLengthDescending.Select(t => t.Content[0])];
    }

    /// <summary>The pieces of <paramref name="text"/> in order, each flagged as an added token or plain text.</summary>
    public List<(string Text, bool IsAdded)> Split(string text)
    {
        var pieces = new List<(string Text, AddedToken? Token)>();
        int plainStart = 0;
        for (int i = 0; i < text.Length;)
        {
            var token = firstChars.Contains(text[i]) ? TokenAt(text, i) : null;
            if (token is null)
            {
                i++;
                continue;
            }
            if (i > plainStart) pieces.Add((text[plainStart..i], null));
            pieces.Add((token.Content, token));
            i += token.Content.Length;
            plainStart = i;
        }
        if (plainStart < text.Length) pieces.Add((text[plainStart..], null));

        for (int i = 0; i < pieces.Count; i++)
        {
            if (pieces[i].Token is not { } token) continue;
            if (token.RightStrip && i + 1 < pieces.Count && pieces[i + 1].Token is null)
                pieces[i + 1] = (LeftStripped(pieces[i + 1].Text), null);
            if (token.LeftStrip && i > 0 && pieces[i - 1].Token is null)
                pieces[i - 1] = (RightStripped(pieces[i - 1].Text), null);
        }
        return pieces.Where(p => p.Text.Length > 0).Select(p => (p.Text, p.Token is not null)).ToList();
    }

    AddedToken? TokenAt(string text, int index)
    {
        foreach (var token in byLengthDescending)
            if (text.AsSpan(index).StartsWith(token.Content, StringComparison.Ordinal)) return token;
        return null;
    }

    static string LeftStripped(string s)
    {
        int i = 0;
        while (i < s.Length && PythonText.IsSpace(s[i])) i++;
        return s[i..];
    }

    static string RightStripped(string s)
    {
        int end = s.Length;
        while (end > 0 && PythonText.IsSpace(s[end - 1])) end--;
        return s[..end];
    }
}
