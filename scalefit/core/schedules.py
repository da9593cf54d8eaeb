"""Learning-rate schedules rebuilt from a description: the LR at every optimizer step.

A loss curve depends on the LR at every step, but logs usually hold it only at the logged
steps, so the schedule is rebuilt from its description. Conventions (those of the
Multi-Power Law authors' code, Luo et al. 2025, so their published fits reproduce):

* steps are ``0 .. total_steps - 1``; ``eta[s]`` is the LR used at step ``s``;
* warmup: linear from 0 at step 0 to ``peak_lr`` at step ``warmup_steps - 1``
  (``numpy.linspace(0, peak, warmup)``); none when ``warmup_steps`` is 0. That is
  ``warmup_from`` ``"zero"`` (the default); ``"step"`` is the other common one,
  ``peak (s + 1) / warmup`` at step ``s < warmup`` (``peak / warmup`` at step 0, the peak
  at step ``warmup - 1``): the reference trainer's, and PyTorch's ``LambdaLR`` with
  ``(s + 1) / warmup``. Both reach the peak at step ``warmup - 1``;
* after warmup, by ``shape``:

  - ``constant``: ``peak_lr``;
  - ``cosine``: ``end + (peak - end) (1 + cos(pi u)) / 2``, ``u = (s - w) / (T - w)``
    (``w`` the warmup, ``T`` the total), so the LR is ``peak`` at step ``w``;
  - ``linear``: ``peak + (end - peak) u``;
  - ``wsd`` (warmup-stable-decay): ``peak`` until ``decay_start``, then a decay to
    ``end_lr`` reached at step ``T`` with ``decay_shape``, ``v = (s - d) / (T - d)``:
    ``linear`` ``peak + (end - peak) v``; ``exp`` (geometric) ``peak^(1-v) end^v``;
    ``cosine`` ``end + (peak - end) (1 + cos(pi v)) / 2``; ``sqrt``
    ``end + (peak - end) (1 - sqrt(v))``;
  - ``piecewise``: ``peak`` after warmup, then constant pieces: ``pieces`` is a sequence of
    ``(start_step, lr)``, each LR holding from its start step to the next start.

Pure numpy; no parsing of text here (``scalefit.schedule_spec`` reads descriptions).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SHAPES = ("constant", "cosine", "linear", "wsd", "piecewise")
WARMUP_FROM = ("zero", "step")
DECAY_SHAPES = ("linear", "exp", "cosine", "sqrt")


@dataclass(frozen=True)
class ScheduleSpec:
    """A schedule description (see the module doc). ``end_lr`` defaults to 0 for decaying
    shapes; ``decay_start`` is needed by ``wsd``; ``pieces`` by ``piecewise``."""

    total_steps: int
    peak_lr: float
    shape: str = "cosine"
    warmup_steps: int = 0
    end_lr: float = 0.0
    decay_start: int | None = None
    decay_shape: str = "linear"
    pieces: tuple = field(default=())
    warmup_from: str = "zero"

    def check(self) -> None:
        """Raise ValueError (one line) if the description is inconsistent."""
        T, w = int(self.total_steps), int(self.warmup_steps)
        if self.shape not in SHAPES:
            raise ValueError(f"unknown schedule shape {self.shape!r}; one of {', '.join(SHAPES)}")
        if T < 1 or w < 0 or w > T:
            raise ValueError(f"need 0 <= warmup_steps ({w}) <= total_steps ({T}) and "
                             "total_steps >= 1")
        if self.warmup_from not in WARMUP_FROM:
            raise ValueError(f"unknown warmup_from {self.warmup_from!r}; one of "
                             f"{', '.join(WARMUP_FROM)}")
        if not (np.isfinite(self.peak_lr) and self.peak_lr > 0):
            raise ValueError(f"peak_lr must be a finite number > 0 (got {self.peak_lr})")
        if not (np.isfinite(self.end_lr) and self.end_lr >= 0):
            raise ValueError(f"end_lr must be a finite number >= 0 (got {self.end_lr})")
        if self.shape == "wsd":
            if self.decay_start is None or not w <= int(self.decay_start) <= T:
                raise ValueError(f"a wsd schedule needs warmup_steps <= decay_start <= "
                                 f"total_steps (got decay_start={self.decay_start})")
            if self.decay_shape not in DECAY_SHAPES:
                raise ValueError(f"unknown decay shape {self.decay_shape!r}; one of "
                                 f"{', '.join(DECAY_SHAPES)}")
            if self.decay_shape == "exp" and self.end_lr <= 0:
                raise ValueError("an exponential (geometric) decay needs end_lr > 0")
        if self.shape == "piecewise":
            starts = [int(s) for s, _ in self.pieces]
            if not starts or any(b <= a for a, b in zip(starts, starts[1:])) or starts[0] < w:
                raise ValueError("piecewise pieces need increasing start steps at or after "
                                 "the warmup")
            if any(not (np.isfinite(v) and v >= 0) for _, v in self.pieces):
                raise ValueError("piecewise LRs must be finite and >= 0")

    def to_dict(self) -> dict:
        out = {"shape": self.shape, "total_steps": int(self.total_steps),
               "warmup_steps": int(self.warmup_steps), "peak_lr": float(self.peak_lr),
               "end_lr": float(self.end_lr)}
        if self.shape == "wsd":
            out["decay_start"] = int(self.decay_start)
            out["decay_shape"] = self.decay_shape
        if self.shape == "piecewise":
            out["pieces"] = [[int(s), float(v)] for s, v in self.pieces]
        if self.warmup_from != "zero":  # written only when not the default
            out["warmup_from"] = self.warmup_from
        return out

    @classmethod
    def from_dict(cls, d: dict) -> ScheduleSpec:
        return cls(total_steps=int(d["total_steps"]), peak_lr=float(d["peak_lr"]),
                   shape=d.get("shape", "cosine"), warmup_steps=int(d.get("warmup_steps", 0)),
                   end_lr=float(d.get("end_lr", 0.0)),
                   decay_start=None if d.get("decay_start") is None else int(d["decay_start"]),
                   decay_shape=d.get("decay_shape", "linear"),
                   pieces=tuple((int(s), float(v)) for s, v in d.get("pieces", ())),
                   warmup_from=d.get("warmup_from", "zero"))


def build_schedule(spec: ScheduleSpec) -> np.ndarray:
    """The LR at steps ``0 .. total_steps - 1``: shape (total_steps,)."""
    spec.check()
    T, w = int(spec.total_steps), int(spec.warmup_steps)
    peak, end = float(spec.peak_lr), float(spec.end_lr)
    s = np.arange(T, dtype=float)
    eta = np.full(T, peak)
    if w > 0 and spec.warmup_from == "step":
        eta[:w] = peak * (np.arange(w) + 1.0) / w
    elif w > 0:
        eta[:w] = np.linspace(0.0, peak, w)
    after = s >= w
    u = (s - w) / max(T - w, 1)
    if spec.shape == "cosine":
        eta[after] = end + 0.5 * (peak - end) * (1.0 + np.cos(np.pi * u[after]))
    elif spec.shape == "linear":
        eta[after] = peak + (end - peak) * u[after]
    elif spec.shape == "wsd":
        d = int(spec.decay_start)
        dec = s >= d
        eta[dec] = decay(peak, end, (s[dec] - d) / max(T - d, 1), spec.decay_shape)
    elif spec.shape == "piecewise":
        for start, lr in spec.pieces:
            eta[int(start):] = float(lr)
    return eta


def decay(peak: float, end: float, v: np.ndarray, shape: str) -> np.ndarray:
    """A decay from ``peak`` (v = 0) to ``end`` (v = 1) of the given shape."""
    if shape == "linear":
        return peak + (end - peak) * v
    if shape == "exp":
        return peak ** (1.0 - v) * end ** v
    if shape == "cosine":
        return end + 0.5 * (peak - end) * (1.0 + np.cos(np.pi * v))
    if shape == "sqrt":
        return end + (peak - end) * (1.0 - np.sqrt(v))
    raise ValueError(f"unknown decay shape {shape!r}")
