#!/usr/bin/python3
"""Generates src/Deja.Diffusion/Text/Unicode/TextTables.g.cs.

The CLIP tokenizer of the reference runs in CPython 3.11 (Unicode 14.0) with the `regex` module
(Debian python3-regex 2022.10.31). .NET's own Unicode support differs from that (other Unicode
version; no normalization and İ-less casing under InvariantGlobalization; surrogate halves instead of
code points in Regex), so the character facts the tokenizer depends on are taken from that Python
environment and frozen here as data:

  * which code points `[\\p{L}]` / `[\\p{N}]` match in the `regex` module (with IGNORECASE, as CLIP compiles it),
    and which the `\\s` of the regex module matches;
  * which code points str.isspace() accepts (str.strip()), and which the `\\w` of Python's `re` matches
    (ftfy's mojibake heuristic);
  * str.lower()'s per-code-point mapping and the two properties of its final-sigma rule;
  * the canonical decompositions, combining classes and composition exclusions that NFC needs;
  * the fullwidth/halfwidth map (NFKC of U+FF01..U+FFEF), the HTML5 entity names and the numeric
    character-reference fix-ups of html.unescape, which the ftfy subset needs.

Run with Debian's /usr/bin/python3 (3.11) and python3-regex installed:
    /usr/bin/python3 tests/Deja.Diffusion.Tests/Text/Tools/gen_text_tables.py
"""
import html
import html.entities
import os
import re
import sys
import unicodedata

import regex

MAX = 0x110000


def ranges(pred):
    out = []
    start = None
    for cp in range(MAX):
        if pred(cp):
            if start is None:
                start = cp
        elif start is not None:
            out.append((start, cp - 1))
            start = None
    if start is not None:
        out.append((start, MAX - 1))
    return out


def int_list(values, per_line=16):
    values = list(values)
    lines = []
    for i in range(0, len(values), per_line):
        lines.append("        " + ", ".join(str(v) for v in values[i:i + per_line]) + ",")
    return "\n".join(lines)


def cs_string(s):
    out = []
    for ch in s:
        cp = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif 0x20 <= cp < 0x7F:
            out.append(ch)
        elif cp <= 0xFFFF:
            out.append("\\u%04X" % cp)
        else:
            out.append("\\U%08X" % cp)
    return '"' + "".join(out) + '"'


def span(name, doc, values, per_line=16):
    return (f"    /// <summary>{doc}</summary>\n"
            f"    internal static ReadOnlySpan<int> {name} =>\n    [\n{int_list(values, per_line)}\n    ];\n")


