#!/usr/bin/python3
"""Writes the mojibake-repair test data under tests/Deja.Diffusion.Tests/Text/Data/ from the real ftfy 6.1.1.

  ftfy_cases.jsonl   one row per input: where it comes from (ftfy's README and docs, docstrings and tests,
                     its test_cases.json, mojibake prompts, or a seeded random generator), the text, what
                     ftfy.fix_text and ftfy.fix_encoding return, ftfy's documented result where it has one,
                     and for prompts the SD1/SD2 token ids of the reference tokenizer (clip_oracle.py)
  ftfy_badness.json  ftfy.badness.is_bad over every pair of an alphabet of the characters the heuristic
                     knows (plus ASCII and a few others), and over strings drawn from that alphabet by a
                     xorshift32 generator that the C# test repeats (bitmaps, base64)

The strings of test_cases.json and of ftfy's documentation are ftfy's (MIT licence, Copyright (C)
2013-2018 Robyn Speer); the expected values are what ftfy 6.1.1 itself returns, so cases that ftfy marks
as failing are kept with ftfy's actual output. Needs a checkout of ftfy's tag v6.1.1
(https://github.com/rspeer/python-ftfy) and Debian's python3-regex:

    /usr/bin/python3 tests/Deja.Diffusion.Tests/Text/Tools/make_ftfy_data.py /path/to/python-ftfy
"""
import base64
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", "..", ".."))
FTFY_DIR = sys.argv[1] if len(sys.argv) > 1 else "/tmp/ftfy611"
sys.path.insert(0, FTFY_DIR)
sys.path.insert(0, HERE)

import ftfy  # noqa: E402
from ftfy.badness import MOJIBAKE_CATEGORIES, is_bad  # noqa: E402
from ftfy.chardata import UTF8_CLUES  # noqa: E402
from clip_oracle import ClipOracle  # noqa: E402

assert ftfy.__version__ == "6.1.1", ftfy.__version__

SD1 = ClipOracle(os.path.join(REPO, "testdata", "golden", "tiny-sd1", "tokenizer"))
SD2 = ClipOracle(os.path.join(REPO, "testdata", "golden", "tiny-sd2", "tokenizer"))
DATA = os.path.join(HERE, "..", "Data")

# (source, text, documented result of fix_text) from ftfy's README.md, docs/*.rst and docstrings.
DOCUMENTED = [
    ("README", "(à¸‡'âŒ£')à¸‡", "(ง'⌣')ง"),  # shown with fix_encoding; fix_text gives the same
    ("README", "âœ” No problems", "✔ No problems"),
    ("README", "The Mona Lisa doesnÃƒÂ¢Ã¢â€šÂ¬Ã¢â€žÂ¢t have eyebrows.", "The Mona Lisa doesn't have eyebrows."),
    ("README", "l’humanitÃ©", "l'humanité"),
    ("README", "Ã\xa0 perturber la rÃ©flexion", "à perturber la réflexion"),
    ("README", "Ã perturber la rÃ©flexion", "à perturber la réflexion"),
    ("README", "P&EACUTE;REZ", "PÉREZ"),
    ("README", "IL Y MARQUÉ…", "IL Y MARQUÉ…"),
    ("docs/explain.rst", "L&AMP;AMP;ATILDE;&AMP;AMP;SUP3;PEZ", "LóPEZ"),
    ("fix_text docstring", "&macr;\\_(ã\x83\x84)_/&macr;", "¯\\_(ツ)_/¯"),
    ("fix_text docstring", "Broken text&hellip; it&#x2019;s ﬂubberiﬁc!", "Broken text... it's flubberific!"),
    ("fix_text docstring", "ＬＯＵＤ　ＮＯＩＳＥＳ", "LOUD NOISES"),
    ("fix_encoding_and_explain docstring", "sÃ³", "só"),
    ("fix_encoding_and_explain docstring", "voilÃ le travail", "voilà le travail"),
    ("fix_encoding docstring", "Ã³", "ó"),
    ("fix_encoding docstring", "&ATILDE;&SUP3;", "ó"),  # fix_encoding alone leaves it; fix_text unescapes first
    ("apply_plan docstring", "schÃ¶n", "schön"),
    ("replace_lossy_sequences docstring", "â€œ like this â€\ufffd", "\" like this \ufffd"),
    ("test_characters.py", "ï»¿", ""),  # fix_encoding gives U+FEFF, which fix_text then removes
    ("test_characters.py", "#superman #ohio 🏴\U000e0075\U000e0073\U000e006f\U000e0068\U000e007f #cleveland #usa 🇺🇸",
     "#superman #ohio 🏴\U000e0075\U000e0073\U000e006f\U000e0068\U000e007f #cleveland #usa 🇺🇸"),
    ("test_entities.py", "&amp;\n<html>\n&amp;", "&\n<html>\n&amp;"),
]

