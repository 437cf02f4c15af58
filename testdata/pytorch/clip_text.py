#!/usr/bin/env python3
"""A CLIP text encoder (transformers' CLIPTextModel layout) in plain PyTorch.

Written for Deja as a timing reference: no transformers, only torch. Token + position embeddings,
pre-LayerNorm transformer layers with a causal mask (no padding mask, as Stable Diffusion pipelines
pass none), quick_gelu (or gelu) MLP, final LayerNorm; returns last_hidden_state. Parameter names
match transformers' (text_model.embeddings.token_embedding.weight, ...).

    python3 clip_text.py --config mini    # parameter count
"""
import argparse
import contextlib
import json
import os

import torch
import torch.nn.functional as F
from torch import nn

SD1_TEXT_CONFIG = {  # openai/clip-vit-large-patch14 text tower (SD1)
    "vocab_size": 49408, "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
    "num_attention_heads": 12, "max_position_embeddings": 77, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5,
}
SD2_TEXT_CONFIG = {  # OpenCLIP ViT-H/14 text tower as SD2 ships it (23 layers, gelu)
    "vocab_size": 49408, "hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 23,
    "num_attention_heads": 16, "max_position_embeddings": 77, "hidden_act": "gelu", "layer_norm_eps": 1e-5,
}
BUILTIN_CONFIGS = {"sd1": SD1_TEXT_CONFIG, "sd2": SD2_TEXT_CONFIG}

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MINI_TEXT_CONFIG = os.path.join(REPO, "data", "models", "deja-mini", "text_encoder", "config.json")


def load_config(name_or_path):
    """'sd1', 'sd2', 'mini' (data/models/deja-mini/text_encoder/config.json), or a text_encoder/config.json path."""
    if name_or_path in BUILTIN_CONFIGS:
        return dict(BUILTIN_CONFIGS[name_or_path])
    path = MINI_TEXT_CONFIG if name_or_path == "mini" else name_or_path
    if os.path.isdir(path):
        path = os.path.join(path, "config.json")
    with open(path) as f:
        return json.load(f)


# Layers are made through these helpers, so that `with build_on("meta"):` builds without allocating.
_FACTORY = {}


@contextlib.contextmanager
def build_on(device):
    old = dict(_FACTORY)
    _FACTORY["device"] = torch.device(device)
    try:
        yield
    finally:
        _FACTORY.clear()
        _FACTORY.update(old)


def _linear(cin, cout):
    return nn.Linear(cin, cout, **_FACTORY)


def _layer_norm(dim, eps):
    return nn.LayerNorm(dim, eps=eps, **_FACTORY)


def _embedding(n, dim):
    return nn.Embedding(n, dim, **_FACTORY)


def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


ACTIVATIONS = {"quick_gelu": quick_gelu, "gelu": F.gelu}


class CLIPAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.scale = self.head_dim ** -0.5
        self.k_proj = _linear(dim, dim)
        self.v_proj = _linear(dim, dim)
        self.q_proj = _linear(dim, dim)
        self.out_proj = _linear(dim, dim)

    def forward(self, x, mask):
        b, n, d = x.shape
        h = self.heads
        q = (self.q_proj(x) * self.scale).reshape(b, n, h, -1).transpose(1, 2)
        k = self.k_proj(x).reshape(b, n, h, -1).transpose(1, 2)
        v = self.v_proj(x).reshape(b, n, h, -1).transpose(1, 2)
        probs = (torch.matmul(q, k.transpose(-1, -2)) + mask).softmax(dim=-1)
        return self.out_proj(torch.matmul(probs, v).transpose(1, 2).reshape(b, n, d))


class CLIPMLP(nn.Module):
    def __init__(self, dim, inner, act):
        super().__init__()
        self.act = ACTIVATIONS[act]
        self.fc1 = _linear(dim, inner)
        self.fc2 = _linear(inner, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class CLIPEncoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        dim, eps = cfg["hidden_size"], cfg.get("layer_norm_eps", 1e-5)
        self.self_attn = CLIPAttention(dim, cfg["num_attention_heads"])
        self.layer_norm1 = _layer_norm(dim, eps=eps)
        self.mlp = CLIPMLP(dim, cfg["intermediate_size"], cfg.get("hidden_act", "quick_gelu"))
        self.layer_norm2 = _layer_norm(dim, eps=eps)

    def forward(self, x, mask):
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp(self.layer_norm2(x))


class CLIPEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layers = nn.ModuleList([CLIPEncoderLayer(cfg) for _ in range(cfg["num_hidden_layers"])])


class CLIPTextEmbeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.token_embedding = _embedding(cfg.get("vocab_size", 49408), cfg["hidden_size"])
        self.position_embedding = _embedding(cfg.get("max_position_embeddings", 77), cfg["hidden_size"])

    def forward(self, ids):
        positions = torch.arange(ids.shape[1], device=ids.device)
        return self.token_embedding(ids) + self.position_embedding(positions)[None]


class CLIPTextTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embeddings = CLIPTextEmbeddings(cfg)
        self.encoder = CLIPEncoder(cfg)
        self.final_layer_norm = _layer_norm(cfg["hidden_size"], eps=cfg.get("layer_norm_eps", 1e-5))

    def forward(self, ids):
        x = self.embeddings(ids)
        n = ids.shape[1]
        mask = torch.full((n, n), float("-inf"), dtype=x.dtype, device=x.device).triu(1)  # causal
        for layer in self.encoder.layers:
            x = layer(x, mask)
        return self.final_layer_norm(x)


class CLIPTextModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = dict(config)
        self.text_model = CLIPTextTransformer(self.config)

    def forward(self, input_ids):
        """input_ids [B, L] (int64) → last_hidden_state [B, L, hidden]."""
        return self.text_model(input_ids)


def count_parameters(module):
    return sum(p.numel() for p in module.parameters())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="mini", help="sd1, sd2, mini, or a text_encoder/config.json path")
    args = ap.parse_args()
    cfg = load_config(args.config)
    with build_on("meta"):
        count = count_parameters(CLIPTextModel(cfg))
    print(json.dumps({"name": f"clip_text_{os.path.basename(args.config)}_parameters", "parameters": count}))


if __name__ == "__main__":
    main()
