#!/usr/bin/python3
"""Writes the tokenizer test data under tests/Deja.Diffusion.Tests/Text/Data/ from the Python reference.

  prompt_ids.tsv      every prompt of testdata/prompts: file, line, SD1 ids, SD2 ids ("=" when equal)
  oracle_cases.jsonl  hand-picked and random edge-case strings with ftfy.fix_text, str.lower, NFC and ids

The reference is clip_oracle.py (transformers' slow CLIPTokenizer steps) running the real ftfy 6.1.1
and Debian's python3-regex, the versions the goldens were made with. Needs a checkout of ftfy's tag v6.1.1
(https://github.com/rspeer/python-ftfy) whose folder is given as the first argument:

    /usr/bin/python3 tests/Deja.Diffusion.Tests/Text/Tools/make_oracle_data.py /path/to/python-ftfy

Strings that ftfy treats as mojibake are left out of oracle_cases.jsonl (so that it stays as it was made
before the C# port repaired mojibake); make_ftfy_data.py writes the mojibake cases.
"""
import glob
import json
import os
import random
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", "..", ".."))
sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else "/tmp/ftfy611")
sys.path.insert(0, HERE)

import ftfy  # noqa: E402
from clip_oracle import ClipOracle  # noqa: E402

assert ftfy.__version__ == "6.1.1", ftfy.__version__

SD1 = ClipOracle(os.path.join(REPO, "testdata", "golden", "tiny-sd1", "tokenizer"))
SD2 = ClipOracle(os.path.join(REPO, "testdata", "golden", "tiny-sd2", "tokenizer"))
DATA = os.path.join(HERE, "..", "Data")


def prompt_lines(path):
    """(line number, prompt) as PromptFile.Read gives them: universal newlines, str.strip(), blanks skipped."""
    with open(path, encoding="utf-8-sig", newline=None) as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, 1):
        if path.endswith(".jsonl") and line.strip():
            row = json.loads(line)
            line = row["prompt"] if "prompt" in row else row["caption"]
        prompt = line.strip()
        if prompt:
            yield number, prompt


def write_prompt_ids():
    files = sorted(glob.glob(os.path.join(REPO, "testdata", "prompts", "*.txt"))
                   + glob.glob(os.path.join(REPO, "testdata", "prompts", "*.jsonl")))
    files = [f for f in files if not os.path.basename(f).startswith("LICENSE")]
    count = 0
    with open(os.path.join(DATA, "prompt_ids.tsv"), "w", encoding="utf-8", newline="\n") as out:
        out.write("# file\tline\tSD1 ids (BOS..EOS, untruncated)\tSD2 ids or = when equal\n")
        for path in files:
            for number, prompt in prompt_lines(path):
                a, b = SD1.ids(prompt), SD2.ids(prompt)
                out.write(f"{os.path.basename(path)}\t{number}\t{' '.join(map(str, a))}\t"
                          f"{'=' if a == b else ' '.join(map(str, b))}\n")
                count += 1
    print("prompt_ids.tsv:", count, "prompts from", len(files), "files")


