"""Train LR sweeps until every sweep's best LR is bracketed: the study driver.

A study is a set of *sweeps* (one `RunConfig` template each: everything but the LR and
the seed) and a starting LR grid per sweep on a ladder 1e-3 * r^k (r = 2 unless the sweep
says otherwise, e.g. sqrt(2)). Each round trains, for every
sweep, every seed at every LR of its grid that is not yet in the results file
(`reference_trainer.sweep.run`: batched where it pays, resumable, one row per run), then
reads the file and widens each grid where its best LR (lowest mean loss over seeds, a
diverged run counting as +inf) has fewer than `margin` LRs on one side: by `margin` more
LRs on the ladder beyond that edge, except above a diverged LR (no point going higher).
It stops when every sweep is bracketed or after `max_rounds` rounds.

The decisions depend only on the file's content, so a killed study restarts with the same
command: finished runs are skipped and the same grids are derived again.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from reference_trainer import sweep
from reference_trainer.config import RunConfig


def ladder(lr: float, ratio: float = 2.0) -> float:
    """`lr` rounded to the nearest point of the ladder 1e-3 * ratio^k (6 significant
    digits)."""
    k = round(math.log(lr / 1e-3) / math.log(ratio))
    return float(f"{1e-3 * ratio ** k:.6g}")


def grid(centre: float, n: int, ratio: float = 2.0) -> list[float]:
    """`n` LRs on the ladder around `centre` (`ratio` apart)."""
    k0 = round(math.log(centre / 1e-3) / math.log(ratio)) - (n - 1) // 2
    return [float(f"{1e-3 * ratio ** (k0 + i):.6g}") for i in range(n)]


@dataclass
class Sweep:
    """One LR sweep of a study: a name, the run template and its current LR grid."""

    name: str
    template: RunConfig
    lrs: list[float]
    seeds: tuple[int, ...] = (0, 1)
    ratio: float = 2.0  # the ladder's step: widening adds LRs this far apart
    notes: list[str] = field(default_factory=list)

    def runs(self) -> list[RunConfig]:
        return [self.template.replace(lr=lr, seed=s) for lr in sorted(self.lrs)
                for s in self.seeds]


def read_losses(path) -> dict[str, float]:
    """run_id -> final loss (+inf for a diverged run) of the rows in `path`."""
    if not Path(path).exists():
        return {}
    out = {}
    with open(path, newline="") as fh:
        for r in csv.DictReader(fh):
            ok = r["status"] == "ok" and r["val_loss"] not in ("", None)
            out[r["run_id"]] = float(r["val_loss"]) if ok else math.inf
    return out


def missing_lrs(sw: Sweep, losses: dict[str, float], margin: int = 2) -> list[float]:
    """The LRs to add to `sw` so its best LR has `margin` LRs on each side (none above a
    diverged LR); [] when bracketed, when a run is still missing, or all diverged."""
    lrs = sorted(sw.lrs)
    mean = []
    for lr in lrs:
        vals = [losses.get(sw.template.replace(lr=lr, seed=s).run_id) for s in sw.seeds]
        if any(v is None for v in vals):
            return []  # not trained yet
        mean.append(sum(vals) / len(vals))
    if not any(math.isfinite(m) for m in mean):
        return []
    best = min(range(len(lrs)), key=lambda i: mean[i])
    added = []
    if best < margin:
        added += [lrs[0] / sw.ratio ** (i + 1) for i in range(margin - best)]
    if len(lrs) - 1 - best < margin and math.isfinite(mean[-1]):
        added += [lrs[-1] * sw.ratio ** (i + 1) for i in range(margin - (len(lrs) - 1 - best))]
    return [float(f"{x:.6g}") for x in added]


def run_study(sweeps: list[Sweep], out, workers: int = 2, max_rounds: int = 4,
              margin: int = 2, max_batch: int = 128, label: str = "study",
              batch: bool | None = None, ckpt_dir=None, ckpt_every: int = 512) -> dict:
    """Train `sweeps` into `out` round by round until bracketed; returns
    {"rounds", "runs", "unbracketed": [sweep names]}. `batch`: as `sweep.run`'s (None:
    the sweep's CPU probe decides per shape; True: every shape in batches of up to
    `max_batch`, as a study that was started that way must be resumed). With `ckpt_dir`
    every run (batch) in progress saves its state there every `ckpt_every` steps, so a
    killed study resumes mid-run instead of retraining it (the step count is not part of
    a run's identity)."""
    devices = sweep.resolve_devices("cpu", workers)
    t0 = time.perf_counter()
    for rnd in range(1, max_rounds + 1):
        runs = [c for sw in sweeps for c in sw.runs()]
        if ckpt_dir:
            runs = [dataclasses.replace(c, ckpt_every=ckpt_every) for c in runs]
        print(f"{label}: round {rnd}: {len(sweeps)} sweeps, {len(runs)} runs in the grids",
              file=sys.stderr, flush=True)
        counts = sweep.run(runs, out, devices, max_batch=max_batch, batch=batch,
                           ckpt_dir=ckpt_dir)
        if counts["failed"]:
            raise RuntimeError(f"{counts['failed']} runs failed; see the log above")
        losses = read_losses(out)
        wider = {sw.name: missing_lrs(sw, losses, margin) for sw in sweeps}
        changed = [name for name, add in wider.items() if add]
        if not changed or rnd == max_rounds:
            break
        for sw in sweeps:
            sw.lrs = sorted(set(sw.lrs) | set(wider[sw.name]))
        print(f"{label}: widening {len(changed)} sweep grids: {', '.join(changed)}",
              file=sys.stderr, flush=True)
    print(f"{label}: done in {rnd} rounds, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if changed:
        print(f"{label}: still not bracketed after {rnd} rounds: {', '.join(changed)}",
              file=sys.stderr)
    return {"rounds": rnd, "runs": sum(len(sw.runs()) for sw in sweeps),
            "unbracketed": changed}
