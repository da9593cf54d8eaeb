"""Coordinate check: does the activation scale of each layer stay flat across widths?

Train each width for a few Adam steps at a fixed (high) LR, then measure every layer's
output on a fixed held-out batch as the mean absolute coordinate. Under SP the hidden and
output layers grow with width (Adam updates are O(1) per entry, so their effect on a
fan-in sum grows like the width); under muP they stay flat. The slope of
log2(scale) against log2(width) summarises each layer: ~1 for SP after a few steps,
~0 for muP.

Two settings: the classic check (``as_trained=False``: constant LR, no clipping, no
decay) isolates the parameterization; ``as_trained=True`` runs the first steps exactly
as a training run of that configuration does (its warmup and schedule over its own
horizon, gradient clipping, weight decay), so a study can check the setting it trains
in. `CoordResult.verdicts` turns the slopes into a pass/fail per tensor type (emb,
hidden = every attention and MLP output, readout = the logits): ``flat`` when the mean
|slope| of its layers is below `FLAT` (activations change by less than 2^0.25 = 1.19x
per width doubling), else ``grows``/``shrinks``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
import torch

from . import data, optim, schedule
from .build import build_model
from .config import RunConfig

FLAT = 0.25  # |slope| of log2 scale per log2 width below which a layer is flat


def tensor_type_of(layer: str) -> str:
    """Tensor type whose output a measured layer is: emb, hidden or readout."""
    return "emb" if layer == "emb" else "readout" if layer == "logits" else "hidden"


@dataclass
class CoordResult:
    widths: list
    scales: dict = field(default_factory=dict)  # layer -> [mean |h| per width]

    @property
    def slopes(self) -> dict:
        """Per layer: least-squares slope of log2(scale) on log2(width)."""
        x = np.log2(self.widths)
        return {k: float(np.polyfit(x, np.log2(v), 1)[0]) for k, v in self.scales.items()}

    def verdicts(self, tol: float = FLAT) -> dict:
        """Per tensor type: (mean slope of its layers, 'flat' | 'grows' | 'shrinks')."""
        by_type: dict = {}
        for k, v in self.slopes.items():
            by_type.setdefault(tensor_type_of(k), []).append(v)
        out = {}
        for t, vals in by_type.items():
            s = float(np.mean(vals))
            out[t] = (s, "flat" if abs(s) < tol else "grows" if s > 0 else "shrinks")
        return out

    def summary(self) -> str:
        head = f"{'layer':<10}" + "".join(f"{w:>10}" for w in self.widths) + f"{'slope':>8}"
        lines = [head]
        for k, v in self.scales.items():
            lines.append(f"{k:<10}" + "".join(f"{s:>10.4g}" for s in v)
                         + f"{self.slopes[k]:>8.2f}")
        lines.append("verdict per tensor type (flat: |mean slope| < "
                     f"{FLAT:g}): " + ", ".join(f"{t} {v} ({s:+.2f})"
                                                for t, (s, v) in self.verdicts().items()))
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


def measure(cfg: RunConfig, steps: int, as_trained: bool = False) -> dict:
    """Mean |coordinate| of every layer after `steps` Adam steps (fp32 on CPU): at constant
    LR cfg.lr with no clipping and no decay, or with `as_trained` the first steps of a
    training run of `cfg` (its schedule over its horizon, clipping, weight decay)."""
    ds = data.load(cfg.data, cfg.val_frac)
    model, tbl = build_model(cfg, cfg.vocab_size or ds.vocab_size)
    if not as_trained:
        cfg = cfg.replace(weight_decay=0.0)
    opt = optim.build(model, tbl, cfg)
    batches = data.Batches(ds.train, cfg.seq_len, cfg.batch_size, seed=cfg.seed + 1)
    for step in range(steps):
        x, y = batches.next()
        _, loss = model(x, y)
        loss.backward()
        factor = 1.0
        if as_trained:
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            factor = schedule.factor(cfg, step)
        optim.apply_schedule(opt, factor, cfg.wd_mode)
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
                seeds=(0,), progress: bool = False, as_trained: bool = False,
                **cfg_fields) -> CoordResult:
    """Run `measure` for every width (base width = the smallest unless given) and average
    over seeds; `cfg_fields` are any other RunConfig settings (with `as_trained`, the
    training configuration to check: grad_clip, warmup_tokens, tokens, schedule, ...)."""
    fields = dict(depth=2, head_dim=16, seq_len=64, batch_size=8,
                  base_width=min(widths)) | ({} if as_trained else dict(grad_clip=0.0)) \
        | cfg_fields
    res = CoordResult(widths=list(widths))
    for w in widths:
        if progress:
            print(f"coord {param}: width {w}", file=sys.stderr, flush=True)
        per_seed = [measure(RunConfig(param=param, width=w, lr=lr, seed=s, **fields), steps,
                            as_trained) for s in seeds]
        for k in per_seed[0]:
            res.scales.setdefault(k, []).append(float(np.mean([p[k] for p in per_seed])))
    return res
