"""The notes a fit of LR sweeps adds about its sweeps' statuses: what each non-ok status
present means (with the options that set it), whether such sweeps enter the laws, sweeps
whose loss is flat, open-ended optimum intervals, and what a blow-up looks like."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .core.noise import FLAT_Z
from .core.optimum import STATUS_NAMES
from .grouping import flat_sweeps
from .noise_plan import sweep_names
from .options import FitOptions
from .statuses import STATUS_NOTES


def status_notes(optima: pd.DataFrame, opts: FitOptions, per_sweep: list[dict],
                 by=()) -> list[str]:
    """One note per non-ok status present (what it means), and on open intervals."""
    include, flat_z = opts.include, opts.flat_z
    notes = []
    counts = optima["status"].value_counts()
    for st in STATUS_NAMES[1:]:
        if st not in counts.index:
            continue
        why = STATUS_NOTES[st].format(pct=f"{opts.max_misfit:.0%}", gap=f"{opts.floor_gap:g}",
                                      z=flat_z if flat_z is not None else FLAT_Z)
        line = f"{counts[st]} sweep(s) {st}: {why}"
        if st == "div_bracketed":
            line += ("; they enter the laws (included), each resample drawing their optimum "
                     "over its bracket" if st in include else
                     "; they do not enter the laws (--include-status ok div_bracketed adds "
                     "them)")
        elif st in include:
            line += "; included: they enter the laws with their best LR (a grid point, not an "\
                    "estimate)"
        if st == "bad_fit" and opts.diverged_above is None:
            line += _blowup_hint(optima, per_sweep, opts.blowup)
        if st == "flat":
            if st not in include:
                line += "; they do not enter the laws (--include-status ok flat adds them)"
            line += f": {sweep_names(optima, optima['status'] == 'flat', by)}"
        notes.append(line)
    flat = flat_sweeps(per_sweep)
    if flat.any():
        notes.append(f"{int(flat.sum())} sweep(s) have a flat loss (every run the same loss): "
                     "there is no valley, whatever their status says; check the loss column")
    open_ = optima.get("lr_opt_ci_open", pd.Series(dtype=str))
    n_open = int((open_ != "").sum())
    if n_open:
        notes.append(f"{n_open} optimum interval(s) run off the LRs their sweep tried: shown "
                     "open-ended (< or > the last LR tried); the laws clamp such resamples to "
                     "the tried LRs (no law learns from a vertex the grid does not show)")
    return notes


def _blowup_hint(optima: pd.DataFrame, per_sweep: list[dict], blowup) -> str:
    """For bad_fit sweeps: how high their runs above the best LR go above the best loss
    (what a blow-up looks like), and the flags that mark such runs."""
    worst = 1.0
    for j in np.flatnonzero((optima["status"] == "bad_fit").to_numpy()):
        lr, loss = (np.asarray(per_sweep[j][k], float) for k in ("lr", "loss"))
        loss = loss[lr > optima["lr_best"].iloc[j]]
        best = optima["loss_best"].iloc[j]
        if best > 0 and np.isfinite(loss).any():
            worst = max(worst, float(np.nanmax(loss)) / best)
    if worst < 1.3:
        return ""
    rule = (f"the blow-up rule marks runs above {blowup:g} x the best"
            if blowup is not None else "the blow-up rule is off")
    return (f"; above their best LR their runs reach x{worst:.3g} their best loss ({rule}): if "
            "runs blew up, mark them with --blowup FACTOR or --diverged-above X")
