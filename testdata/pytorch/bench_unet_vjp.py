#!/usr/bin/env python3
"""PyTorch reference timings of a UNet forward, forward + VJP, and a Kim & Lee cov map (CPU).

The PyTorch counterpart of `deja bench unet --vjp` and `deja bench localize`. A randomly initialised
UNet (unet.py, diffusers' UNet2DConditionModel layout) in eval mode, weights with requires_grad False:

  unet_<config>_forward   y = unet(x, 981, text) under torch.no_grad()
  unet_<config>_vjp       x [B,4,S,S] and text [B,77,ctx] with requires_grad, y = unet(x, 981, text),
                          torch.autograd.grad(y, [x, text], grad_outputs=probe): one forward plus one
                          vector-Jacobian product w.r.t. latents and text states (no weight gradients)
  localize_<config>_cov   (--localize) one cov map: a forward with (z, cond) and one with (z, null)
                          at t = 1, batch 1 each, graphs retained, then K backwards (one call through
                          both graphs per Rademacher probe), D = (1/K) Σ v ⊙ Jᵀv, map = max(0, Σ_ch D_c − D_u)

Each measurement prints one JSON line {"name", "seconds" (median of --runs after one warm-up; the cov
map is timed once, as Deja times it), "peak_rss_mb" (the process's peak so far), ...}.

    python3 testdata/pytorch/bench_unet_vjp.py --config sd1 --batch 2 --runs 3
    python3 testdata/pytorch/bench_unet_vjp.py --config sd1 --modes localize
    python3 testdata/pytorch/bench_unet_vjp.py --config mini --batch 1 --runs 1 --localize   # seconds
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILTIN = ("sd1", "sd2", "mini")


def import_torch(threads):
    """Pins the thread pools (OpenMP, and Debian's OpenBLAS, which torch.set_num_threads does not reach) before torch loads."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))  # an explicit setting wins
    import torch
    torch.set_num_threads(threads)
    sys.path.insert(0, HERE)
    import unet as unet_module
    return torch, unet_module


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def emit(**row):
    print(json.dumps(row), flush=True)


def config_label(config):
    """sd1/sd2/mini, or for a path the model folder's name (…/tiny-sd1/unet/config.json → tiny-sd1)."""
    if config in BUILTIN:
        return config
    path = os.path.abspath(config)
    if path.endswith(".json"):
        path = os.path.dirname(path)
    if os.path.basename(path) == "unet":
        path = os.path.dirname(path)
    return os.path.basename(path) or "custom"


def median_time(fn, runs, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="sd1", help="sd1, sd2, mini, or a unet/config.json path (default sd1)")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3, help="timed runs per measurement (median), after one warm-up")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--size", type=int, default=None, help="latent height/width (default: the config's sample_size, else 64)")
    ap.add_argument("--timestep", type=float, default=981)
    ap.add_argument("--modes", default="forward,vjp", help="comma list of forward, vjp, localize (default forward,vjp)")
    ap.add_argument("--localize", action="store_true", help="also time one cov map (adds 'localize' to --modes)")
    ap.add_argument("--probes", type=int, default=16, help="Hutchinson probes K of the cov map")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--name", default=None, help="label in the row names (default: the config's name)")
    args = ap.parse_args()

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if args.localize and "localize" not in modes:
        modes.append("localize")
    for m in modes:
        if m not in ("forward", "vjp", "localize"):
            ap.error(f"unknown mode {m!r}")
    torch, unet_module = import_torch(args.threads)
    torch.manual_seed(args.seed)

    config = unet_module.load_config(args.config)
    which = args.name or config_label(args.config)
    size = args.size or config.get("sample_size") or 64
    unet = unet_module.UNet2DConditionModel(config).eval()
    for p in unet.parameters():
        p.requires_grad_(False)
    params = unet_module.count_parameters(unet)
    ctx = unet.cross_attention_dim
    common = {"config": which, "threads": args.threads, "latent": f"{size}x{size}", "torch": torch.__version__}
    emit(name=f"unet_{which}_parameters", parameters=params, parameters_m=round(params / 1e6, 2),
         peak_rss_mb=round(peak_rss_mb()), **common)

    b = args.batch
    sample = torch.randn(b, unet.in_channels, size, size)
    text = torch.randn(b, 77, ctx)
    probe = torch.randn(b, unet.out_channels, size, size)

    if "forward" in modes:
        def forward():
            with torch.no_grad():
                return unet(sample, args.timestep, text)
        med, times = median_time(forward, args.runs)
        emit(name=f"unet_{which}_forward", seconds=round(med, 4), peak_rss_mb=round(peak_rss_mb()),
             batch=b, runs=args.runs, times=[round(t, 4) for t in times], **common)

    if "vjp" in modes:
        def vjp():
            x = sample.detach().requires_grad_(True)
            c = text.detach().requires_grad_(True)
            y = unet(x, args.timestep, c)
            gx, gc = torch.autograd.grad(y, [x, c], grad_outputs=probe)
            assert gx.shape == x.shape and gc.shape == c.shape
        med, times = median_time(vjp, args.runs)
        emit(name=f"unet_{which}_vjp", seconds=round(med, 4), peak_rss_mb=round(peak_rss_mb()),
             batch=b, runs=args.runs, wrt="latents,text", times=[round(t, 4) for t in times], **common)

    if "localize" in modes:
        # Deja's `bench localize`: batch 1, t = 1, random cond and null text states, K probes, one timed run.
        del sample, text, probe
        z = torch.randn(1, unet.in_channels, size, size)
        cond = torch.randn(1, 77, ctx)
        null = torch.randn(1, 77, ctx)
        gen = torch.Generator().manual_seed(args.seed + 10000)
        k_probes = args.probes

        start = time.perf_counter()
        zc = z.detach().clone().requires_grad_(True)
        zu = z.detach().clone().requires_grad_(True)
        eps_c = unet(zc, 1, cond)
        eps_u = unet(zu, 1, null)
        dc = torch.zeros(z.shape, dtype=torch.float64)
        du = torch.zeros(z.shape, dtype=torch.float64)
        for k in range(k_probes):
            v = torch.randint(0, 2, z.shape, generator=gen).to(z.dtype) * 2 - 1  # Rademacher
            gc, gu = torch.autograd.grad([eps_c, eps_u], [zc, zu], grad_outputs=[v, v], retain_graph=k + 1 < k_probes)
            dc += (v * gc).double()
            du += (v * gu).double()
        cov = ((dc - du) / k_probes).sum(dim=1).clamp_min(0)  # [1, H, W]
        seconds = time.perf_counter() - start
        assert cov.shape == (1, size, size)
        emit(name=f"localize_{which}_cov", seconds=round(seconds, 3), peak_rss_mb=round(peak_rss_mb()),
             probes=k_probes, batch=1, **common)


if __name__ == "__main__":
    main()
