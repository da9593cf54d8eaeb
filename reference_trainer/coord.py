"""Coordinate check: does the activation scale of each layer stay flat across widths?

Train each width for a few Adam steps at a fixed (high) LR, then measure every layer's
output on a fixed held-out batch as the mean absolute coordinate. Under SP the hidden and
output layers grow with width (Adam updates are O(1) per entry, so their effect on a
fan-in sum grows like the width); under muP they stay flat. The slope of
log2(scale) against log2(width) summarises each layer: ~1 for SP after a few steps,
~0 for muP.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
import torch

from . import data, optim
from .config import RunConfig
from .train import build_model


@dataclass
class CoordResult:
    widths: list
    scales: dict = field(default_factory=dict)  # layer -> [mean |h| per width]

    @property
    def slopes(self) -> dict:
        """Per layer: least-squares slope of log2(scale) on log2(width)."""
        x = np.log2(self.widths)
        return {k: float(np.polyfit(x, np.log2(v), 1)[0]) for k, v in self.scales.items()}

    def summary(self) -> str:
        head = f"{'layer':<10}" + "".join(f"{w:>10}" for w in self.widths) + f"{'slope':>8}"
        lines = [head]
        for k, v in self.scales.items():
            lines.append(f"{k:<10}" + "".join(f"{s:>10.4g}" for s in v)
                         + f"{self.slopes[k]:>8.2f}")
        return "\n".join(lines)


def _layers(model) -> dict:
    """Modules whose output is measured: embedding, each block's attention and MLP
    outputs (hidden), the logits (output)."""
    out = {"emb": model.wte}
    for i, b in enumerate(model.blocks):
        out[f"attn.{i}"] = b.attn
        out[f"mlp.{i}"] = b.mlp
    out["logits"] = model.lm_head
    return out


def measure(cfg: RunConfig, steps: int) -> dict:
    """Mean |coordinate| of every layer after `steps` Adam steps at constant LR cfg.lr
    (no clipping, no decay, fp32 on CPU)."""
    ds = data.load(cfg.data, cfg.val_frac)
    model, tbl = build_model(cfg, cfg.vocab_size or ds.vocab_size)
    opt = optim.build(model, tbl, cfg)
    batches = data.Batches(ds.train, cfg.seq_len, cfg.batch_size, seed=cfg.seed + 1)
    for _ in range(steps):
        x, y = batches.next()
        _, loss = model(x, y)
        loss.backward()
        optim.apply_schedule(opt, 1.0, cfg.wd_mode)
        opt.step()
        opt.zero_grad(set_to_none=True)
    scales, hooks = {}, []
    for name, mod in _layers(model).items():
        def hook(_m, _i, out, name=name):
            scales[name] = out.detach().abs().mean().item()
        hooks.append(mod.register_forward_hook(hook))
    x, _ = next(data.eval_batches(ds.val, cfg.seq_len, 32 * cfg.seq_len, 32))  # fixed (32, T)
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return scales


def coord_check(param: str, widths=(64, 128, 256, 512), steps: int = 4, lr: float = 1e-2,
                seeds=(0,), progress: bool = False, **cfg_fields) -> CoordResult:
    """Run `measure` for every width (base width = the smallest) and average over seeds."""
    fields = dict(depth=2, head_dim=16, seq_len=64, batch_size=8, grad_clip=0.0,
                  base_width=min(widths)) | cfg_fields
    res = CoordResult(widths=list(widths))
    for w in widths:
        if progress:
            print(f"coord {param}: width {w}", file=sys.stderr, flush=True)
        per_seed = [measure(RunConfig(param=param, width=w, lr=lr, seed=s, **fields), steps)
                    for s in seeds]
        for k in per_seed[0]:
            res.scales.setdefault(k, []).append(float(np.mean([p[k] for p in per_seed])))
    return res
