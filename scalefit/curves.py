"""``scalefit.fit_curves``: a loss-curve law fitted to whole training curves, per ``by`` group.

Table -> schedules and curves (``curve_table``) -> per group: pairs (``core.curve_data``),
the law fitted (``core.curve_fit``: Huber in ln L, a grid of starts, LM and L-BFGS-B), a
bootstrap (``core.curve_boot``: whole runs with 6 or more runs, else moving blocks of
residuals within runs), leave-one-run-out errors for prediction bands (3 or more runs) and
leave-future-out errors for bands beyond the longest step fitted -> ``CurveFit``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .core.curve_boot import bootstrap_law, lfo_errors, loro_errors
from .core.curve_data import DEFAULT_PER_OCTAVE, curve_data
from .core.curve_fit import DEFAULT_DELTA, fit_law, predict_draws
from .core.curve_laws import DEFAULT_LAMBDA, make_law
from .curve_table import load_curve_table
from .errors import ScalefitFitError, ScalefitInputError
from .progress import resolve
from .results.curves import CurveFit


def curve_metrics(loss: np.ndarray, pred: np.ndarray) -> dict:
    """R^2, RMSE, mean and worst relative error of ``pred`` against ``loss`` (one curve)."""
    err = loss - pred
    ss = float(((loss - loss.mean()) ** 2).sum())
    rel = np.abs(err) / loss
    return {"r2": 1.0 - float((err ** 2).sum()) / ss if ss > 0 else float("nan"),
            "rmse": float(np.sqrt((err ** 2).mean())), "mean_rel_error": float(rel.mean()),
            "worst_rel_error": float(rel.max())}


POOR_R2 = 0.9  # a run fitted with R^2 below this is named


def fit_warnings(law, theta: np.ndarray, run_rows: list[dict]) -> list[str]:
    """What says the law does not describe these curves: parameters that ended at a bound
    of their search (not estimated: the bound is what the data allow), runs fitted with
    R^2 below ``POOR_R2``."""
    out, at = [], []
    for name, v, (lo, hi), logp in zip(law.param_names, theta, law.bounds,
                                       [i in law.log_params for i in range(len(theta))]):
        for b in (lo, hi):
            if b is not None and abs(v - b) <= 1e-6 * (1 + abs(b)):
                at.append(f"{name} = {'e^' if logp else ''}{b:g}")
    if at:
        out.append(f"parameters at a bound of their search ({', '.join(at)}): not estimated "
                   "from these curves (their intervals show the bound, not an uncertainty); "
                   "the law may not describe them (check the schedules and the loss column)")
    poor = [r["run"] for r in run_rows if np.isfinite(r["r2"]) and r["r2"] < POOR_R2]
    if poor:
        shown = ", ".join(map(str, poor[:4])) + (", ..." if len(poor) > 4 else "")
        out.append(f"the law fits {len(poor)} of {len(run_rows)} run(s) with R2 below "
                   f"{POOR_R2} ({shown}): its predictions for them are not to be trusted")
    return out


def fit_curves(table, run: str | None = None, step: str | None = None, lr: str | None = None,
               loss: str | None = None, schedule_col: str | None = None, schedules=None,
               by=(), law: str = "mpl", lam: float = DEFAULT_LAMBDA, n_boot: int = 200,
               ci: float = 0.95, seed: int = 0, huber_delta: float = DEFAULT_DELTA,
               plan: str = "auto", per_octave: int | None = DEFAULT_PER_OCTAVE,
               progress: Callable[[int, int], None] | str | None = "auto", fmt=None,
               source=None) -> CurveFit:
    """Fit a loss-curve law to whole training curves.

    table: path or DataFrame of (run, step, lr, loss) rows (columns found by name; ``run``,
        ``step``, ``lr``, ``loss`` override). ``schedules``: {run name or "*": description},
        e.g. ``{"*": "cosine:total=24000,warmup=2160,peak=3e-4,end=3e-5"}``; or a column of
        descriptions (``schedule_col``, default a ``schedule`` column); without either, the
        LR column must log every step.
    law: ``"mpl"`` (Multi-Power Law, Luo et al. 2025) or ``"tissue"`` (Tissue et al. 2024,
        with ``lam``). by: columns splitting runs into groups (one fit per group).
    n_boot, ci, seed: bootstrap resamples (0: none), interval level, seed. plan: ``auto``
        (whole runs with >= 6 runs in the group, else moving blocks of residuals),
        ``runs`` or ``residual_blocks``. huber_delta: the Huber threshold on ln residuals.
    """
    if not 0 < ci < 1:
        raise ScalefitInputError(f"ci must lie in (0, 1) (got {ci})")
    if n_boot < 0 or n_boot == 1:
        raise ScalefitInputError("n_boot must be 0 (no intervals) or at least 2")
    try:
        the_law = make_law(law, lam=lam)
    except ValueError as e:
        raise ScalefitInputError(str(e)) from None
    t = load_curve_table(table, run=run, step=step, lr=lr, loss=loss, schedule_col=schedule_col,
                         schedules=schedules, by=by, fmt=fmt, source=source)
    groups: dict = {}
    for r in t.runs:
        groups.setdefault(tuple(str(r.group[b]) for b in t.by), []).append(r)
    report, bar = resolve(progress, "curve bootstrap")
    notes = list(t.notes)
    out = []
    with bar:
        for gi, (key, runs) in enumerate(groups.items()):
            out.append(_fit_group(the_law, runs, dict(zip(t.by, key)), n_boot, seed + gi, ci,
                                  huber_delta, plan, per_octave, report, notes))
    observed = [[{"run": r.name, "steps": r.steps, "loss": r.loss, "eta": r.eta}
                 for r in runs] for runs in groups.values()]
    inp = {"source": t.source, "rows_used": int(sum(r.steps.size for r in t.runs)),
           "runs": len(t.runs), "columns": dict(t.columns), "by": list(t.by)}
    settings = {"law": the_law.name, **the_law.settings(), "n_boot": int(n_boot),
                "ci": float(ci), "seed": int(seed), "huber_delta": float(huber_delta),
                "plan": plan, "per_octave": per_octave}
    return CurveFit(groups=out, input=inp, settings=settings, notes=notes, observed=observed)


def _fit_group(law, runs, group, n_boot, seed, ci, delta, plan, per_octave, report, notes):
    data = curve_data([r.eta for r in runs], [r.steps for r in runs], per_octave)
    y = np.concatenate([r.loss for r in runs])
    if y.size < len(law.param_names) + 2:
        raise ScalefitInputError(f"{_label(group)}{y.size} observed losses: too few for the "
                                 f"{len(law.param_names)} parameters of the law")
    try:
        fit = fit_law(law, data, y, delta)
    except RuntimeError as e:
        raise ScalefitFitError(f"{_label(group)}{e}") from None
    pred = predict_draws(law, fit["theta"][None], data)[0]
    run_rows = []
    for i, r in enumerate(runs):
        sel = data.run == i
        run_rows.append({"run": r.name, "schedule": None if r.spec is None else r.spec.to_dict(),
                         "schedule_from": r.schedule_from, "n_points": int(sel.sum()),
                         "first_step": int(r.steps[0]), "last_step": int(r.steps[-1]),
                         **curve_metrics(y[sel], pred[sel])})
    notes.extend(f"{_label(group)}{n}" for n in fit_warnings(law, fit["theta"], run_rows))
    boot = None
    if n_boot:
        boot = bootstrap_law(law, data, y, fit["theta"], n_boot, seed, delta, plan,
                             progress=report)
        if boot["n_unconverged"]:
            notes.append(f"{_label(group)}{boot['n_unconverged']} of {n_boot} bootstrap refits "
                         "stopped before the convergence test (kept)")
    loro = loro_errors(law, data, y, delta) if len(runs) >= 3 else None
    lfo = lfo_errors(law, data, y, delta) if n_boot else None
    etas = np.concatenate([r.eta[r.eta > 0] for r in runs])
    return {"group": group, "theta": fit["theta"], "objective": fit["objective"],
            "converged": fit["converged"], "runs": run_rows,
            "draws": None if boot is None else boot["thetas"],
            "plan": None if boot is None else boot["plan"],
            "block_lengths": None if boot is None else boot["block_lengths"],
            "residuals": np.log(y) - np.log(pred),
            "loro_errors": loro, "lfo_errors": lfo,
            "range": {"step": [int(min(r.steps[0] for r in runs)),
                               int(max(r.steps[-1] for r in runs))],
                      "lr": [float(etas.min()), float(etas.max())]},
            "level": ci}


def _label(group: dict) -> str:
    return ("[" + ", ".join(f"{k}={v}" for k, v in group.items()) + "] ") if group else ""
