"""One run's configuration: a flat dataclass, its stable hash, and its derived sizes.

Every field can be set from the command line (``--field-name``) and from a TOML or
YAML file (``field_name = ...``). Fields marked ``identity=False`` do not change the
result of a run (where it runs, how often it logs) and are left out of `run_id`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field


def _f(default, help: str, identity: bool = True):
    return field(default=default, metadata={"help": help, "identity": identity})


@dataclass
class RunConfig:
    # model
    width: int = _f(128, "model width d_model")
    depth: int = _f(4, "number of transformer blocks")
    head_dim: int = _f(32, "size of one attention head; heads = width / head_dim")
    n_heads: int = _f(0, "fix the number of heads instead (head_dim = width / n_heads); 0: off")
    seq_len: int = _f(128, "context length in tokens")
    norm: str = _f("rms", "rms | layer")
    pos: str = _f("learned", "learned | rope")
    bias: bool = _f(False, "biases in linear layers and LayerNorm")
    vocab_size: int = _f(0, "0: from the data (256 for bytes)")
    # parameterization
    param: str = _f("mup", "sp | mup | sp_emb, then +switch / -switch (see docs/trainer.md)")
    base_width: int = _f(128, "width where m = width/base_width = 1")
    init_std: float = _f(0.02, "base init std sigma of embedding, hidden and readout matrices")
    init_rel: float = _f(0.0, "base init relative to the base width: sigma = init_rel / "
                         "sqrt(base_width) (e.g. 0.5); overrides init_std when > 0")
    init_factor_emb: float = _f(1.0, "constant factor on the embedding init std")
    init_factor_hidden: float = _f(1.0, "constant factor on the hidden matrices' init std")
    init_factor_readout: float = _f(1.0, "constant factor on the readout init std")
    attn_norm: str = _f("none", "none: attention logits times d_head^-e (e = 1/2 SP, 1 muP); "
                        "base: times d_head^-e * d_base^(e-1/2), equal to SP at the base width")
    readout_zero_init: bool = _f(False, "initialise the readout matrix at zero")
    lr_factor_emb: float = _f(1.0, "constant LR factor on the embedding (times m^c)")
    lr_factor_hidden: float = _f(1.0, "constant LR factor on hidden matrices")
    lr_factor_readout: float = _f(1.0, "constant LR factor on the readout")
    lr_factor_norm: float = _f(1.0, "constant LR factor on norm gains and biases")
    mult_emb: float = _f(1.0, "constant forward multiplier on the embedding output")
    mult_readout: float = _f(1.0, "constant forward multiplier on the logits")
    # optimizer and schedule
    lr: float = _f(3e-3, "peak base learning rate eta")
    weight_decay: float = _f(0.0, "coupled: torch AdamW coefficient; independent: per-step rate")
    wd_mode: str = _f("coupled", "coupled (decay lr*wd) | independent (decay wd*schedule)")
    wd_transfer: bool = _f(False, "scale each tensor type's decay by m^-c (c: its LR exponent) "
                           "so lr*wd per type is constant in width (transfers coupled decay "
                           "under muP)")
    beta1: float = _f(0.9, "Adam beta1")
    beta2: float = _f(0.95, "Adam beta2")
    eps: float = _f(1e-8, "Adam epsilon")
    grad_clip: float = _f(1.0, "clip the global gradient norm; 0: off")
    schedule: str = _f("cosine", "cosine | linear | constant | wsd (after warmup; wsd: "
                       "constant, then a linear cooldown over the last cooldown_frac)")
    warmup_frac: float = _f(0.1, "warmup as a fraction of the horizon")
    warmup_tokens: int = _f(0, "warmup in tokens; overrides warmup_frac when > 0")
    min_lr_frac: float = _f(0.1, "final LR as a fraction of the peak")
    cooldown_frac: float = _f(0.2, "schedule wsd: the linear cooldown to min_lr_frac takes "
                              "this fraction of the horizon (in whole steps)")
    # data and horizon
    data: str = _f("stdlib", "stdlib | nanoGPT .bin file | dir with train.bin, val.bin | text file")
    val_frac: float = _f(0.05, "held-out fraction when the data has no separate val split")
    tokens: int = _f(2**20, "token horizon: the run trains on this many tokens")
    batch_size: int = _f(32, "sequences per optimizer step (global, over all processes)")
    micro_batch_size: int = _f(0, "sequences per forward pass per process; 0: no accumulation",
                               identity=False)
    eval_tokens: int = _f(2**17, "validation tokens for the final loss")
    seed: int = _f(0, "seeds the init and the data order")
    diverge_factor: float = _f(3.0, "stop as diverged when loss > factor * initial loss")
    # execution (not part of the run identity)
    device: str = _f("auto", "auto | cpu | cuda | cuda:N", identity=False)
    dtype: str = _f("auto", "auto (bf16 autocast on CUDA, fp32 on CPU) | fp32 | bf16",
                    identity=False)
    compile: bool = _f(False, "torch.compile the model (CUDA)", identity=False)
    eval_every: int = _f(0, "also evaluate every N steps (logged only); 0: at the end",
                         identity=False)
    log_every: int = _f(0, "log every N steps; 0: about 10 lines per run", identity=False)
    ckpt_every: int = _f(0, "checkpoint every N steps when a checkpoint path is given",
                         identity=False)
    curves_every: int = _f(0, "write the training and validation loss every N steps to the "
                           "curves file beside the results (<out stem>.curves.csv); 0: off",
                           identity=False)

    def __post_init__(self):
        self.validate()

    # ------------------------------------------------------------------ derived
    @property
    def heads(self) -> int:
        return self.n_heads if self.n_heads > 0 else self.width // self.head_dim

    @property
    def d_head(self) -> int:
        return self.width // self.heads

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.seq_len

    @property
    def steps(self) -> int:
        """Optimizer steps: the horizon rounded to whole batches (at least one)."""
        return max(1, round(self.tokens / self.tokens_per_step))

    @property
    def warmup_steps(self) -> int:
        if self.warmup_tokens > 0:
            w = round(self.warmup_tokens / self.tokens_per_step)
        else:
            w = round(self.warmup_frac * self.steps)
        return min(w, self.steps)

    @property
    def cooldown_steps(self) -> int:
        """Steps of the wsd cooldown: `cooldown_frac` of the steps, rounded (at least one,
        at most the steps after the warmup); 0 for the other schedules."""
        if self.schedule != "wsd":
            return 0
        return min(max(1, round(self.cooldown_frac * self.steps)),
                   max(1, self.steps - self.warmup_steps))

    @property
    def decay_start(self) -> int:
        """The first step of the wsd cooldown (the steps before it are the stable phase,
        shared by every horizon); `steps` for the other schedules."""
        return self.steps - self.cooldown_steps

    def validate(self) -> None:
        """Raise ValueError with a message that says what to change."""
        from . import param  # late import: param does not depend on config

        def need(ok, msg):
            if not ok:
                raise ValueError(msg)

        for name in ("width", "depth", "seq_len", "batch_size", "tokens", "base_width",
                     "head_dim", "eval_tokens"):
            need(getattr(self, name) > 0, f"{name} must be positive, got {getattr(self, name)}")
        need(self.width % (self.n_heads or self.head_dim) == 0,
             f"width {self.width} is not a multiple of "
             + (f"n_heads {self.n_heads}" if self.n_heads else f"head_dim {self.head_dim}"))
        need(self.norm in ("rms", "layer"), f"norm must be rms or layer, got {self.norm!r}")
        need(self.pos in ("learned", "rope"), f"pos must be learned or rope, got {self.pos!r}")
        need(self.pos != "rope" or self.d_head % 2 == 0, "RoPE needs an even head size")
        need(self.attn_norm in ("none", "base"),
             f"attn_norm must be none or base, got {self.attn_norm!r}")
        need(self.init_rel >= 0, f"init_rel must be >= 0, got {self.init_rel}")
        for t in ("emb", "hidden", "readout"):
            need(getattr(self, f"init_factor_{t}") >= 0, f"init_factor_{t} must be >= 0")
        need(self.attn_norm == "none" or self.n_heads == 0 or self.base_width % self.n_heads == 0,
             f"attn_norm base with n_heads {self.n_heads} needs base_width divisible by it")
        need(self.wd_mode in ("coupled", "independent"),
             f"wd_mode must be coupled or independent, got {self.wd_mode!r}")
        need(self.schedule in ("cosine", "linear", "constant", "wsd"),
             f"schedule must be cosine, linear, constant or wsd, got {self.schedule!r}")
        need(0 < self.cooldown_frac <= 1, "cooldown_frac must lie in (0, 1]")
        need(self.curves_every >= 0, "curves_every must be >= 0")
        need(self.lr > 0, f"lr must be positive, got {self.lr}")
        need(0 <= self.min_lr_frac <= 1, "min_lr_frac must lie in [0, 1]")
        need(0 <= self.warmup_frac <= 1, "warmup_frac must lie in [0, 1]")
        need(0 < self.val_frac < 1, "val_frac must lie in (0, 1)")
        need(self.diverge_factor > 1, "diverge_factor must be > 1")
        need(self.micro_batch_size >= 0, "micro_batch_size must be >= 0")
        self.param = param.canonical_name(self.param)  # raises on unknown switches

    # ----------------------------------------------------------------- identity
    def identity(self) -> dict:
        """The fields that define the experiment (not where or how verbosely it runs)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.metadata.get("identity", True)}

    @property
    def run_id(self) -> str:
        """Stable 12-hex hash of the identity fields that differ from their defaults; equal
        configs give equal ids on any machine, and adding a new setting (with a default
        that keeps today's behaviour) leaves every existing id as it is."""
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        changed = {k: v for k, v in self.identity().items() if v != defaults[k]}
        blob = json.dumps({"v": 2, **changed}, sort_keys=True, default=repr)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    @property
    def stable_id(self) -> str:
        """For a wsd run, the id of its stable run: the run's settings without a horizon
        (no tokens, cooldown or final LR; the warmup in steps), i.e. warmup then the peak
        LR for ever. WSD runs that differ only in their horizon (or cooldown) share its
        steps up to their decay start, bit for bit on a CPU: they are branches of it.
        The results row's `branch_of`."""
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        drop = {"tokens", "schedule", "cooldown_frac", "min_lr_frac", "warmup_frac",
                "warmup_tokens"}
        changed = {k: v for k, v in self.identity().items()
                   if k not in drop and v != defaults[k]}
        blob = json.dumps({"v": 2, "stable": 1, "warmup_steps": self.warmup_steps, **changed},
                          sort_keys=True, default=repr)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def replace(self, **changes) -> RunConfig:
        return dataclasses.replace(self, **changes)


