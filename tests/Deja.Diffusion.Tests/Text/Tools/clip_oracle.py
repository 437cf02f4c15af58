"""A Python statement of the encoding steps of transformers' slow CLIPTokenizer (with ftfy installed),
used only to produce test data for the C# port. It reproduces all 20 tokenizer goldens (checked when run
as a script). Requires ftfy 6.1.1 and the `regex` module on sys.path.
"""
import json
import os

import ftfy
import regex

WORD_PATTERN = regex.compile(
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+",
    regex.IGNORECASE)
MAX_MERGES = 49152 - 256 - 2


def byte_alphabet():
    printable = [b for b in range(256) if 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255]
    table, extra = {}, 256
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(extra)
            extra += 1
    return table


class ClipOracle:
    def __init__(self, folder):
        with open(os.path.join(folder, "vocab.json"), encoding="utf-8") as f:
            self.vocab = json.load(f)
        with open(os.path.join(folder, "merges.txt"), encoding="utf-8") as f:
            rules = f.read().strip().split("\n")[1:MAX_MERGES + 1]
        self.rank = {tuple(rule.split()): i for i, rule in enumerate(rules)}
        self.alphabet = byte_alphabet()
        with open(os.path.join(folder, "tokenizer_config.json"), encoding="utf-8") as f:
            config = json.load(f)
        with open(os.path.join(folder, "special_tokens_map.json"), encoding="utf-8") as f:
            special = json.load(f)
        self.added = {v["content"]: int(k) for k, v in config.get("added_tokens_decoder", {}).items()}
        for key in ("bos_token", "eos_token", "unk_token", "pad_token"):
            spec = special.get(key, config.get(key))
            content = spec if isinstance(spec, str) else spec["content"]
            self.added.setdefault(content, self.vocab[content])
        self.memo = {}

    def split_added(self, text):
        """Pieces of text around added tokens (earliest occurrence, longest token)."""
        tokens = sorted(self.added, key=len, reverse=True)
        pieces, plain, i = [], 0, 0
        while i < len(text):
            hit = next((t for t in tokens if text.startswith(t, i)), None)
            if hit is None:
                i += 1
                continue
            if i > plain:
                pieces.append(text[plain:i])
            pieces.append(hit)
            i += len(hit)
            plain = i
        if plain < len(text):
            pieces.append(text[plain:])
        return pieces

    def merge(self, word):
        if word in ("<|startoftext|>", "<|endoftext|>"):
            return [word]
        if word in self.memo:
            return self.memo[word]
        parts = list(word[:-1]) + [word[-1] + "</w>"]
        while len(parts) > 1:
            ranked = [(self.rank[p], p) for p in zip(parts, parts[1:]) if p in self.rank]
            if not ranked:
                break
            _, (left, right) = min(ranked)
            joined, k = [], 0
            while k < len(parts):
                if k + 1 < len(parts) and parts[k] == left and parts[k + 1] == right:
                    joined.append(left + right)
                    k += 2
                else:
                    joined.append(parts[k])
                    k += 1
            parts = joined
        self.memo[word] = parts
        return parts

    def tokens(self, text):
        out = []
        for piece in self.split_added(text):
            if piece in self.added:
                out.append(piece)
                continue
            clean = regex.sub(r"\s+", " ", ftfy.fix_text(piece)).strip().lower()
            for word in WORD_PATTERN.findall(clean):
                out.extend(self.merge("".join(self.alphabet[b] for b in word.encode("utf-8"))))
        return out

    def ids(self, text):
        unk = self.vocab["<|endoftext|>"]
        body = [self.added[t] if t in self.added else self.vocab.get(t, unk) for t in self.tokens(text)]
        return [49406] + body + [49407]


if __name__ == "__main__":
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    golden = os.path.normpath(os.path.join(here, "..", "..", "..", "..", "testdata", "golden"))
    sd1 = ClipOracle(os.path.join(golden, "tiny-sd1", "tokenizer"))
    sd2 = ClipOracle(os.path.join(golden, "tiny-sd2", "tokenizer"))
    with open(os.path.join(golden, "golden", "tokenizer.json"), encoding="utf-8") as f:
        prompts = json.load(f)["prompts"]

    def cut(ids):
        return ids if len(ids) <= 77 else ids[:76] + [49407]

    wrong = [p["index"] for p in prompts
             if cut(sd1.ids(p["prompt"])) != p["ids_unpadded"] or cut(sd2.ids(p["prompt"])) != p["ids_unpadded_sd2"]
             or len(sd1.ids(p["prompt"])) != p["untruncated_length"]]
    print("goldens reproduced" if not wrong else f"golden mismatches: {wrong}")
    sys.exit(1 if wrong else 0)