# Prompts with mojibake, as LAION captions have them; their token ids are checked too.
PROMPTS = [
    "doesnâ€™t … cafÃ©",  # issue 12 §6: the "…" keeps the whole from re-decoding, so the runs are fixed one by one
    "doesnâ€™t ... cafÃ©",
    "a sign that doesnâ€™t say cafÃ©",
    "doesnâ€™t look like a cafÃ© in Paris",
    "photo of the cafÃ© â€œLe Petit Parisâ€\x9d at night",
    "Ã\xa0 la carte menu, crÃ¨me brÃ»lÃ©e",
    "Pokémon card â€“ PikachuÂ® limited edition",
    "naÃ¯ve art painting of a Ã‰cole building",
    "MÃ¼nchen skyline at dusk, 4k",
    "a woman's â€˜summerâ€™ dress â€” size M",
    "Itâ€™s a beautiful day â€¦ in the neighborhood",
    "SÃ£o Paulo street art Â· graffiti",
    "ÐšÑ€Ð°ÑÐ½Ð°Ñ Ð¿Ð»Ð¾Ñ‰Ð°Ð´ÑŒ Moscow",
    "The Mona Lisa doesnÃƒÂ¢Ã¢â€šÂ¬Ã¢â€žÂ¢t have eyebrows.",
    "ðŸ˜€ smiling emoji sticker",
    "IL Y MARQUÉ… poster",
    "café crème – proper accents stay",
]


def case(source, text, documented=None, label=None, prompt=False):
    row = {"source": source, "text": text, "fix_text": ftfy.fix_text(text), "fix_encoding": ftfy.fix_encoding(text)}
    if label is not None:
        row["label"] = label
    if documented is not None:
        row["documented"] = documented
    if prompt:
        row["sd1"] = SD1.ids(text)
        row["sd2"] = SD2.ids(text)
    return row


CLEAN = [
    "café", "doesn’t", "“quoted”", "naïve", "Čeština", "Ελληνικά", "русский язык", "日本語", "😀", "—", "–", "…",
    "½", "München", "façade", "crème brûlée", "São Paulo", "Łódź", "İstanbul", "ğüşö", "¿Qué?", "«guillemets»",
    "© 2020", "Brand™", "€5", "20°C", "x²", "ñandú", "Ærøskøbing", "Straße", "Øre", "œuvre", "(ง'⌣')ง", "ツ", "✔",
    "a\xa0b", "한국어", "עברית", "العربية", "हिन्दी", "ไทย", "𝒥ohn", "🇫🇷", "👍🏽", "¯\\_(ツ)_/¯", "Ĳssel", "Ω", "µm",
    "±3", "§4", "¶", "•", "‘single’", "„low“", "‹›", "№7", "Ÿ", "ž", "ő", "Ё", "ґ", "ß", "à", "á", "Ã", "Â", "×",
    "♥", "★", "→", "∞", "√2", "≈", "Ä", "É", "Í", "ò", "ú", "ý", "þ", "ð", "ı", "ş", "ț", "ā", "ē", "ō",
]
ASCII_WORDS = ["a", "photo", "of", "the", "cat", "in", "Paris", "art", "by", "HD", "4k", "with", "and", "x", "-", "!", "?", "(", ")"]
ENCODINGS = ["latin-1", "sloppy-windows-1252", "sloppy-windows-1251", "sloppy-windows-1250", "sloppy-windows-1253",
             "sloppy-windows-1254", "iso-8859-2", "macroman", "cp437", "windows-1252", "windows-1251", "cp850"]


def sentence(rng):
    words = [rng.choice(CLEAN) if rng.random() < 0.5 else rng.choice(ASCII_WORDS) for _ in range(rng.randint(1, 6))]
    return " ".join(words)


def mojibake(rng, text):
    """UTF-8 bytes of `text` read in a random single-byte encoding, lossily where it has holes."""
    data = text.encode("utf-8", errors="surrogatepass")
    return data.decode(rng.choice(ENCODINGS), errors="replace")


# Byte pieces for byte soup: the sequences ftfy's byte repairs and its variant UTF-8 decoder look for.
BYTE_PIECES = [b" ", b"\n", b"?", b"\x1a", b"a", b"s ", b"quele", b"\xc3 ", b"\xc2\xa0", b"\xed\xa0\x80\xed\xb0\x80",
               b"\xc0\x80", b"\xc0", b"\xed", b"\xf0\x9f\x98\x80", b"\xe2\x80\x99", b"\xe2\x80", b"\xc3\xa9", b"\xa0"]


def byte_soup(rng):
    """Random bytes, mostly pieces of (broken) UTF-8, read in one of the encodings ftfy tries."""
    data = b"".join(rng.choice(BYTE_PIECES) if rng.random() < 0.6 else bytes([rng.randrange(0x80, 0x100)])
                    for _ in range(rng.randint(1, 8)))
    return data.decode(rng.choice(ENCODINGS[:9]), errors="replace") + ("\n" if rng.random() < 0.3 else "")


