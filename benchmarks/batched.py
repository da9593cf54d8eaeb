"""Batched sweeps: tokens/s of K models trained at once vs the same K runs one by one.

    python benchmarks/batched.py        # GPU: width 256, depth 4, K = 1..32, then the
                                        # widths 128..1024 against K (about 5 minutes)
    python benchmarks/batched.py --device cpu --threads 1 --widths 128 --depth 2 --ks 1,2,4,8
    # the CPU table of benchmarks/README.md (study-like shapes, 5 alternating repeats):
    python benchmarks/batched.py --device cpu --threads 1 --widths 16,32,64,128 --depth 1 \
        --n-heads 2 --seq-len 64 --batch-size 8 --ks 1,2,4,8,16 --steps 10 --warmup 3 \
        --repeats 5

For every width and K: K runs of one shape (an LR sweep: LRs spread around 3e-3, one
seed each) are trained

* **batched**: `batched_train.train_step` on a `BatchedGPT` of the K models;
* **sequential**: one after another, each with `train.train_step` on its own GPT (the
  sweep's `--no-batch` path: fused AdamW on CUDA), `--seq-k` runs per width (default
  16, or the largest K below it); a run's cost does not depend on K, so the speed-up
  of every K is batched tokens/s over these runs' tokens/s.

Both do untimed warmup steps first (compilation, autotuning) and then `--steps` timed
steps per model, reading each step's loss back to the host one step late as the
trainers do for the divergence test; model building and evaluation are not timed.
tokens/s counts every model's tokens: K * batch_size * seq_len per batched step.
With `--repeats R` every width is measured R times, each repeat timing the sequential
runs and then every K again (so on a busy machine the two alternate and each ratio
compares measurements taken minutes apart at most); each repeat's speed-up uses that
repeat's sequential figure, and the table gives the median and range of the R ratios.
Prints one JSON line per measurement and a table at the end; an out-of-memory K is
reported as such and ends that width.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from reference_trainer import batched_train as bt  # noqa: E402
from reference_trainer import build, data, optim, runtime, train  # noqa: E402
from reference_trainer.batched import BatchedGPT  # noqa: E402
from reference_trainer.batched_optim import BatchedAdamW  # noqa: E402
from reference_trainer.config import RunConfig  # noqa: E402


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def configs(a, width: int, k: int) -> list[RunConfig]:
    lrs = [3e-3 * 2 ** ((i - k // 2) / 2) for i in range(k)]  # half-octave LR grid
    return [RunConfig(width=width, depth=a.depth, seq_len=a.seq_len, batch_size=a.batch_size,
                      head_dim=a.head_dim, n_heads=a.n_heads, param=a.param,
                      base_width=a.base_width or width, lr=lr, seed=0,
                      tokens=a.batch_size * a.seq_len * (a.steps + a.warmup),
                      device=a.device, dtype=a.dtype, compile=a.compile) for lr in lrs]


def time_batched(cfgs: list[RunConfig], a) -> float:
    """tokens/s of the K models trained as one batch."""
    c0 = cfgs[0]
    dev = runtime.resolve_device(c0.device)
    ds = data.load(c0.data, c0.val_frac)
    model = BatchedGPT(cfgs, ds.vocab_size, dev)
    opt = BatchedAdamW(model)
    if c0.compile:
        torch._dynamo.reset()
    forward = torch.compile(model.forward) if c0.compile else model.forward
    streams = {c.seed: data.Batches(ds.train, c.seq_len, c.batch_size, seed=c.seed + 1)
               for c in cfgs}
    seeds = [c.seed for c in cfgs]
    factor = torch.ones(len(cfgs), device=dev)
    pending = None
    for i in range(a.warmup + a.steps):
        if i == a.warmup:
            if pending is not None:
                pending.tolist()
            sync(dev)
            t0 = time.perf_counter()
        x, y = bt._next_batches(streams, seeds)
        loss = bt.train_step(model, opt, forward, x, y, c0.batch_size, dev, c0.dtype, factor)
        if pending is not None:
            pending.tolist()
        pending = runtime.HostScalar(loss)
    pending.tolist()
    sync(dev)
    dt = time.perf_counter() - t0
    return len(cfgs) * a.steps * c0.tokens_per_step / dt


def time_sequential(cfgs: list[RunConfig], a) -> float:
    """tokens/s of the same runs trained one after another (single-run code path)."""
    total_s = 0.0
    for cfg in cfgs:
        d = runtime.setup(cfg.device)
        ds = data.load(cfg.data, cfg.val_frac)
        raw, tbl = build.build_model(cfg, ds.vocab_size)
        raw.to(d.device)
        cuda = d.device.type == "cuda"
        opt = optim.build(raw, tbl, cfg, fused=cuda)
        if cfg.compile:
            torch._dynamo.reset()
        model = torch.compile(raw) if cfg.compile else raw
        batches = data.Batches(ds.train, cfg.seq_len, cfg.batch_size, seed=cfg.seed + 1)
        pending = None
        for i in range(a.warmup + a.steps):
            if i == a.warmup:
                if pending is not None:
                    pending.get()
                sync(d.device)
                t0 = time.perf_counter()
            x, y = batches.next()
            loss = train.train_step(model, raw, opt, x, y, cfg.batch_size, cfg, d, 1.0)
            if pending is not None:
                pending.get()
            pending = runtime.HostScalar(loss)
        pending.get()
        sync(d.device)
        total_s += time.perf_counter() - t0
        del model, raw, opt
    return len(cfgs) * a.steps * cfgs[0].tokens_per_step / total_s


def device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def main(argv=None) -> list[dict]:
    gpu = torch.cuda.is_available()
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if gpu else "cpu")
    p.add_argument("--widths", default=None,
                   help="comma-separated (default: 256,128,512,1024 on GPU, 128 on CPU)")
    p.add_argument("--ks", default=None, help="models per batch (default 1,2,4,8,16,32 on "
                   "GPU, 1,2,4,8 on CPU)")
    p.add_argument("--seq-k", type=int, help="sequential runs timed per width (default 16, "
                   "or the largest K when smaller; 0: none)")
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=32, help="sequences per step per model")
    p.add_argument("--head-dim", type=int, default=32)
    p.add_argument("--n-heads", type=int, default=0, help="fixed heads (0: width / head-dim)")
    p.add_argument("--base-width", type=int, default=128, help="muP base width (0: each "
                   "width is its own base)")
    p.add_argument("--repeats", type=int, default=1, help="measure every width this many "
                   "times, sequential and batched alternating (default 1)")
    p.add_argument("--param", default="mup")
    p.add_argument("--steps", type=int, default=20, help="timed steps")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=False,
                   help="torch.compile both paths (default off: sweeps run uncompiled)")
    p.add_argument("--dtype", default="auto", help="auto (bf16 on CUDA) | fp32 | bf16")
    p.add_argument("--threads", type=int, help="CPU threads (default: torch's)")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = runtime.resolve_device(a.device)
    cuda = dev.type == "cuda"
    if cuda:
        torch.set_float32_matmul_precision("high")
        torch.backends.cudnn.allow_tf32 = True
    widths = [int(w) for w in (a.widths or ("256,128,512,1024" if cuda else "128")).split(",")]
    ks = [int(k) for k in (a.ks or ("1,2,4,8,16,32" if cuda else "1,2,4,8")).split(",")]
    seq_k = a.seq_k if a.seq_k is not None else (16 if 16 in ks else max(ks))
    results = []
    for rep in range(max(1, a.repeats)):
        for width in widths:
            base = {"device": device_name(dev), "torch": torch.__version__, "width": width,
                    "depth": a.depth, "n_heads": a.n_heads, "seq_len": a.seq_len,
                    "batch_size": a.batch_size, "compile": a.compile, "repeat": rep,
                    "dtype": "bf16 autocast"
                    if (cuda and a.dtype == "auto") or a.dtype == "bf16" else "fp32"}
            seq = None
            if seq_k:
                seq = round(time_sequential(configs(a, width, seq_k), a), 1)
                print(json.dumps(base | {"sequential_runs": seq_k,
                                         "sequential_tokens_per_s": seq}), flush=True)
            for k in ks:
                rec = base | {"K": k}
                try:
                    tps = round(time_batched(configs(a, width, k), a), 1)
                    rec["batched_tokens_per_s"] = tps
                    if seq:
                        rec["sequential_tokens_per_s"] = seq
                        rec["speedup"] = round(tps / seq, 2)
                except torch.OutOfMemoryError:
                    rec["batched_tokens_per_s"] = "out of memory"
                print(json.dumps(rec), flush=True)
                results.append(rec)
                if cuda:
                    torch.cuda.empty_cache()
                if rec["batched_tokens_per_s"] == "out of memory":
                    break
    if a.repeats > 1:
        print(f"\nwidth   K  sequential tok/s (median)  batched tok/s (median)  "
              f"speed-up median [min, max] of {a.repeats} repeats")
        for width in widths:
            for k in ks:
                rows = [r for r in results if r["width"] == width and r["K"] == k
                        and "speedup" in r]
                if not rows:
                    continue
                med = statistics.median
                sp = sorted(r["speedup"] for r in rows)
                print(f"{width:5d} {k:3d} {med(r['sequential_tokens_per_s'] for r in rows):26,.0f}"
                      f" {med(r['batched_tokens_per_s'] for r in rows):23,.0f}  "
                      f"{med(sp):.2f} [{sp[0]:.2f}, {sp[-1]:.2f}]")
        return results
    print(f"\nwidth   K  batched tok/s  vs K=1  sequential tok/s ({seq_k} runs)  speed-up")
    for width in widths:
        rows = [r for r in results if r["width"] == width]
        one = rows[0]["batched_tokens_per_s"] if rows and rows[0]["K"] == 1 else None
        for r in rows:
            tps = r["batched_tokens_per_s"]
            rel = f"{tps / one:7.2f}" if isinstance(tps, float) and one else "      -"
            print(f"{width:5d} {r['K']:3d} {tps!s:>14} {rel} "
                  f"{r.get('sequential_tokens_per_s', '')!s:>25} {r.get('speedup', '')!s:>9}")
    return results


if __name__ == "__main__":
    main()
