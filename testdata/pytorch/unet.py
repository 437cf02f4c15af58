#!/usr/bin/env python3
"""A Stable Diffusion UNet (diffusers' UNet2DConditionModel layout) in plain PyTorch.

Written for Deja as a timing reference: no diffusers, no transformers, only torch. It builds from a
diffusers unet/config.json dict and has the same modules, shapes, parameter names and FLOPs as
diffusers 0.25's UNet2DConditionModel for the configs Stable Diffusion 1.x/2.x use (positional time
embedding, CrossAttnDownBlock2D / DownBlock2D / CrossAttnUpBlock2D / UpBlock2D, UNetMidBlock2DCrossAttn,
one transformer layer per block, GEGLU feed-forward). Options outside that set (class embeddings,
addition embeddings, dual cross-attention, time-scale-shift resnets, ...) are rejected, not ignored.

Attention is plain softmax(q k^T / sqrt(d)) v with materialised scores, the scale folded into the score GEMM
(baddbmm); torch 1.13 has no scaled_dot_product_attention.

    python3 unet.py --config sd1          # parameter count, built on the meta device (no memory)
    python3 unet.py --config /path/to/unet/config.json
"""
import argparse
import contextlib
import json
import math
import os

import torch
import torch.nn.functional as F
from torch import nn

# ----------------------------------------------------------------------------------------- configs

SD1_CONFIG = {  # CompVis/stable-diffusion-v1-4 unet/config.json (the fields that matter)
    "_class_name": "UNet2DConditionModel",
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 768,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
}

SD2_CONFIG = {  # stabilityai/stable-diffusion-2-1 unet/config.json (the fields that matter)
    "_class_name": "UNet2DConditionModel",
    "act_fn": "silu",
    "attention_head_dim": [5, 10, 20, 20],
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 1024,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1,
    "dual_cross_attention": False,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "num_class_embeds": None,
    "only_cross_attention": False,
    "out_channels": 4,
    "sample_size": 96,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "upcast_attention": True,
    "use_linear_projection": True,
}

BUILTIN_CONFIGS = {"sd1": SD1_CONFIG, "sd2": SD2_CONFIG}

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MINI_UNET_CONFIG = os.path.join(REPO, "data", "models", "deja-mini", "unet", "config.json")


def load_config(name_or_path):
    """'sd1', 'sd2', 'mini' (data/models/deja-mini/unet/config.json), or the path of a unet/config.json."""
    if name_or_path in BUILTIN_CONFIGS:
        return dict(BUILTIN_CONFIGS[name_or_path])
    path = MINI_UNET_CONFIG if name_or_path == "mini" else name_or_path
    if os.path.isdir(path):
        path = os.path.join(path, "config.json")
    with open(path) as f:
        return json.load(f)


# ------------------------------------------------------------------------- device for construction
# Every layer below is made through these helpers, so that `with build_on("meta"):` builds a model
# without allocating (parameter counts of SD1/SD2 in no time and no memory).

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


def conv(cin, cout, k, stride=1, padding=0):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=padding, **_FACTORY)


def linear(cin, cout, bias=True):
    return nn.Linear(cin, cout, bias=bias, **_FACTORY)


def group_norm(groups, channels, eps):
    return nn.GroupNorm(groups, channels, eps=eps, affine=True, **_FACTORY)


def layer_norm(dim, eps=1e-5):
    return nn.LayerNorm(dim, eps=eps, **_FACTORY)


def count_parameters(module):
    return sum(p.numel() for p in module.parameters())


# --------------------------------------------------------------------------------------- modules