def corrupt(rng, text):
    kind = rng.randrange(13)
    if kind == 0:
        return text  # clean text must stay as it is
    if kind == 1:
        return mojibake(rng, mojibake(rng, text))  # twice
    if kind == 2:  # only some words
        return " ".join(mojibake(rng, w) if rng.random() < 0.5 else w for w in text.split(" "))
    if kind == 3:  # U+00A0 turned into spaces
        return mojibake(rng, text).replace("\xa0", " ")
    if kind == 4:  # a character lost
        broken = mojibake(rng, text)
        if broken:
            i = rng.randrange(len(broken))
            broken = broken[:i] + rng.choice("?\ufffd") + broken[i + 1:]
        return broken
    if kind == 5:
        return mojibake(rng, text).upper()
    if kind == 6:  # CESU-8 and Java's null
        data = "".join(c.encode("utf-16", "surrogatepass").decode("utf-16-le", "surrogatepass")[1:]
                       if ord(c) > 0xFFFF else c for c in text).encode("utf-8", "surrogatepass").replace(b"a", b"\xc0\x80", 1)
        return data.decode(rng.choice(["latin-1", "sloppy-windows-1252"]))
    if kind == 7:  # lines, some broken
        return "\n".join(mojibake(rng, line) if rng.random() < 0.5 else line for line in (text, sentence(rng), sentence(rng)))
    if kind == 8:  # with the other things fix_text fixes
        return "&quot;" + mojibake(rng, text) + "&hellip; ﬁne “ok”\r\n"
    if kind == 9:  # C1 controls among Latin-1
        return "".join(chr(rng.randrange(0x80, 0xA0)) if rng.random() < 0.15 else c for c in mojibake(rng, text))
    if kind == 10:  # random characters the heuristic knows
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 8)))
    if kind == 11:
        return byte_soup(rng)
    return mojibake(rng, text)


def badness_alphabet():
    chars = set()
    for members in list(MOJIBAKE_CATEGORIES.values()) + list(UTF8_CLUES.values()):
        i = 0
        while i < len(members):
            if i + 2 < len(members) and members[i + 1] == "-":
                chars.update(chr(c) for c in range(ord(members[i]), ord(members[i + 2]) + 1))
                i += 3
            else:
                chars.add(members[i])
                i += 1
    chars.update(chr(c) for c in range(0x20, 0x7F))
    # Whitespace, a few characters Python's \w and .NET's disagree on, and astral ones.
    chars.update("\t\n\x1c\u1680\u2028\u3000_\u0345\u2167\u0663\u00b9\U0001d4a5\U0001f600\U00020000ŸŠ")
    return "".join(sorted(chars))


ALPHABET = badness_alphabet()


class XorShift32:
    """The generator the C# test repeats: x ^= x << 13; x ^= x >> 17; x ^= x << 5 (32 bits)."""

    def __init__(self, seed):
        self.state = seed

    def next(self):
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x


def bitmap(bits):
    out = bytearray((len(bits) + 7) // 8)
    for i, bit in enumerate(bits):
        if bit:
            out[i // 8] |= 1 << (i % 8)
    return base64.b64encode(bytes(out)).decode("ascii")


def write_badness(seed=20240607, count=20000):
    pairs = [is_bad(a + b) for a in ALPHABET for b in ALPHABET]
    rng = XorShift32(seed)
    drawn = []
    for _ in range(count):
        length = 2 + rng.next() % 6
        drawn.append(is_bad("".join(ALPHABET[rng.next() % len(ALPHABET)] for _ in range(length))))
    data = {"alphabet": ALPHABET, "pairs": bitmap(pairs), "seed": seed, "count": count, "random": bitmap(drawn)}
    with open(os.path.join(DATA, "ftfy_badness.json"), "w", encoding="utf-8", newline="\n") as out:
        json.dump(data, out, ensure_ascii=True)
        out.write("\n")
    print(f"ftfy_badness.json: {len(ALPHABET)} characters, {sum(pairs)} of {len(pairs)} pairs bad, "
          f"{sum(drawn)} of {count} random strings bad")


def write_cases(seed=20240607, count=1500):
    rows = [case(source, text, documented) for source, text, documented in DOCUMENTED]
    with open(os.path.join(FTFY_DIR, "tests", "test_cases.json"), encoding="utf-8") as f:
        for test in json.load(f):
            label = f"{test['label']} (expect {test['expect']})"
            rows.append(case("test_cases.json", test["original"], test["fixed"], label))
            # ftfy's test also fixes each passing case under one more layer of Latin-1 mojibake.
            if test["expect"] == "pass":
                extra_bad = test["original"].encode("utf-8").decode("latin-1")
                rows.append(case("test_cases.json, extra layer", extra_bad, test["fixed"], test["label"]))
    rows.extend(case("prompt", text, prompt=True) for text in PROMPTS)
    rng = random.Random(seed)
    seen = {row["text"] for row in rows}
    fixed_rows = len(rows)
    while len(rows) < fixed_rows + count:
        text = corrupt(rng, sentence(rng))
        if text not in seen:
            seen.add(text)
            rows.append(case("random", text))
    with open(os.path.join(DATA, "ftfy_cases.jsonl"), "w", encoding="utf-8", newline="\n") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=True) + "\n")
    changed = sum(row["fix_encoding"] != row["text"] for row in rows)
    print(f"ftfy_cases.jsonl: {len(rows)} cases, fix_encoding changes {changed}")


if __name__ == "__main__":
    os.makedirs(DATA, exist_ok=True)
    write_badness()
    write_cases()
