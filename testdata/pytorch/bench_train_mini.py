#!/usr/bin/env python3
"""PyTorch reference timing of one training step of Deja's mini model (CPU).

The PyTorch counterpart of `deja bench train --config mini --batch 32`: the same step as Deja's
Trainer (src/Deja.Diffusion/Training/Trainer.cs), on the same architectures (unet.py and clip_text.py
built from data/models/deja-mini/{unet,text_encoder}/config.json):

  * data: 64 random images tanh(N(0,1)) of 3×32×32 and their captions as random token ids
    (BOS, 7 tokens, EOS, padded with 49407 to 77); each step draws --batch of them with replacement,
    drops a caption to "" (BOS, EOS, padding) with probability 0.1
  * t ~ U{0..999}, SD's scaled_linear schedule (β 0.00085 … 0.012), noise ε ~ N(0,1) plus offset noise
    0.1·N(0,1) per (image, channel), x_t = √ᾱ_t x₀ + √(1−ᾱ_t) ε
  * text encoder and UNet in train mode, trained jointly: loss = mean (ε̂(x_t, t, c) − ε)²
  * AdamW (lr 1e-3 with Deja's linear warm-up over 200 steps, betas 0.9/0.999, eps 1e-8, weight
    decay 0.01 on every parameter), gradients clipped to total norm 1, then an EMA of every parameter
    (decay 0.999 with diffusers' EMAModel warm-up min(decay, (1+s)/(10+s)), as Deja's Ema)

Prints one JSON line with the parameter counts, then {"name": "train_mini", "seconds": median seconds per
step over --runs timed steps after --warmup steps, "peak_rss_mb", "images_per_second", ...}.
Deja reports the mean over its timed steps (`deja bench train --steps N`); "mean_seconds" is here too.

    python3 testdata/pytorch/bench_train_mini.py --batch 32 --runs 5
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MINI = os.path.join(REPO, "data", "models", "deja-mini")

BOS, EOS, PAD, VOCAB_WORDS = 49406, 49407, 49407, 49406  # CLIP's special tokens; words are ids below 49406


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def import_torch(threads):
    """Pins the thread pools (OpenMP, and Debian's OpenBLAS, which torch.set_num_threads does not reach) before torch loads."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))  # an explicit setting wins
    import torch
    torch.set_num_threads(threads)
    sys.path.insert(0, HERE)
    import clip_text
    import unet
    return torch, unet, clip_text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--unet-config", default=os.path.join(MINI, "unet", "config.json"))
    ap.add_argument("--text-config", default=os.path.join(MINI, "text_encoder", "config.json"))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--runs", type=int, default=5, help="timed steps (median)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup-steps", type=int, default=200, help="linear learning-rate warm-up (Deja's default)")
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--max-grad-norm", type=float, default=1.0)
    ap.add_argument("--ema-decay", type=float, default=0.999)
    ap.add_argument("--condition-dropout", type=float, default=0.1)
    ap.add_argument("--offset-noise", type=float, default=0.1)
    ap.add_argument("--images", type=int, default=64, help="size of the random data set")
    ap.add_argument("--foreach", action="store_true", help="AdamW(foreach=True) and a foreach EMA (default: PyTorch's CPU default, per tensor)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch, unet_module, clip_module = import_torch(args.threads)
    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed + 1)

    ucfg = unet_module.load_config(args.unet_config)
    tcfg = clip_module.load_config(args.text_config)
    net = unet_module.UNet2DConditionModel(ucfg).train()
    text = clip_module.CLIPTextModel(tcfg).train()
    if net.cross_attention_dim != tcfg["hidden_size"]:
        sys.exit(f"cross_attention_dim {net.cross_attention_dim} != text hidden_size {tcfg['hidden_size']}")
    n_unet, n_text = unet_module.count_parameters(net), clip_module.count_parameters(text)
    print(json.dumps({"name": "train_mini_parameters", "unet_parameters": n_unet, "text_encoder_parameters": n_text,
                      "unet_m": round(n_unet / 1e6, 2), "text_encoder_m": round(n_text / 1e6, 2)}), flush=True)

    c, s = net.in_channels, ucfg.get("sample_size") or 32
    length = tcfg.get("max_position_embeddings", 77)
    images = torch.tanh(torch.randn(args.images, c, s, s, generator=g))
    ids = torch.full((args.images, length), PAD, dtype=torch.long)
    ids[:, 0] = BOS
    ids[:, 1:8] = torch.randint(0, VOCAB_WORDS, (args.images, 7), generator=g)
    ids[:, 8] = EOS
    empty = torch.full((length,), PAD, dtype=torch.long)
    empty[0], empty[1] = BOS, EOS

    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2  # scaled_linear
    alpha_bar = torch.cumprod(1 - betas, dim=0)

    params = list(net.parameters()) + list(text.parameters())
    adamw_kwargs = {"foreach": True} if args.foreach else {}
    optimizer = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=args.weight_decay,
                                  **adamw_kwargs)
    shadows = [p.detach().clone() for p in params]
    state = {"step": 0, "ema": 0}

    def ema_update():
        state["ema"] += 1
        s_ = state["ema"] - 1
        decay = 0.0 if s_ <= 0 else min(args.ema_decay, (1 + s_) / (10 + s_))
        with torch.no_grad():
            if args.foreach:
                torch._foreach_mul_(shadows, decay)
                torch._foreach_add_(shadows, [p.detach() for p in params], alpha=1 - decay)
            else:
                for sh, p in zip(shadows, params):
                    sh.lerp_(p.detach(), 1 - decay)  # sh ← sh + (1 − d)(p − sh)

    def step():
        state["step"] += 1
        k, b = state["step"], args.batch
        index = torch.randint(0, args.images, (b,), generator=g)
        x0 = images[index]
        batch_ids = ids[index].clone()
        drop = torch.rand(b, generator=g) < args.condition_dropout
        batch_ids[drop] = empty
        t = torch.randint(0, 1000, (b,), generator=g)
        ab = alpha_bar[t].float()
        noise = torch.randn(b, c, s, s, generator=g)
        if args.offset_noise > 0:
            noise = noise + args.offset_noise * torch.randn(b, c, 1, 1, generator=g)
        xt = ab.sqrt()[:, None, None, None] * x0 + (1 - ab).sqrt()[:, None, None, None] * noise
        lr = args.lr if args.warmup_steps == 0 else args.lr * min(1.0, k / args.warmup_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        states = text(batch_ids)
        predicted = net(xt, t, states)
        loss = ((predicted - noise) ** 2).mean(dim=(1, 2, 3)).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, args.max_grad_norm)
        optimizer.step()
        ema_update()
        return loss.item()

    for _ in range(args.warmup):
        step()
    times, losses = [], []
    for _ in range(args.runs):
        start = time.perf_counter()
        losses.append(step())
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(json.dumps({
        "name": "train_mini", "seconds": round(median, 4), "peak_rss_mb": round(peak_rss_mb()),
        "mean_seconds": round(statistics.mean(times), 4), "images_per_second": round(args.batch / median, 1),
        "batch": args.batch, "runs": args.runs, "warmup": args.warmup, "threads": args.threads,
        "times": [round(x, 4) for x in times], "loss": round(losses[-1], 4), "foreach": args.foreach,
        "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
