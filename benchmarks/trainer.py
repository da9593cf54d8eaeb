"""Reference-trainer throughput: tokens/s and MFU of the real training step.

    python benchmarks/trainer.py                 # GPU: width 768, depth 12, seq 1024, bf16
    python benchmarks/trainer.py --device cpu    # CPU: a small model, fp32

Times `train.train_step` (forward, backward, clipping, schedule, AdamW; fused AdamW,
bf16 autocast, TF32 and torch.compile on CUDA) after warmup steps that absorb
compilation. Model FLOPs per token = 6 N + 12 L T C (N: matmul weights incl. the
readout; attention by the PaLM convention). MFU = achieved FLOP/s / dense bf16 peak of
the GPU (table below); a CPU has no entry, so no MFU. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from reference_trainer import build, data, optim, runtime, train  # noqa: E402
from reference_trainer.config import RunConfig  # noqa: E402

# dense bf16 tensor-core peak, FLOP/s (vendor datasheets, without sparsity)
PEAK_BF16 = {
    "H200": 989.4e12,
    "H100 SXM": 989.4e12,  # also H100 80GB HBM3
    "H100 PCIe": 756.0e12,
    "H100 NVL": 835.0e12,
    "A100": 312.0e12,
}


def peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    if "H200" in name:
        return PEAK_BF16["H200"]
    if "H100" in name:
        if "PCIe" in name:
            return PEAK_BF16["H100 PCIe"]
        return PEAK_BF16["H100 NVL"] if "NVL" in name else PEAK_BF16["H100 SXM"]
    if "A100" in name:
        return PEAK_BF16["A100"]
    return None


def main(argv=None) -> dict:
    gpu = torch.cuda.is_available()
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if gpu else "cpu")
    p.add_argument("--width", type=int)
    p.add_argument("--depth", type=int)
    p.add_argument("--seq-len", type=int)
    p.add_argument("--batch-size", type=int, help="sequences per step")
    p.add_argument("--head-dim", type=int, default=64)
    p.add_argument("--param", default="mup")
    p.add_argument("--steps", type=int, default=20, help="timed steps")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch.compile (default: on for CUDA)")
    p.add_argument("--dtype", default="auto", help="auto (bf16 on CUDA) | fp32 | bf16")
    p.add_argument("--threads", type=int, help="CPU threads (default: torch's)")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    cuda = a.device.startswith("cuda")
    big = dict(width=768, depth=12, seq_len=1024, batch_size=16)
    small = dict(width=256, depth=4, seq_len=256, batch_size=8)
    shape = {k: getattr(a, k) or (big if cuda else small)[k] for k in big}
    cfg = RunConfig(**shape, head_dim=a.head_dim, param=a.param, base_width=shape["width"],
                    device=a.device, dtype=a.dtype,
                    compile=cuda if a.compile is None else a.compile)

    d = runtime.setup(cfg.device)
    if cuda:
        torch.set_float32_matmul_precision("high")
        torch.backends.cudnn.allow_tf32 = True
    ds = data.load(cfg.data, cfg.val_frac)
    raw, tbl = build.build_model(cfg, ds.vocab_size)
    raw.to(d.device)
    opt = optim.build(raw, tbl, cfg, fused=cuda)
    model = torch.compile(raw) if cfg.compile else raw
    batches = data.Batches(ds.train, cfg.seq_len, cfg.batch_size, seed=0)

    def step():
        x, y = batches.next()
        return train.train_step(model, raw, opt, x, y, cfg.batch_size, cfg, d, 1.0)

    for _ in range(a.warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    loss = loss.item()  # waits for the last step
    dt = time.perf_counter() - t0

    tokens_per_s = a.steps * cfg.tokens_per_step / dt
    fpt = raw.flops_per_token()
    peak = peak_flops(d.device)
    out = {
        "device": torch.cuda.get_device_name(d.device) if cuda else
        f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)",
        "torch": torch.__version__, "width": cfg.width, "depth": cfg.depth,
        "seq_len": cfg.seq_len, "batch_size": cfg.batch_size, "vocab": ds.vocab_size,
        "dtype": "bf16 autocast" if (cuda and a.dtype == "auto") or a.dtype == "bf16"
        else "fp32", "compile": cfg.compile, "n_params": raw.n_params()[0],
        "flops_per_token": fpt, "step_ms": round(1000 * dt / a.steps, 2),
        "tokens_per_s": round(tokens_per_s, 1),
        "tflops": round(tokens_per_s * fpt / 1e12, 3),
        "mfu": round(tokens_per_s * fpt / peak, 4) if peak else None,
        "loss": round(loss, 4),
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
