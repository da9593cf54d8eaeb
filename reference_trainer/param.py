"""Parameterizations as pure data (the abc view).

Each tensor type gets three numbers, all powers of the width multiplier
``m = width / base_width`` times constants:

    forward multiplier  mult_factor * m^a     (the layer computes mult * (x @ W.T))
    init std            init_std    * m^b     (W ~ N(0, std^2))
    Adam LR multiplier  lr_factor   * m^c     (the group's LR is lr * lr_mult * schedule)

Tensor types: ``emb`` (token and learned position embeddings), ``hidden`` (every
matrix inside the blocks), ``readout`` (the untied output matrix), ``norm`` (norm
gains and biases: init 1 and 0, multiplier 1). Attention logits are scaled by
``d_head^-e``, e = 1/2 (SP) or 1 (muP); with ``attn_norm="base"`` by
``d_head^-e * d_base^(e - 1/2)`` (``d_base``: the head size at the base width), so that
muP's 1/d_head equals SP's 1/sqrt(d_head) at m = 1 and differs only as the head grows.

The base init ``sigma`` is one number for every matrix type (``init_std``), or
relative to the base width, ``sigma = init_rel / sqrt(base_width)`` (about
``init_rel / sqrt(fan_in)`` at the base, the scale of a standard init); each type's std
is also multiplied by its own constant ``init_factors[type]``.

Weight decay: a tensor type's decay coefficient is multiplied by ``wd_mult``, 1 unless
``wd_transfer`` is on, then ``m^-c`` (c the type's LR exponent), so that the product
LR x decay of every type stays what it is at the base width. Under muP with coupled
(torch AdamW) decay that keeps the decay timescale ``1 / (lr * wd)`` of the hidden and
readout matrices constant in width, which is what makes a decay tuned at the base
transfer (Wang & Aitchison 2024, "How to set AdamW's weight decay as you scale model and
dataset size"); without it their decay shrinks as 1/m.

SP has every exponent 0. Each *switch* changes one thing from SP towards muP:

    emb_lr        embedding LR           c_emb     0 -> +1   (SP with emb LR x m)
    hidden_lr     hidden LR              c_hidden  0 -> -1
    hidden_init   hidden init            b_hidden  0 -> -1/2
    readout_mult  logits times 1/m       a_readout 0 -> -1
    readout_lr    readout LR and init    c_readout, b_readout  0 -> -1
                  (the same effective readout as readout_mult, without a multiplier)
    readout_init  readout init           b_readout 0 -> -1/2
    attn          attention scale        e         1/2 -> 1

Presets: ``sp`` = no switch; ``mup`` = hidden_lr + hidden_init + readout_mult + attn;
``sp_emb`` = emb_lr; ``sp_fanin`` = hidden_init + readout_init: SP as most code
initialises it, every matrix with std ``sigma * m^-1/2`` (with ``init_rel`` 1,
``1/sqrt(fan_in)`` at every width), so SP's init is a convention of its own rather
than an absolute std carried over from another arm's base init. A name is a preset
followed by ``+switch`` / ``-switch``: ``sp+hidden_lr``, ``mup-attn``,
``mup-readout_mult+readout_lr``.

The residual output projections (``attn.c_proj``, ``mlp.c_proj``) get an extra init
factor ``(2 depth)^-1/2`` (GPT-2), the same in every parameterization.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

TENSOR_TYPES = ("emb", "hidden", "readout", "norm")
SWITCHES = ("emb_lr", "hidden_lr", "hidden_init", "readout_mult", "readout_lr", "readout_init",
            "attn")
PRESETS = {
    "sp": frozenset(),
    "mup": frozenset({"hidden_lr", "hidden_init", "readout_mult", "attn"}),
    "sp_emb": frozenset({"emb_lr"}),
    "sp_fanin": frozenset({"hidden_init", "readout_init"}),
}


@dataclass(frozen=True)
class Exponents:
    """Powers of m for one tensor type."""

    mult: float = 0.0
    init: float = 0.0
    lr: float = 0.0


@dataclass(frozen=True)
class Rule:
    """The numbers actually applied to one tensor type at one width."""

    mult: float  # forward multiplier
    init_std: float  # std of the normal init (norm type: gains 1, biases 0)
    lr_mult: float  # Adam LR = lr * lr_mult * schedule(t)
    wd_mult: float = 1.0  # decay coefficient = weight_decay * wd_mult


def parse(name: str) -> frozenset:
    """``"mup-attn+emb_lr"`` -> the set of active switches."""
    parts = re.split(r"([+-])", name.strip())
    base = parts[0].strip()
    if base not in PRESETS:
        raise ValueError(f"unknown parameterization {base!r}; use one of {sorted(PRESETS)} "
                         f"followed by +switch or -switch, switches: {', '.join(SWITCHES)}")
    active = set(PRESETS[base])
    so_far = base
    for sign, sw in zip(parts[1::2], parts[2::2], strict=True):
        sw = sw.strip()
        if sw not in SWITCHES:
            raise ValueError(f"unknown switch {sw!r} in {name!r}; switches: {', '.join(SWITCHES)}")
        if (sign == "+") == (sw in active):
            has = "already has" if sign == "+" else "does not have"
            raise ValueError(f"{name!r}: {so_far} {has} {sw}, so '{sign}{sw}' changes "
                             f"nothing and the run would be {canonical_name_of(active)}; "
                             "drop it")
        (active.add if sign == "+" else active.discard)(sw)
        so_far += sign + sw
    if {"readout_mult", "readout_lr"} <= active:
        raise ValueError(f"{name!r}: readout_mult and readout_lr are two ways of the same "
                         "change; use one")
    if {"readout_lr", "readout_init"} <= active:
        raise ValueError(f"{name!r}: readout_lr already sets the readout init (m^-1); "
                         "drop readout_init")
    return frozenset(active)


def canonical_name(name: str) -> str:
    """One name per set of switches: the preset itself, else the shortest preset+/- form."""
    return canonical_name_of(parse(name))


def canonical_name_of(active) -> str:
    """The canonical name of a set of switches (see `canonical_name`)."""
    best = None
    for base, preset in PRESETS.items():  # dict order: sp first, so ties go to sp
        add = [s for s in SWITCHES if s in active and s not in preset]
        drop = [s for s in SWITCHES if s in preset and s not in active]
        text = base + "".join("+" + s for s in add) + "".join("-" + s for s in drop)
        if best is None or len(add) + len(drop) < best[0]:
            best = (len(add) + len(drop), text)
    return best[1]


def exponents(name: str) -> tuple[dict[str, Exponents], float]:
    """Per tensor type exponents of m, and the attention exponent e (scale d_head^-e)."""
    on = parse(name)
    emb = Exponents(lr=1.0 if "emb_lr" in on else 0.0)
    hidden = Exponents(init=-0.5 if "hidden_init" in on else 0.0,
                       lr=-1.0 if "hidden_lr" in on else 0.0)
    readout = Exponents(mult=-1.0 if "readout_mult" in on else 0.0,
                        init=(-1.0 if "readout_lr" in on else
                              -0.5 if "readout_init" in on else 0.0),
                        lr=-1.0 if "readout_lr" in on else 0.0)
    norm = Exponents()
    attn = 1.0 if "attn" in on else 0.5
    return {"emb": emb, "hidden": hidden, "readout": readout, "norm": norm}, attn


@dataclass(frozen=True)
class Table:
    """A parameterization evaluated at one width: what the model and optimizer apply."""

    name: str
    m: float
    rules: dict  # tensor type -> Rule
    attn_exp: float  # attention logits scaled by d_head ** -attn_exp ...
    attn_base: float | None = None  # ... times attn_base ** (attn_exp - 1/2) when set

    def attn_scale(self, d_head: int) -> float:
        s = d_head ** -self.attn_exp
        if self.attn_base is not None:
            s *= self.attn_base ** (self.attn_exp - 0.5)
        return s

    @property
    def attn_rule(self) -> str:
        rule = "1/d_head" if self.attn_exp == 1.0 else f"d_head^-{self.attn_exp:g}"
        if self.attn_base is not None and self.attn_exp != 0.5:
            rule += f" * {self.attn_base:g}^{self.attn_exp - 0.5:g}"
        return rule


def table(name: str, width: int, base_width: int, init_std: float = 0.02, *,
          lr_factors: dict | None = None, mult_factors: dict | None = None,
          init_factors: dict | None = None, readout_zero_init: bool = False,
          wd_transfer: bool = False, attn_base: float | None = None) -> Table:
    """Evaluate parameterization `name` at `width`. Factors are constants per tensor type;
    `attn_base`: the head size at the base width, to normalise the attention scale there
    (None: today's plain ``d_head^-e``)."""
    m = width / base_width
    lr_factors = {t: 1.0 for t in TENSOR_TYPES} | (lr_factors or {})
    mult_factors = {t: 1.0 for t in TENSOR_TYPES} | (mult_factors or {})
    init_factors = {t: 1.0 for t in TENSOR_TYPES} | (init_factors or {})
    exps, attn = exponents(name)
    rules = {}
    for t in TENSOR_TYPES:
        e = exps[t]
        std = 0.0 if t == "norm" else init_std * init_factors[t] * m ** e.init
        if t == "readout" and readout_zero_init:
            std = 0.0
        rules[t] = Rule(mult=mult_factors[t] * m ** e.mult, init_std=std,
                        lr_mult=lr_factors[t] * m ** e.lr,
                        wd_mult=m ** -e.lr if wd_transfer else 1.0)
    return Table(name=canonical_name(name), m=m, rules=rules, attn_exp=attn,
                 attn_base=attn_base)


def base_init_std(cfg) -> float:
    """The base init sigma of a RunConfig: ``init_rel / sqrt(base_width)`` when init_rel > 0,
    else ``init_std``."""
    return cfg.init_rel / math.sqrt(cfg.base_width) if cfg.init_rel > 0 else cfg.init_std


def table_for(cfg) -> Table:
    """`table` from a RunConfig."""
    attn_base = None
    if cfg.attn_norm == "base":  # head size at the base width
        attn_base = cfg.base_width / cfg.n_heads if cfg.n_heads > 0 else cfg.head_dim
    return table(cfg.param, cfg.width, cfg.base_width, base_init_std(cfg),
                 lr_factors={"emb": cfg.lr_factor_emb, "hidden": cfg.lr_factor_hidden,
                             "readout": cfg.lr_factor_readout, "norm": cfg.lr_factor_norm},
                 mult_factors={"emb": cfg.mult_emb, "readout": cfg.mult_readout},
                 init_factors={"emb": cfg.init_factor_emb, "hidden": cfg.init_factor_hidden,
                               "readout": cfg.init_factor_readout},
                 readout_zero_init=cfg.readout_zero_init, wd_transfer=cfg.wd_transfer,
                 attn_base=attn_base)


# ----------------------------------------------------------------- tensors of a model
RESIDUAL_PROJ = ("attn.c_proj.weight", "mlp.c_proj.weight")


def tensor_type(name: str, ndim: int) -> str:
    """Tensor type of a parameter of `model.GPT` from its name and rank."""
    if name.startswith(("wte.", "wpe.")):
        return "emb"
    if name.startswith("lm_head."):
        return "readout" if ndim == 2 else "norm"
    return "hidden" if ndim == 2 else "norm"


def init_std_of(name: str, ndim: int, tbl: Table, depth: int) -> float:
    """The documented init std of one parameter (norm gains: 1 is the init, reported as 0)."""
    std = tbl.rules[tensor_type(name, ndim)].init_std
    if name.endswith(RESIDUAL_PROJ):
        std /= math.sqrt(2 * depth)
    return std


def init_(model, tbl: Table, seed: int) -> None:
    """Initialise every parameter of `model` in place from `tbl`, reproducibly from `seed`."""
    import torch

    g = torch.Generator(device="cpu").manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():  # fixed order: deterministic
            if tensor_type(name, p.ndim) == "norm":
                p.fill_(1.0 if name.endswith("weight") else 0.0)
                continue
            std = init_std_of(name, p.ndim, tbl, model.cfg.depth)
            cpu = torch.empty(p.shape, dtype=torch.float32)
            if std > 0:
                cpu.normal_(0.0, std, generator=g)
            else:
                cpu.zero_()
            p.copy_(cpu)
