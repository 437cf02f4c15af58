#!/usr/bin/env python3
"""Checks unet.py and clip_text.py against the diffusers/transformers goldens in testdata/golden.

Loads the tiny-sd1 and tiny-sd2 weights (strict: every parameter name and shape must match diffusers'
and transformers') and compares the outputs with the stored reference outputs. Takes a second or two
on a CPU; prints one JSON line per comparison and exits 1 if any is off by more than --tol.

    python3 testdata/pytorch/check_golden.py
"""
import argparse
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clip_text  # noqa: E402
import unet as unet_module  # noqa: E402

GOLDEN = os.path.join(unet_module.REPO, "testdata", "golden")
DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "I32": torch.int32, "F16": torch.float16}


def read_safetensors(path):
    """A minimal safetensors reader: u64 header length, JSON header, raw little-endian data."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        buf = bytearray(data[base + begin:base + end])
        t = torch.frombuffer(buf, dtype=DTYPES[info["dtype"]]) if buf else torch.empty(0, dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tol", type=float, default=1e-4, help="max |ours − golden| allowed")
    args = ap.parse_args()
    torch.set_num_threads(1)
    bad = 0

    def report(name, ours, ref):
        nonlocal bad
        diff = (ours.double() - ref.double()).abs().max().item()
        ok = diff <= args.tol
        bad += not ok
        print(json.dumps({"name": name, "max_abs_diff": diff, "ok": ok}))

    for family in ("sd1", "sd2"):
        root = os.path.join(GOLDEN, f"tiny-{family}")
        with torch.no_grad():
            te = clip_text.CLIPTextModel(clip_text.load_config(os.path.join(root, "text_encoder"))).eval()
            weights = read_safetensors(os.path.join(root, "text_encoder", "model.safetensors"))
            weights.pop("text_model.embeddings.position_ids", None)  # a buffer in some transformers versions
            te.load_state_dict(weights, strict=True)
            g = read_safetensors(os.path.join(GOLDEN, "golden", f"{family}_text_encoder.safetensors"))
            report(f"{family}_text_encoder.last_hidden_state", te(g["input_ids"]), g["last_hidden_state"])

            net = unet_module.UNet2DConditionModel(unet_module.load_config(os.path.join(root, "unet"))).eval()
            net.load_state_dict(read_safetensors(os.path.join(root, "unet", "diffusion_pytorch_model.safetensors")), strict=True)
            g = read_safetensors(os.path.join(GOLDEN, "golden", f"{family}_unet.safetensors"))
            ehs = g["encoder_hidden_states"]
            for t in (981, 501, 1):
                report(f"{family}_unet.out_t{t}", net(g["latents"], t, ehs), g[f"out_t{t}"])
            report(f"{family}_unet.out_t_per_sample", net(g["latents"], g["timesteps_per_sample"], ehs), g["out_t_per_sample"])
            report(f"{family}_unet.out_nonsquare_t501", net(g["latents_nonsquare"], 501, ehs[1:2]), g["out_nonsquare_t501"])
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