def config_fields() -> list[dataclasses.Field]:
    return list(dataclasses.fields(RunConfig))


def parse_bool(text, label: str) -> bool:
    """A bool from a bool or from 1/true/yes/on or 0/false/no/off; `label` names it in
    the error."""
    if isinstance(text, bool):
        return text
    s = str(text).strip().lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{label}: expected true or false, got {text!r}")


_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([kmbgt]?)\s*$", re.I)
_POWER = re.compile(r"^\s*([0-9]+)\s*\^\s*([0-9]+)\s*$")
_SUFFIX = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12}


def parse_int(text) -> int:
    """A whole number from an int, a whole float, or text such as 4194304, 4.2e6, 1M, 7B
    (decimal suffixes k, M, B/G, T, as scalefit reads them) or 2^22; ValueError else."""
    if isinstance(text, bool):
        raise ValueError
    if isinstance(text, int):
        return text
    if isinstance(text, float):
        if not text.is_integer():
            raise ValueError
        return int(text)
    s = str(text)
    m = _POWER.match(s)
    if m:
        return int(m.group(1)) ** int(m.group(2))
    m = _SIZE.match(s)
    if not m:
        raise ValueError
    base, suffix = m.group(1), _SUFFIX[m.group(2).lower()]
    if suffix == 1 and re.fullmatch(r"[0-9]+", base):
        return int(base)  # exact, however large
    v = float(base) * suffix
    if not v.is_integer():
        raise ValueError
    return int(v)


def parse_value(f: dataclasses.Field, text) -> object:
    """Parse one value of field `f` from a string (CLI) or a TOML/YAML scalar."""
    typ = f.type if isinstance(f.type, str) else f.type.__name__
    flag = f"--{f.name.replace('_', '-')}"
    if typ == "bool":
        return parse_bool(text, flag)
    try:
        if typ == "int":
            return parse_int(text)
        if typ == "float":
            return float(text)
    except (TypeError, ValueError):
        what = ("a whole number (e.g. 4194304, 4.2e6, 1M, 2^22)" if typ == "int"
                else "a number")
        raise ValueError(f"{flag}: expected {what}, got {text!r}") from None
    return str(text)
