"""A decoder-only GPT (nanoGPT-style) with per-tensor-type forward multipliers.

Pre-norm blocks (RMSNorm or LayerNorm), causal self-attention through
`F.scaled_dot_product_attention` with an explicit scale, GELU MLP, untied readout,
learned positions or RoPE. Shapes: B batch, T time, C width, H heads, D head size,
V vocabulary. Initialisation lives in `param.init_`; this file only computes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GPTConfig:
    vocab_size: int = 256
    seq_len: int = 128
    width: int = 128
    depth: int = 4
    heads: int = 4
    norm: str = "rms"  # rms | layer
    pos: str = "learned"  # learned | rope
    bias: bool = False
    # forward multipliers and attention scale, from the parameterization (param.Table)
    emb_mult: float = 1.0
    hidden_mult: float = 1.0
    readout_mult: float = 1.0
    norm_mult: float = 1.0
    attn_scale: float = 32**-0.5


class Linear(nn.Module):
    """y = mult * (x @ W.T) + bias_mult * b."""

    def __init__(self, fan_in, fan_out, bias, mult=1.0, bias_mult=1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(fan_out, fan_in))
        self.bias = nn.Parameter(torch.zeros(fan_out)) if bias else None
        self.mult, self.bias_mult = mult, bias_mult

    def forward(self, x):
        y = F.linear(x, self.weight)
        if self.mult != 1.0:
            y = y * self.mult
        if self.bias is not None:
            y = y + self.bias * self.bias_mult
        return y


class Norm(nn.Module):
    """RMSNorm or LayerNorm over the last dim, gain (and bias) times `mult`."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.kind, self.mult = cfg.norm, cfg.norm_mult
        self.weight = nn.Parameter(torch.ones(cfg.width))
        has_bias = cfg.bias and cfg.norm == "layer"
        self.bias = nn.Parameter(torch.zeros(cfg.width)) if has_bias else None

    def forward(self, x):  # (..., C) -> (..., C)
        w = self.weight * self.mult if self.mult != 1.0 else self.weight
        b = None if self.bias is None else self.bias * self.mult
        if self.kind == "rms":
            return F.rms_norm(x, (x.size(-1),), w, eps=1e-6)
        return F.layer_norm(x, (x.size(-1),), w, b, eps=1e-5)


def rope_tables(seq_len, d_head, base=10000.0):
    """cos, sin of shape (T, D/2) for rotary position embeddings."""
    inv_freq = base ** (-torch.arange(0, d_head, 2, dtype=torch.float32) / d_head)
    angles = torch.outer(torch.arange(seq_len, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def apply_rope(x, cos, sin):  # x (B, H, T, D); cos, sin (T, D/2)
    x1, x2 = x.float().chunk(2, dim=-1)
    T = x.size(-2)
    cos, sin = cos[:T], sin[:T]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).type_as(x)


class Attention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        C = cfg.width
        self.heads, self.scale, self.rope = cfg.heads, cfg.attn_scale, cfg.pos == "rope"
        self.c_attn = Linear(C, 3 * C, cfg.bias, cfg.hidden_mult, cfg.norm_mult)
        self.c_proj = Linear(C, C, cfg.bias, cfg.hidden_mult, cfg.norm_mult)

    def forward(self, x, rope=None):  # x (B, T, C)
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2)  # (B, H, T, D)
                   for t in (q, k, v))
        if self.rope:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=self.scale)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        C = cfg.width
        self.c_fc = Linear(C, 4 * C, cfg.bias, cfg.hidden_mult, cfg.norm_mult)
        self.c_proj = Linear(4 * C, C, cfg.bias, cfg.hidden_mult, cfg.norm_mult)

    def forward(self, x):  # (B, T, C) -> (B, T, C)
        return self.c_proj(F.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln_1, self.attn = Norm(cfg), Attention(cfg)
        self.ln_2, self.mlp = Norm(cfg), MLP(cfg)

    def forward(self, x, rope=None):
        x = x + self.attn(self.ln_1(x), rope)
        return x + self.mlp(self.ln_2(x))


class Embedding(nn.Module):
    """Lookup table times `mult`: (...,) int -> (..., C)."""

    def __init__(self, n, C, mult):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n, C))
        self.mult = mult

    def forward(self, idx):
        e = F.embedding(idx, self.weight)
        return e * self.mult if self.mult != 1.0 else e


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = Embedding(cfg.vocab_size, cfg.width, cfg.emb_mult)
        self.wpe = Embedding(cfg.seq_len, cfg.width, cfg.emb_mult) if cfg.pos == "learned" else None
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.ln_f = Norm(cfg)
        self.lm_head = Linear(cfg.width, cfg.vocab_size, False, cfg.readout_mult)
        if cfg.pos == "rope":
            cos, sin = rope_tables(cfg.seq_len, cfg.width // cfg.heads)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)

    def forward(self, idx, targets=None):
        """idx, targets (B, T) int64 -> logits (B, T, V), mean cross-entropy or None."""
        B, T = idx.shape
        x = self.wte(idx)  # (B, T, C)
        rope = None
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(T, device=idx.device))  # + (T, C)
        else:
            rope = (self.rope_cos, self.rope_sin)
        for block in self.blocks:
            x = block(x, rope)
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten())
        return logits, loss

    def n_params(self) -> tuple[int, int]:
        """(non-embedding, total) parameter counts. Non-embedding leaves out the token and
        position embeddings and the readout matrix (the vocabulary-sized tensors)."""
        total = sum(p.numel() for p in self.parameters())
        vocab_sized = self.wte.weight.numel() + self.lm_head.weight.numel()
        if self.wpe is not None:
            vocab_sized += self.wpe.weight.numel()
        return total - vocab_sized, total

    def flops_per_token(self) -> int:
        """Training FLOPs per token: 6 N (matmul weights, readout included) + attention
        12 L T C (PaLM appendix B convention, causal mask not discounted)."""
        n_matmul = sum(p.numel() for n, p in self.named_parameters()
                       if p.ndim == 2 and not n.startswith(("wte.", "wpe.")))
        c = self.cfg
        return 6 * n_matmul + 12 * c.depth * c.seq_len * c.width