def flat(pairs):
    for p in pairs:
        yield from p


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.normpath(os.path.join(here, "..", "..", "..", ".."))
    target = os.path.join(repo, "src", "Deja.Diffusion", "Text", "Unicode", "TextTables.g.cs")

    letter = regex.compile(r"[\p{L}]", regex.IGNORECASE)
    number = regex.compile(r"[\p{N}]", regex.IGNORECASE)
    other = regex.compile(r"[^\s\p{L}\p{N}]", regex.IGNORECASE)
    space = regex.compile(r"\s")
    letters = ranges(lambda cp: letter.match(chr(cp)) is not None)
    numbers = ranges(lambda cp: number.match(chr(cp)) is not None)
    regex_spaces = ranges(lambda cp: space.match(chr(cp)) is not None)
    # Code points that no alternative of the CLIP pattern matches (findall skips them).
    unmatched = ranges(lambda cp: not (letter.match(chr(cp)) or number.match(chr(cp))
                                       or other.match(chr(cp)) or space.match(chr(cp))))
    python_spaces = ranges(lambda cp: chr(cp).isspace())
    # ftfy's heuristic uses the `re` module: its \s is str.isspace() (checked), its \w is alnum or '_'.
    re_space, re_word = re.compile(r"\s"), re.compile(r"\w")
    assert ranges(lambda cp: re_space.match(chr(cp)) is not None) == python_spaces
    python_words = ranges(lambda cp: re_word.match(chr(cp)) is not None)

    lower_from, lower_to = [], []
    for cp in range(MAX):
        low = chr(cp).lower()
        if low != chr(cp) and cp != 0x3A3 and len(low) == 1:
            lower_from.append(cp)
            lower_to.append(ord(low))
    assert chr(0x130).lower() == "i\u0307"

    # Final-sigma rule of CPython's str.lower(): Σ is final when preceded by a cased letter (skipping
    # case-ignorable code points) and not followed by one. Case-ignorable code points are always
    # skipped, so only "ignorable" and "cased but not ignorable" matter; both are read off lower().
    def p_after_cased(cp):
        return ("A" + chr(cp) + "\u03a3").lower()[-1] == "\u03c2"

    def p_after_uncased(cp):
        return ("1" + chr(cp) + "\u03a3").lower()[-1] == "\u03c2"

    ignorable = ranges(lambda cp: p_after_cased(cp) and not p_after_uncased(cp))
    cased = ranges(lambda cp: p_after_uncased(cp))

    decomps, exclusions, ccc = [], [], []
    for cp in range(MAX):
        d = unicodedata.decomposition(chr(cp))
        if d and not d.startswith("<"):
            parts = [int(x, 16) for x in d.split()]
            decomps.append((cp, parts[0], parts[1] if len(parts) > 1 else -1))
            if len(parts) == 2 and unicodedata.normalize("NFC", chr(cp)) != chr(cp):
                exclusions.append(cp)
    current = None
    for cp in range(MAX + 1):
        c = unicodedata.combining(chr(cp)) if cp < MAX else 0
        if current and (c != current[2] or cp != current[1] + 1):
            ccc.append(tuple(current))
            current = None
        if c:
            if current is None:
                current = [cp, cp, c]
            else:
                current[1] = cp

    width = {0x3000: " "}
    for cp in range(0xFF01, 0xFFF0):
        alt = unicodedata.normalize("NFKC", chr(cp))
        if alt != chr(cp):
            width[cp] = alt

    # ftfy 6.1.1's entity table: every HTML5 name that ends in ';', plus the all-caps spelling of the
    # lowercase names when html.unescape would not already decode it (mapped to the uppercased text).
    entities = {}
    for name, text in html.entities.html5.items():
        if name.endswith(";"):
            entities["&" + name] = text
            if name == name.lower():
                upper = "&" + name.upper()
                if html.unescape(upper) == upper:
                    entities[upper] = text.upper()

    invalid_charrefs = sorted(html._invalid_charrefs.items())
    invalid_codepoints = sorted(html._invalid_codepoints)

    out = []
    out.append("// <auto-generated>\n"
               "// Written by tests/Deja.Diffusion.Tests/Text/Tools/gen_text_tables.py from CPython "
               f"{sys.version.split()[0]} (Unicode {unicodedata.unidata_version}) and the regex module "
               f"{regex.__version__}. Do not edit by hand.\n"
               "// </auto-generated>\n"
               "namespace Deja.Diffusion.Text.Unicode;\n\n"
               "/// <summary>Character data frozen from the reference tokenizer's Python environment.</summary>\n"
               "internal static partial class TextTables\n{\n")
    out.append(f"    internal const string UnicodeVersion = \"{unicodedata.unidata_version}\";\n\n")
    out.append(span("LetterRanges", "Inclusive ranges matched by <c>[\\p{L}]</c> (regex module, IGNORECASE).", flat(letters)))
    out.append(span("NumberRanges", "Inclusive ranges matched by <c>[\\p{N}]</c> (regex module, IGNORECASE).", flat(numbers)))
    out.append(span("UnmatchedRanges", "Inclusive ranges no alternative of the CLIP pattern matches (dropped by findall).", flat(unmatched)))
    out.append(span("RegexSpaceRanges", "Inclusive ranges matched by <c>\\s</c> in the regex module.", flat(regex_spaces)))
    out.append(span("PythonSpaceRanges", "Inclusive ranges accepted by Python's str.isspace().", flat(python_spaces)))
    out.append(span("PythonWordRanges", "Inclusive ranges matched by <c>\\w</c> in Python's re module (str patterns).", flat(python_words)))
    out.append(span("LowercaseFrom", "Code points that str.lower() maps to one other code point (sorted; Σ and İ excluded).", lower_from))
    out.append(span("LowercaseTo", "The targets of <see cref=\"LowercaseFrom\"/>.", lower_to))
    out.append(span("CaseIgnorableRanges", "Inclusive ranges CPython's final-sigma rule skips (case-ignorable).", flat(ignorable)))
    out.append(span("CasedRanges", "Inclusive ranges of cased, not case-ignorable code points.", flat(cased)))
    out.append(span("CombiningClassRanges", "Triples (first, last, canonical combining class) for non-zero classes.", flat(ccc), 15))
    out.append(span("CanonicalDecompositions", "Triples (code point, first, second or -1) of canonical decompositions, sorted.", flat(decomps), 15))
    out.append(span("CompositionExclusions", "Code points with a two-part canonical decomposition that NFC never composes.", exclusions))
    out.append(span("InvalidCharrefFrom", "Numeric character references html.unescape maps to a fixed text (sorted).", [k for k, _ in invalid_charrefs]))
    out.append(span("InvalidCodepoints", "Numeric character references html.unescape deletes (sorted).", invalid_codepoints))
    out.append("    /// <summary>The texts of <see cref=\"InvalidCharrefFrom\"/>.</summary>\n"
               "    internal static readonly string[] InvalidCharrefTo =\n    [\n")
    for _, text in invalid_charrefs:
        out.append(f"        {cs_string(text)},\n")
    out.append("    ];\n\n")
    out.append("    /// <summary>Pairs (code point, replacement) of ftfy's character-width map.</summary>\n"
               "    internal static readonly (int CodePoint, string Text)[] WidthMap =\n    [\n")
    for cp, text in sorted(width.items()):
        out.append(f"        ({cp}, {cs_string(text)}),\n")
    out.append("    ];\n\n")
    out.append("    /// <summary>Alternating entity text (with '&amp;' and ';') and its replacement, as ftfy 6.1.1 builds them.</summary>\n"
               "    internal static readonly string[] HtmlEntities =\n    [\n")
    for name, text in sorted(entities.items()):
        out.append(f"        {cs_string(name)}, {cs_string(text)},\n")
    out.append("    ];\n}\n")

    with open(target, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(out))
    print(f"wrote {target}: {len(letters)} letter ranges, {len(numbers)} number ranges, "
          f"{len(lower_from)} lowercase pairs, {len(decomps)} decompositions, {len(exclusions)} exclusions, "
          f"{len(ccc)} ccc runs, {len(width)} width entries, {len(entities)} entities")


if __name__ == "__main__":
    main()
