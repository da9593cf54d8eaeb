"""AdamW over the stacked weights of a `BatchedGPT`: per-model LR, schedule, weight
decay and gradient clipping, the same update a single run's `optim` + torch AdamW make.

Every coordinate of the (K, N) weight buffer has its own peak LR,
``lr_scale[k, j] = lr_k * lr_mult_k(type of j)`` (the parameterization's multiplier of
the tensor type, per model), and each model its own schedule factor per step, so a
step is a handful of whole-buffer operations:

    clip      g_k *= min(1, clip_k / (|g_k| + 1e-6))        (global norm of model k only)
    decay     w *= 1 - lr(t) * wd_k,t      (coupled, torch AdamW)
              w *= 1 - wd_k,t * schedule_k(t)        (independent; the rate follows the
                                                      schedule, not the peak LR)
    Adam      m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
              w -= lr(t) / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) + eps)

with ``lr(t) = lr_scale * schedule_k(t)``; decay acts on the emb, hidden and readout
matrices, never on norms and biases (`optim.DECAYED`), with model k's coefficient for
tensor type t ``wd_k,t = weight_decay_k * wd_mult_k(t)`` (as in `optim.param_groups`).
"""

from __future__ import annotations

import torch

from . import optim
from .batched import BatchedGPT


class BatchedAdamW:
    def __init__(self, model: BatchedGPT):
        cfgs = model.cfgs
        c0 = cfgs[0]  # betas, eps and wd_mode are shared by a batch (batched.batch_key)
        self.beta1, self.beta2, self.eps, self.wd_mode = c0.beta1, c0.beta2, c0.eps, c0.wd_mode
        self.model = model
        dev = model.device
        K, N = model.K, model.N
        self.lr_scale = torch.empty(K, N, device=dev)
        for t, sl in model.type_slices.items():
            self.lr_scale[:, sl] = torch.tensor(
                [c.lr * tbl.rules[t].lr_mult for c, tbl in zip(cfgs, model.tables)],
                device=dev)[:, None]
        # decay per model and decayed tensor type: {slice: (K, 1) coefficients}
        self.wd = {t: torch.tensor([c.weight_decay * tbl.rules[t].wd_mult
                                    for c, tbl in zip(cfgs, model.tables)], device=dev)[:, None]
                   for t in optim.DECAYED if t in model.type_slices}
        self.any_wd = any(c.weight_decay > 0 for c in cfgs)
        self.clip = torch.tensor([c.grad_clip for c in cfgs], device=dev)[:, None]
        self.any_clip = any(c.grad_clip > 0 for c in cfgs)
        self.m = torch.zeros(K, N, device=dev)
        self.v = torch.zeros(K, N, device=dev)
        self.t = 0  # steps taken (the same for every model of a batch)

    def select(self, idx: list[int], model: BatchedGPT) -> None:
        """Keep the state of models `idx` only (`model` is the matching selection)."""
        rows = torch.tensor(idx, device=self.m.device)
        for name in ("lr_scale", "clip", "m", "v"):
            setattr(self, name, getattr(self, name).index_select(0, rows))
        self.wd = {t: wd.index_select(0, rows) for t, wd in self.wd.items()}
        self.model = model

    @torch.no_grad()
    def clip_grads(self) -> torch.Tensor:
        """Scale each model's gradient to global norm <= its grad_clip (0: no clipping)
        and return the norms before clipping (K,)."""
        g = self.model.grad
        norm = torch.linalg.vector_norm(g, dim=1, keepdim=True)  # (K, 1)
        if self.any_clip:
            coef = torch.clamp(self.clip / (norm + 1e-6), max=1.0)
            g.mul_(torch.where(self.clip > 0, coef, torch.ones_like(coef)))
        return norm.squeeze(1)

    @torch.no_grad()
    def step(self, factor: torch.Tensor) -> None:
        """One AdamW step; factor (K,) is each model's schedule factor at this step."""
        w, g, m, v = self.model.flat, self.model.grad, self.m, self.v
        factor = factor.view(-1, 1)
        lr = self.lr_scale * factor  # (K, N)
        self.t += 1
        if self.any_wd:
            for t, wd in self.wd.items():
                d = self.model.type_slices[t]
                if self.wd_mode == "coupled":
                    w[:, d].mul_(1.0 - lr[:, d] * wd)
                else:
                    w[:, d].mul_(1.0 - wd * factor)
        m.lerp_(g, 1.0 - self.beta1)
        v.mul_(self.beta2).addcmul_(g, g, value=1.0 - self.beta2)
        bc1 = 1.0 - self.beta1 ** self.t
        bc2_sqrt = (1.0 - self.beta2 ** self.t) ** 0.5
        denom = v.sqrt().div_(bc2_sqrt).add_(self.eps)
        w.sub_(lr.div_(bc1).mul_(m).div_(denom))

    def state_dict(self) -> dict:
        return {"m": self.m, "v": self.v, "t": self.t}

    def load_state_dict(self, state: dict) -> None:
        self.m.copy_(state["m"])
        self.v.copy_(state["v"])
        self.t = state["t"]
