"""AdamW with one parameter group per tensor type, each carrying an ``lr_scale``.

A group's LR is never set absolutely: each step it is ``lr_scale * schedule(t)`` with
``lr_scale = lr * lr_mult`` (peak base LR times the parameterization's multiplier).
Weight decay applies to the emb, hidden and readout matrices, never to norms/biases,
with each type's coefficient ``weight_decay * wd_mult`` (``wd_mult`` from the
parameterization: 1, or m^-c with ``wd_transfer``):

* coupled (torch AdamW): ``p -= lr_group(t) * weight_decay * p``
* independent: ``p -= weight_decay * schedule(t) * p``, whatever the LR; the rate
  follows the schedule, not the peak LR.
"""

from __future__ import annotations

import torch

from . import param

DECAYED = ("emb", "hidden", "readout")


def param_groups(model, tbl: param.Table, lr: float, weight_decay: float) -> list[dict]:
    """One group per tensor type present in `model` (fixed order: param.TENSOR_TYPES)."""
    by_type: dict[str, list] = {t: [] for t in param.TENSOR_TYPES}
    for name, p in model.named_parameters():
        by_type[param.tensor_type(name, p.ndim)].append(p)
    groups = []
    for t, params in by_type.items():
        if not params:
            continue
        rule = tbl.rules[t]
        groups.append({"params": params, "tensor_type": t, "lr_mult": rule.lr_mult,
                       "lr_scale": lr * rule.lr_mult, "lr": lr * rule.lr_mult,
                       "wd": weight_decay * rule.wd_mult if t in DECAYED else 0.0,
                       "weight_decay": 0.0})
    return groups


def build(model, tbl: param.Table, cfg, fused: bool = False) -> torch.optim.AdamW:
    """AdamW over `param_groups`; `fused` on CUDA."""
    groups = param_groups(model, tbl, cfg.lr, cfg.weight_decay)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps,
                             weight_decay=0.0, fused=fused or None)


def apply_schedule(opt: torch.optim.Optimizer, factor: float, wd_mode: str) -> None:
    """Set every group's LR to ``lr_scale * factor``; with independent decay, decay now."""
    for g in opt.param_groups:
        g["lr"] = g["lr_scale"] * factor
        if wd_mode == "coupled":
            g["weight_decay"] = g["wd"]
        elif g["wd"] > 0.0:
            g["weight_decay"] = 0.0
            with torch.no_grad():
                for p in g["params"]:
                    p.mul_(1.0 - g["wd"] * factor)


def check_state(opt: torch.optim.Optimizer) -> None:
    """Raise ValueError if a loaded optimizer state does not fit its parameters (torch
    checks only the group sizes; a wrong moment shape would fail at the first step)."""
    for g in opt.param_groups:
        for p in g["params"]:
            for k, v in opt.state.get(p, {}).items():
                if torch.is_tensor(v) and v.dim() and v.shape != p.shape:
                    raise ValueError(f"optimizer state {k!r} of shape {tuple(v.shape)} for a "
                                     f"parameter of shape {tuple(p.shape)}")