HANDPICKED = [
    "Tom &amp; Jerry &lt;3", "a &amp; b\n<b> &amp; c\n d &amp; e", "&amp;amp; &amp;lt;", "&#39;quoted&#x27; &#59; &#128; &#0; &#1;",
    "&#xD800; &#1114112; &#99999999999999999999; &#65a; &#x; &notit; &not; P&EACUTE;REZ BUNDESSTRA&SZLIG;E &ntilde; &NTILDE; &nTILDE;",
    "\u201ccurly\u201d \u2018single\u2019 \u201ahigh\u201b \u201edouble\u201f \u02bcmodifier", "\ufb01ne \ufb02ow \ufb03 \ufb04 \ufb05 \ufb06 \u0132 \u0133 \u0149 \u01c4 \u01c5 \u01c6 \u01f1",
    "\uff26\uff35\uff2c\uff2c\uff37\uff29\uff24\uff34\uff28\u3000\uff54\uff45\uff58\uff54\uff01 \uff76\uff9e\uff8a\uff9f \uffe3 \uffe6",
    "C1: \x80 \x85 \x91\x92 \x93\x94 \x81 \x9d", "ctrl:\x00\x01\x07\x0b\x0c\x0e\x1b\x1f\x7f|\ufeff|\u206a|\ufff9\ufffc|",
    "\x1b[31mred\x1b[0m \x1b[1;4mbold\x1b[m \x1b[x", "line\r\nbreaks\rand\u2028more\u2029end\x85",
    "e\u0301 a\u0308\u0301 o\u0323\u0302 a\u0302\u0323 \u212b \u0344 \u0340 \u1100\u1161\u11a8 \uac00\u11a8 \u0345 \u03b1\u0345\u0301",
    "\u0130stanbul \u0049\u0307 \u03a3\u039f\u03a6\u039f\u03a3 \u039f\u0394\u039f\u03a3. a\u03a3 a\u03a3b \u1e9e \u01c5", "'S 'LL 'Re \u017ftop '\u017f <|\u017ftartoftext|> <|ENDOFTEXT|>",
    "<|startoftext|>text<|endoftext|> <|endoftext|<|endoftext|>>", "wow!! so cool! !yes! :-)!", "\U0001d4a5ohn \U0001d400\U0001d401 \U00020000 \U0001f600\U0001f525 \U0001f44d\U0001f3fd \U0001f1eb\U0001f1f7",
    "\u00b2 \u00bd \u216b \u0663\u0664 \U0001d7d8 \uff11\uff12", "\u00a0nbsp\u00a0 \u2003em\u2009thin\u200bzw\u200dzwj\u3000",
    "\u0639\u0631\u0628\u064a \u05e2\u05b4\u05d1\u05b0\u05e8\u05b4\u05d9\u05ea \u0939\u093f\u0928\u094d\u0926\u0940 \u0e44\u0e17\u0e22",
    "\u6771\u4eac\u30bf\u30ef\u30fc \ud55c\uad6d\uc5b4 \u0440\u0443\u0441\u0441\u043a\u0438\u0439", "", "   ", "\n\n", "a" * 300,
]

PIECES = [
    "a", "photo", "Cat", "HELLO", " ", "  ", "\t", "\n", "\r\n", "\u2028", "\x85", "\xa0", "\u3000", "\u200b",
    "0", "12", "3.14", "\u00b2", "\u00bd", "\u216b", "\u0663", "\U0001d7d8", "!", "!!", "?", "...", ":-)", "<3", "&", "'",
    "'s", "'S", "'ll", "'\u017f", "\u017f", "\u0130", "\u0131", "\u00df", "\u03a3", "\u03a3\u0391\u03a3", "a\u03a3", "\u01c5", "\u1ffc",
    "e\u0301", "a\u0308\u0301", "o\u0323\u0302", "\u0301", "\u0345", "\u03b1\u0345\u0301", "\u0344", "\u212b", "\ufb01", "\u0149",
    "\uff26\uff35", "\uff01", "\uff1c", "\uff76\uff9e", "\uffe3", "\uac01", "\u1100", "\u1161", "\u11a8",
    "\u201c", "\u201d", "\u2018", "\u2019", "\u02bc", "\u2014", "\u2026", "\x91", "\x93",
    "&amp;", "&AMP;", "&lt;", "&eacute;", "&EACUTE;", "&nbsp;", "&NewLine;", "&amp;amp;", "&#39;", "&#x27;", "&#59;", "&#128;", "&#65a;",
    "\x1b[31m", "\x1b[", "\x07", "\x7f", "\ufeff", "\u206a", "\ufffc",
    "\U0001f600", "\U0001f44d\U0001f3fd", "\U0001d4a5", "\U00020000", "\u6771\u4eac", "\u05e2\u05b4", "\u0939\u093f",
    "<|startoftext|>", "<|endoftext|>", "<|ENDOFTEXT|>", "<b>", "<", ">",
]


def is_mojibake(text):
    return any(ftfy.fix_text(chunk) != ftfy.fix_text(chunk, fix_encoding=False)
               for oracle in (SD1, SD2) for chunk in oracle.split_added(text))


def write_oracle_cases(count=400, seed=20240601):
    rng = random.Random(seed)
    texts = list(HANDPICKED)
    while len(texts) < len(HANDPICKED) + count:
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 10)))
        if not is_mojibake(text):
            texts.append(text)
    with open(os.path.join(DATA, "oracle_cases.jsonl"), "w", encoding="utf-8", newline="\n") as out:
        for text in texts:
            assert not is_mojibake(text), repr(text)
            row = {"text": text, "fix_text": ftfy.fix_text(text), "lower": text.lower(),
                   "nfc": unicodedata.normalize("NFC", text), "sd1": SD1.ids(text), "sd2": SD2.ids(text)}
            out.write(json.dumps(row, ensure_ascii=True) + "\n")
    print("oracle_cases.jsonl:", len(texts), "cases")


if __name__ == "__main__":
    os.makedirs(DATA, exist_ok=True)
    write_prompt_ids()
    write_oracle_cases()
