"""The model factory: a RunConfig -> its parameterization table, GPT shape and weights."""

from __future__ import annotations

import torch

from . import data, param
from .config import RunConfig
from .model import GPT, GPTConfig


def build_model(cfg: RunConfig, vocab_size: int) -> tuple[GPT, param.Table]:
    """The initialised GPT (on CPU, fp32) and its parameterization table."""
    tbl = param.table_for(cfg)
    model = GPT(model_config(cfg, vocab_size, tbl))
    param.init_(model, tbl, cfg.seed)
    return model, tbl


def model_config(cfg: RunConfig, vocab_size: int, tbl: param.Table | None = None) -> GPTConfig:
    """The GPT shape and forward multipliers of `cfg`."""
    tbl = tbl or param.table_for(cfg)
    r = tbl.rules
    return GPTConfig(vocab_size=vocab_size, seq_len=cfg.seq_len, width=cfg.width,
                     depth=cfg.depth, heads=cfg.heads, norm=cfg.norm, pos=cfg.pos,
                     bias=cfg.bias, emb_mult=r["emb"].mult, hidden_mult=r["hidden"].mult,
                     readout_mult=r["readout"].mult, norm_mult=r["norm"].mult,
                     attn_scale=tbl.attn_scale(cfg.d_head))


def non_embedding_params(cfg: RunConfig) -> int:
    """The non-embedding parameter count of `cfg`'s model (the results row's n_params),
    counted on the meta device: nothing is allocated or initialised."""
    with torch.device("meta"):
        return GPT(model_config(cfg, data.BYTE_VOCAB)).n_params()[0]