def timestep_embedding(t, dim, flip_sin_to_cos, shift, max_period=10000):
    """Sinusoidal embedding of timesteps t [B]: frequencies exp(-ln(max_period)·i/(half − shift))."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / (half - shift))
    args = t.float()[:, None] * freqs[None, :]
    emb = torch.cat([torch.cos(args), torch.sin(args)] if flip_sin_to_cos else [torch.sin(args), torch.cos(args)], dim=-1)
    if dim % 2 == 1:
        emb = F.pad(emb, (0, 1))
    return emb


class TimestepEmbedding(nn.Module):
    def __init__(self, cin, dim):
        super().__init__()
        self.linear_1 = linear(cin, dim)
        self.linear_2 = linear(dim, dim)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class ResnetBlock2D(nn.Module):
    """GN → SiLU → conv3×3, + Linear(SiLU(temb)), GN → SiLU → conv3×3, + (1×1-projected) input."""

    def __init__(self, cin, cout, temb_channels, groups, eps, output_scale_factor=1.0):
        super().__init__()
        self.norm1 = group_norm(groups, cin, eps)
        self.conv1 = conv(cin, cout, 3, padding=1)
        self.time_emb_proj = linear(temb_channels, cout)
        self.norm2 = group_norm(groups, cout, eps)
        self.conv2 = conv(cout, cout, 3, padding=1)
        self.conv_shortcut = conv(cin, cout, 1) if cin != cout else None
        self.output_scale_factor = output_scale_factor

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))  # dropout 0
        if self.conv_shortcut is not None:
            x = self.conv_shortcut(x)
        out = x + h
        return out if self.output_scale_factor == 1 else out / self.output_scale_factor


class Attention(nn.Module):
    """Multi-head attention without q/k/v biases; to_out is [Linear, Dropout] (named to_out.0)."""

    def __init__(self, query_dim, heads, head_dim, context_dim=None, upcast=False):
        super().__init__()
        inner = heads * head_dim
        context_dim = context_dim or query_dim
        self.heads, self.scale, self.upcast = heads, head_dim ** -0.5, upcast
        self.to_q = linear(query_dim, inner, bias=False)
        self.to_k = linear(context_dim, inner, bias=False)
        self.to_v = linear(context_dim, inner, bias=False)
        self.to_out = nn.ModuleList([linear(inner, query_dim), nn.Dropout(0.0)])

    def forward(self, x, context=None):
        context = x if context is None else context
        b, n, _ = x.shape
        m, h = context.shape[1], self.heads
        q = self.to_q(x).reshape(b, n, h, -1).transpose(1, 2).reshape(b * h, n, -1)        # [B·h, N, d]
        k = self.to_k(context).reshape(b, m, h, -1).transpose(1, 2).reshape(b * h, m, -1)  # [B·h, M, d]
        v = self.to_v(context).reshape(b, m, h, -1).transpose(1, 2).reshape(b * h, m, -1)
        if self.upcast:  # SD2's upcast_attention: scores in float32 (a no-op for float32 models)
            q, k = q.float(), k.float()
        # scale folded into the score GEMM (beta = 0: the empty tensor is never read)
        scores = torch.baddbmm(torch.empty(b * h, n, m, dtype=q.dtype, device=q.device), q, k.transpose(1, 2),
                               beta=0, alpha=self.scale)
        probs = scores.softmax(dim=-1).to(v.dtype)
        out = torch.bmm(probs, v).reshape(b, h, n, -1).transpose(1, 2).reshape(b, n, -1)
        return self.to_out[0](out)


class GEGLU(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.proj = linear(dim, inner * 2)

    def forward(self, x):
        hidden, gate = self.proj(x).chunk(2, dim=-1)
        return hidden * F.gelu(gate)


class FeedForward(nn.Module):
    """net = [GEGLU(dim → 4·dim), Dropout, Linear(4·dim → dim)] (names ff.net.0.proj, ff.net.2)."""

    def __init__(self, dim, mult=4):
        super().__init__()
        inner = int(dim * mult)
        self.net = nn.ModuleList([GEGLU(dim, inner), nn.Dropout(0.0), linear(inner, dim)])

    def forward(self, x):
        for layer in self.net:
            x = layer(x)
        return x


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim, heads, head_dim, context_dim, upcast=False):
        super().__init__()
        self.norm1 = layer_norm(dim)
        self.attn1 = Attention(dim, heads, head_dim, None, upcast)
        self.norm2 = layer_norm(dim)
        self.attn2 = Attention(dim, heads, head_dim, context_dim, upcast)
        self.norm3 = layer_norm(dim)
        self.ff = FeedForward(dim)

    def forward(self, x, context):
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context) + x
        return self.ff(self.norm3(x)) + x


class Transformer2DModel(nn.Module):
    """GN(eps 1e-6) → proj_in (1×1 conv, or linear on tokens) → blocks → proj_out → + input."""

    def __init__(self, channels, heads, context_dim, groups, linear_projection, upcast=False, layers=1):
        super().__init__()
        head_dim = channels // heads
        inner = heads * head_dim
        self.linear_projection = linear_projection
        self.norm = group_norm(groups, channels, 1e-6)
        self.proj_in = linear(channels, inner) if linear_projection else conv(channels, inner, 1)
        self.transformer_blocks = nn.ModuleList(
            [BasicTransformerBlock(inner, heads, head_dim, context_dim, upcast) for _ in range(layers)])
        self.proj_out = linear(inner, channels) if linear_projection else conv(inner, channels, 1)

    def forward(self, x, context):
        b, c, hh, ww = x.shape
        residual = x
        h = self.norm(x)
        if self.linear_projection:
            h = self.proj_in(h.permute(0, 2, 3, 1).reshape(b, hh * ww, c))
        else:
            h = self.proj_in(h)
            h = h.permute(0, 2, 3, 1).reshape(b, hh * ww, h.shape[1])
        for block in self.transformer_blocks:
            h = block(h, context)
        if self.linear_projection:
            h = self.proj_out(h).reshape(b, hh, ww, c).permute(0, 3, 1, 2)
        else:
            h = self.proj_out(h.reshape(b, hh, ww, -1).permute(0, 3, 1, 2))
        return h + residual


class Downsample2D(nn.Module):
    def __init__(self, channels, padding=1):
        super().__init__()
        self.conv = conv(channels, channels, 3, stride=2, padding=padding)

    def forward(self, x):
        return self.conv(x)


class Upsample2D(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = conv(channels, channels, 3, padding=1)

    def forward(self, x, size=None):
        if size is None:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        else:
            x = F.interpolate(x, size=size, mode="nearest")
        return self.conv(x)


class DownBlock(nn.Module):
    """DownBlock2D (attention=False) or CrossAttnDownBlock2D: (resnet [+ attention]) × layers, then a stride-2 conv."""

    def __init__(self, cin, cout, temb, layers, groups, eps, attention, heads, context_dim, linear_projection,
                 upcast, add_downsample, padding, transformer_layers=1):
        super().__init__()
        self.resnets = nn.ModuleList(
            [ResnetBlock2D(cin if i == 0 else cout, cout, temb, groups, eps) for i in range(layers)])
        if attention:
            self.attentions = nn.ModuleList(
                [Transformer2DModel(cout, heads, context_dim, groups, linear_projection, upcast, transformer_layers)
                 for _ in range(layers)])
        else:
            self.attentions = None
        self.downsamplers = nn.ModuleList([Downsample2D(cout, padding)]) if add_downsample else None

    def forward(self, x, temb, context):
        states = []
        for i, resnet in enumerate(self.resnets):
            x = resnet(x, temb)
            if self.attentions is not None:
                x = self.attentions[i](x, context)
            states.append(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            states.append(x)
        return x, states


class UpBlock(nn.Module):
    """UpBlock2D or CrossAttnUpBlock2D: (concat skip → resnet [+ attention]) × (layers + 1), then 2× nearest + conv."""

    def __init__(self, cin, cout, prev, temb, layers, groups, eps, attention, heads, context_dim, linear_projection,
                 upcast, add_upsample, transformer_layers=1):
        super().__init__()
        resnets = []
        for i in range(layers):
            skip = cin if i == layers - 1 else cout
            resnets.append(ResnetBlock2D((prev if i == 0 else cout) + skip, cout, temb, groups, eps))
        self.resnets = nn.ModuleList(resnets)
        if attention:
            self.attentions = nn.ModuleList(
                [Transformer2DModel(cout, heads, context_dim, groups, linear_projection, upcast, transformer_layers)
                 for _ in range(layers)])
        else:
            self.attentions = None
        self.upsamplers = nn.ModuleList([Upsample2D(cout)]) if add_upsample else None

    def forward(self, x, skips, temb, context, upsample_size=None):
        for i, resnet in enumerate(self.resnets):
            x = torch.cat([x, skips.pop()], dim=1)
            x = resnet(x, temb)
            if self.attentions is not None:
                x = self.attentions[i](x, context)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x, upsample_size)
        return x


class MidBlock(nn.Module):
    """UNetMidBlock2DCrossAttn with one layer: resnet → attention → resnet."""

    def __init__(self, channels, temb, groups, eps, heads, context_dim, linear_projection, upcast, scale,
                 transformer_layers=1):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(channels, channels, temb, groups, eps, scale),
                                      ResnetBlock2D(channels, channels, temb, groups, eps, scale)])
        self.attentions = nn.ModuleList(
            [Transformer2DModel(channels, heads, context_dim, groups, linear_projection, upcast, transformer_layers)])

    def forward(self, x, temb, context):
        x = self.resnets[0](x, temb)
        x = self.attentions[0](x, context)
        return self.resnets[1](x, temb)


# Config keys that change the architecture away from SD's; any other value than these is refused.
_MUST_BE = {
    "center_input_sample": False, "class_embed_type": None, "num_class_embeds": None, "addition_embed_type": None,
    "encoder_hid_dim": None, "encoder_hid_dim_type": None, "time_cond_proj_dim": None, "time_embedding_dim": None,
    "time_embedding_act_fn": None, "timestep_post_act": None, "time_embedding_type": "positional",
    "resnet_time_scale_shift": "default", "dual_cross_attention": False, "only_cross_attention": False,
    "mid_block_only_cross_attention": None, "act_fn": "silu", "conv_in_kernel": 3, "conv_out_kernel": 3,
    "resnet_skip_time_act": False, "resnet_out_scale_factor": 1.0, "attention_type": "default",
    "cross_attention_norm": None, "class_embeddings_concat": False, "mid_block_type": "UNetMidBlock2DCrossAttn",
    "transformer_layers_per_block": 1, "reverse_transformer_layers_per_block": None, "num_attention_heads": None,
}


class UNet2DConditionModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        for key, want in _MUST_BE.items():
            if key in config and config[key] != want and not (isinstance(want, bool) and config[key] in (None, want)):
                raise ValueError(f"unet config: {key} = {config[key]!r} is not supported (this model needs {want!r})")
        self.config = config = dict(config)
        channels = config["block_out_channels"]
        down_types, up_types = config["down_block_types"], config["up_block_types"]
        n = len(channels)
        if len(down_types) != n or len(up_types) != n:
            raise ValueError("unet config: down_block_types, up_block_types and block_out_channels differ in length")
        layers = config.get("layers_per_block", 2)
        if not isinstance(layers, int):
            raise ValueError("unet config: per-level layers_per_block is not supported")
        groups = config.get("norm_num_groups", 32)
        eps = config.get("norm_eps", 1e-5)
        context_dim = config.get("cross_attention_dim", 1280)
        if not isinstance(context_dim, int):
            raise ValueError("unet config: per-level cross_attention_dim is not supported")
        linear_projection = bool(config.get("use_linear_projection", False))
        upcast = bool(config.get("upcast_attention", False))
        # diffusers' naming quirk: for these configs `attention_head_dim` is the number of heads per level.
        heads = config.get("attention_head_dim", 8)
        heads = [heads] * n if isinstance(heads, int) else list(heads)
        self.flip_sin_to_cos = config.get("flip_sin_to_cos", True)
        self.freq_shift = config.get("freq_shift", 0)
        self.in_channels, self.out_channels = config.get("in_channels", 4), config.get("out_channels", 4)
        self.sample_size = config.get("sample_size")
        self.cross_attention_dim = context_dim
        temb = channels[0] * 4

        self.conv_in = conv(self.in_channels, channels[0], 3, padding=1)
        self.time_embedding = TimestepEmbedding(channels[0], temb)

        self.down_blocks = nn.ModuleList()
        cout = channels[0]
        for i, kind in enumerate(down_types):
            if kind not in ("CrossAttnDownBlock2D", "DownBlock2D"):
                raise ValueError(f"unet config: down block {kind} is not supported")
            cin, cout = cout, channels[i]
            self.down_blocks.append(DownBlock(
                cin, cout, temb, layers, groups, eps, kind == "CrossAttnDownBlock2D", heads[i], context_dim,
                linear_projection, upcast, add_downsample=i < n - 1, padding=config.get("downsample_padding", 1)))

        self.mid_block = MidBlock(channels[-1], temb, groups, eps, heads[-1], context_dim, linear_projection, upcast,
                                  config.get("mid_block_scale_factor", 1))

        self.up_blocks = nn.ModuleList()
        rev, rev_heads = list(reversed(channels)), list(reversed(heads))
        cout = rev[0]
        for i, kind in enumerate(up_types):
            if kind not in ("CrossAttnUpBlock2D", "UpBlock2D"):
                raise ValueError(f"unet config: up block {kind} is not supported")
            prev, cout = cout, rev[i]
            cin = rev[min(i + 1, n - 1)]
            self.up_blocks.append(UpBlock(
                cin, cout, prev, temb, layers + 1, groups, eps, kind == "CrossAttnUpBlock2D", rev_heads[i],
                context_dim, linear_projection, upcast, add_upsample=i < n - 1))

        self.conv_norm_out = group_norm(groups, channels[0], eps)
        self.conv_out = conv(channels[0], self.out_channels, 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states):
        """sample [B, C, H, W], timestep (number, or tensor [] / [B]), encoder_hidden_states [B, 77, context] → ε̂ [B, C, H, W]."""
        b = sample.shape[0]
        t = torch.as_tensor(timestep, device=sample.device)
        if t.dim() == 0:
            t = t[None]
        t = t.expand(b)
        emb = timestep_embedding(t, self.conv_in.out_channels, self.flip_sin_to_cos, self.freq_shift).to(sample.dtype)
        emb = self.time_embedding(emb)

        x = self.conv_in(sample)
        skips = [x]
        for block in self.down_blocks:
            x, states = block(x, emb, encoder_hidden_states)
            skips.extend(states)
        x = self.mid_block(x, emb, encoder_hidden_states)
        for block in self.up_blocks:
            mine = [skips.pop() for _ in block.resnets][::-1]
            # upsample to the next skip's size (2× except for odd sizes, as diffusers' upsample_size does)
            size = tuple(skips[-1].shape[2:]) if block.upsamplers is not None else None
            if size is not None and size == (x.shape[2] * 2, x.shape[3] * 2):
                size = None
            x = block(x, mine, emb, encoder_hidden_states, size)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


def describe(config):
    """Parameter count (built on the meta device: no allocation) and the attention layout per level."""
    with build_on("meta"):
        model = UNet2DConditionModel(config)
    heads = config.get("attention_head_dim", 8)
    heads = [heads] * len(config["block_out_channels"]) if isinstance(heads, int) else heads
    return {"parameters": count_parameters(model),
            "heads": heads, "head_dim": [c // h for c, h in zip(config["block_out_channels"], heads)]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="sd1", help="sd1, sd2, mini, or a unet/config.json path")
    args = ap.parse_args()
    info = describe(load_config(args.config))
    print(json.dumps({"name": f"unet_{os.path.basename(args.config)}_parameters", **info}))


if __name__ == "__main__":
    main()
