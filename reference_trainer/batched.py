"""K GPTs of one shape trained as one: weights stacked along a leading K dimension.

`BatchedGPT` computes exactly what K separate `model.GPT`s compute, one forward and
backward pass for all of them: every matrix product is a batched one (`torch.bmm` over
K), attention runs over K * B sequences, and each model keeps its own forward
multipliers, attention scale, init and (in `batched_optim`) learning rates, all taken
from the same parameterization tables (`param.table_for`) as a single run. Each model
is initialised by building the single-run GPT with its seed and copying its weights
in, so model k of a batch starts bit-for-bit where its single run starts.

Shapes: K models, B batch, T time, C width, H heads, D head size, V vocabulary.

Storage: all weights of all models live in one flat (K, N) buffer, grouped by tensor
type (emb, hidden, readout, norm, in that order); each weight the forward uses is a
view into it, and so is its gradient. The optimizer then updates the whole buffer
with a dozen tensor operations, per-model gradient norms are one reduction over N,
and dropping models from the batch (diverged, or past their horizon) is one row
selection.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import warnings

import torch
import torch.nn.functional as F

from . import param
from .build import build_model
from .config import RunConfig
from .model import GPT, apply_rope, rope_tables

# Settings that may differ between the models of one batch; every other field must be
# equal (shape, data, batch size, optimizer constants, execution).
PER_MODEL = frozenset({
    "param", "base_width", "init_std", "init_rel", "init_factor_emb", "init_factor_hidden",
    "init_factor_readout", "attn_norm", "wd_transfer", "readout_zero_init", "lr_factor_emb",
    "lr_factor_hidden", "lr_factor_readout", "lr_factor_norm", "mult_emb", "mult_readout",
    "lr", "weight_decay", "grad_clip", "schedule", "warmup_frac", "warmup_tokens",
    "min_lr_frac", "cooldown_frac", "tokens", "seed", "diverge_factor", "log_every",
})


@contextlib.contextmanager
def quiet_layout_note():
    """The gradient of each weight is a strided view of the flat gradient buffer, which
    autograd accepts and adds into in place, with a performance note we do not need."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="grad and param do not obey the gradient")
        yield


def batch_key(cfg: RunConfig) -> tuple:
    """Runs with equal keys can share a batch."""
    return tuple((f.name, getattr(cfg, f.name)) for f in dataclasses.fields(cfg)
                 if f.name not in PER_MODEL)


class BatchedGPT:
    """K models of one shape. `forward(idx, targets)` takes (K, B, T) token ids and
    returns logits (K, B, T, V) and the K mean losses."""

    def __init__(self, cfgs: list[RunConfig], vocab_size: int, device="cpu"):
        keys = {batch_key(c) for c in cfgs}
        if len(keys) != 1:
            raise ValueError("a batch needs runs of one shape, data and batch size")

        self.cfgs = list(cfgs)
        self.device = torch.device(device)
        first, _ = build_model(cfgs[0], vocab_size)
        gcfg = first.cfg  # the shape fields (width, depth, heads, ...) are shared
        self.depth, self.heads, self.norm_kind = gcfg.depth, gcfg.heads, gcfg.norm
        self.n_params = first.n_params()  # (non-embedding, total), per model

        # layout: names in single-run order, grouped by tensor type
        named = list(first.named_parameters())
        self.types = {n: param.tensor_type(n, p.ndim) for n, p in named}
        self.layout = {}  # name -> (offset, shape)
        self.type_slices = {}  # tensor type -> its slice of the flat dimension
        offset = 0
        for t in param.TENSOR_TYPES:
            start = offset
            for n, p in named:
                if self.types[n] == t:
                    self.layout[n] = (offset, tuple(p.shape))
                    offset += p.numel()
            if offset > start:
                self.type_slices[t] = slice(start, offset)
        self.N = offset

        # build each single-run model (same init, same multipliers) and copy it in
        flat = torch.empty(len(cfgs), self.N, dtype=torch.float32)
        self.gpt_cfgs, self.tables = [], []  # model.GPTConfig, param.Table per model
        for k, c in enumerate(cfgs):
            m, tbl = build_model(c, vocab_size) if k else (first, None)
            tbl = tbl or param.table_for(c)
            self.gpt_cfgs.append(m.cfg)
            self.tables.append(tbl)
            for n, p in m.named_parameters():
                o, shape = self.layout[n]
                flat[k, o:o + p.numel()] = p.detach().flatten()
            del m
        # per-model forward multipliers (K,), from the same GPTConfig the single run uses
        self.mults = {name: torch.tensor([getattr(g, name) for g in self.gpt_cfgs],
                                         dtype=torch.float32)
                      for name in ("emb_mult", "hidden_mult", "readout_mult", "norm_mult",
                                   "attn_scale")}
        if gcfg.pos == "rope":
            cos, sin = rope_tables(gcfg.seq_len, gcfg.width // gcfg.heads)
            self.rope = (cos.to(self.device), sin.to(self.device))
        else:
            self.rope = None
        self._set(flat.to(self.device), {k: v.to(self.device) for k, v in self.mults.items()})

    # ------------------------------------------------------------------ storage
    def _set(self, flat: torch.Tensor, mults: dict) -> None:
        """Adopt a (K, N) weight buffer: make the weight views and gradient views."""
        self.flat = flat
        self.grad = torch.zeros_like(flat)
        self.mults = mults
        self.K = flat.shape[0]
        self.params = {}
        self.grads_checked = False
        for n, (o, shape) in self.layout.items():
            size = math.prod(shape)
            p = torch.nn.Parameter(flat[:, o:o + size].view(self.K, *shape))  # shares storage
            p.grad = self.grad[:, o:o + size].view(self.K, *shape)  # autograd adds into it
            self.params[n] = p
        # a multiplier equal to 1 for every model is skipped, as the single run skips it
        # (read here once: reading a device tensor in the forward would wait for the GPU)
        self.uniform = {n: bool(torch.all(v == v[0])) for n, v in mults.items()}
        self.first = {n: float(v[0]) for n, v in mults.items()}
        self.mult_is_one = {n: self.uniform[n] and self.first[n] == 1.0 for n in mults}

    def select(self, idx: list[int]) -> BatchedGPT:
        """A new batch of models `idx` of this one (weights copied)."""
        new = object.__new__(BatchedGPT)
        new.__dict__.update(self.__dict__)
        new.cfgs = [self.cfgs[i] for i in idx]
        new.gpt_cfgs = [self.gpt_cfgs[i] for i in idx]
        new.tables = [self.tables[i] for i in idx]
        rows = torch.tensor(idx, device=self.device)
        new._set(self.flat.index_select(0, rows).detach(),
                 {n: v.index_select(0, rows) for n, v in self.mults.items()})
        return new

    def zero_grad(self) -> None:
        self.grad.zero_()

    def check_grads(self) -> None:
        """The gradients must still be views of `self.grad` (autograd accumulates into an
        existing .grad in place); fail loudly if a torch version stops doing so."""
        for p in self.params.values():
            if p.grad is None or p.grad.untyped_storage().data_ptr() != \
                    self.grad.untyped_storage().data_ptr():
                raise RuntimeError("gradient no longer a view of the flat gradient buffer")
        self.grads_checked = True

    def state_dict_of(self, k: int) -> dict:
        """Model k's weights as a `model.GPT` state dict (CPU tensors)."""
        return {n: p[k].detach().cpu().clone() for n, p in self.params.items()}

    def gpt(self, k: int) -> GPT:
        """Model k as a single-run `model.GPT` (weights copied, on this device)."""
        m = GPT(self.gpt_cfgs[k])
        m.load_state_dict(self.state_dict_of(k))
        return m.to(self.device)

    # ------------------------------------------------------------------ forward
    def _mult(self, name: str, y: torch.Tensor) -> torch.Tensor:
        """y (K, ...) times model k's multiplier `name`."""
        if self.mult_is_one[name]:
            return y
        m = self.mults[name]
        if self.uniform[name]:
            return y * self.first[name]
        return y * m.view(-1, *([1] * (y.dim() - 1))).to(y.dtype)

    def linear(self, x, name, mult="hidden_mult"):
        """x (K, B, T, Cin) -> mult * (x @ W.T) + norm_mult * b: (K, B, T, Cout)."""
        K, B, T, C = x.shape
        W = self.params[name + ".weight"]  # (K, Cout, Cin)
        y = torch.bmm(x.reshape(K, B * T, C), W.transpose(1, 2))  # (K, BT, Cout)
        y = self._mult(mult, y)
        b = self.params.get(name + ".bias")
        if b is not None:
            y = y + self._mult("norm_mult", b).unsqueeze(1)
        return y.view(K, B, T, -1)

    def norm(self, x, name):
        """RMSNorm or LayerNorm over C with model k's gain (and bias): (K, B, T, C)."""
        w = self._mult("norm_mult", self.params[name + ".weight"])[:, None, None, :]
        if self.norm_kind == "rms":
            return F.rms_norm(x, (x.size(-1),), eps=1e-6) * w
        y = F.layer_norm(x, (x.size(-1),), eps=1e-5) * w
        b = self.params.get(name + ".bias")
        return y if b is None else y + self._mult("norm_mult", b)[:, None, None, :]

    def attention(self, x, i):
        K, B, T, C = x.shape
        H = self.heads
        qkv = self.linear(x, f"blocks.{i}.attn.c_attn")  # (K, B, T, 3C)
        q, k, v = (t.reshape(K * B, T, H, C // H).transpose(1, 2)  # (KB, H, T, D)
                   for t in qkv.split(C, dim=-1))
        if self.rope is not None:
            q, k = apply_rope(q, *self.rope), apply_rope(k, *self.rope)
        if self.uniform["attn_scale"]:
            scale = self.first["attn_scale"]
        else:  # per-model scale folded into the queries
            s = self.mults["attn_scale"].to(q.dtype).repeat_interleave(B)
            q, scale = q * s.view(-1, 1, 1, 1), 1.0
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale)
        y = y.transpose(1, 2).reshape(K, B, T, C)
        return self.linear(y, f"blocks.{i}.attn.c_proj")

    def embed(self, idx):
        """(K, B, T) ids -> (K, B, T, C): each model looks up its own table."""
        K, B, T = idx.shape
        models = torch.arange(K, device=idx.device).view(K, 1, 1)
        x = self._mult("emb_mult", self.params["wte.weight"][models, idx])  # rows of (K, V, C)
        if "wpe.weight" in self.params:
            x = x + self._mult("emb_mult", self.params["wpe.weight"][:, :T])[:, None]
        return x

    def forward(self, idx, targets=None):
        """idx, targets (K, B, T) -> logits (K, B, T, V), mean losses (K,) or None."""
        x = self.embed(idx)
        for i in range(self.depth):
            x = x + self.attention(self.norm(x, f"blocks.{i}.ln_1"), i)
            h = self.linear(self.norm(x, f"blocks.{i}.ln_2"), f"blocks.{i}.mlp.c_fc")
            x = x + self.linear(F.gelu(h), f"blocks.{i}.mlp.c_proj")
        logits = self.linear(self.norm(x, "ln_f"), "lm_head", mult="readout_mult")
        if targets is None:
            return logits, None
        K = logits.shape[0]
        ce = F.cross_entropy(logits.float().flatten(0, 2), targets.flatten(), reduction="none")
        return logits, ce.view(K, -1).mean(1)

    __call__ = forward
