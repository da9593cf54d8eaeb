"""Benchmark: how often the lr_opt laws forecast held-out optima (``scalefit backtest``).

Backtests every public sweep dataset in ../shared/datasets that has LR sweeps, and the two
bundled CPU studies: rolling origin along the named axis (default levels: every level from
the 4th smallest up, at most 3), per dataset and axis a row of held-out points, coverage of
the 95% PIs (the ones 'scalefit predict' gives), median |ln error| of the law and of
the two baselines (keep the LR of the largest fitted level; the law without its last
level), and whether the law beats both. Datasets that are absent are skipped. Porian et
al.'s IsoFLOP table gets the same backtest of its law N* = k C^a along the budget
(``isoflop_backtest``; keep: a fixed tokens-per-parameter ratio from the largest fitted
budget).

Then the same backtest on synthetic laws whose form is exactly the law scalefit fits (or
bends by a known q): how often the criterion "the law beats both baselines in a group"
holds when the law is the truth, so the public rows can be read against it.

    python benchmarks/forecast.py [--boot 1000] [--worlds 20]
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import scalefit
from scalefit.core import backtest as cb
from scalefit.errors import ScalefitInputError
from scalefit.synthetic import TrueLaw, make_sweeps

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets"


def _marin(fig: str, cut: float) -> pd.DataFrame:
    df = pd.read_csv(DATA / "marin-hyperball" / "transfer_runs.csv")
    return df[(df[f"in_{fig}_figure"] == 1) & ~(df["loss"] >= cut)]


CASES = [  # name, table, axis, fit options
    ("steplaw dense (per bs)", lambda: DATA / "steplaw" / "dense_lr_bs_loss.csv", "scale",
     {"by": ["bs"], "scale": "N", "horizon": "D", "loss": "smooth loss"}),
    ("steplaw dense (per bs)", lambda: DATA / "steplaw" / "dense_lr_bs_loss.csv", "horizon",
     {"by": ["bs"], "scale": "N", "horizon": "D", "loss": "smooth loss"}),
    ("marin LR x horizon (130m)", lambda: DATA / "marin-hyperball" / "lr_datasize.csv",
     "horizon", {"by": ["optimizer"], "horizon": "tokens"}),
    ("marin LR x width", lambda: _marin("width", 5.0), "scale",
     {"by": ["optimizer"], "scale": "hidden_dim"}),
    ("marin LR x depth", lambda: _marin("depth", 4.6), "scale",
     {"by": ["optimizer"], "scale": "num_layers"}),
    ("misfitting (open_lm)", lambda: DATA / "misfitting-scaling_laws"
     / "scaling_results_last_ckpt_only.csv", "scale",
     {"scale": "N", "horizon": "D", "lr": "peak_lr"}),
    ("misfitting (open_lm)", lambda: DATA / "misfitting-scaling_laws"
     / "scaling_results_last_ckpt_only.csv", "horizon",
     {"scale": "N", "horizon": "D", "lr": "peak_lr"}),
    ("CPU parameterization (per param.)",
     lambda: ROOT / "examples" / "data" / "parameterization_cpu.csv", "scale",
     {"by": ["parameterization"]}),
    ("CPU token horizon", lambda: ROOT / "examples" / "data" / "token_horizon_cpu.csv",
     "horizon", {}),
]
JOINT = [  # the joint optima (lr*, bs*) of every (N, D): backtests of both laws
    ("steplaw dense (joint lr x bs)", lambda: DATA / "steplaw" / "dense_lr_bs_loss.csv", axis,
     {"joint": "bs", "scale": "N", "horizon": "D", "loss": "smooth loss"})
    for axis in ("scale", "horizon")
]


ISOFLOP = [  # name, table, --by columns: backtests of the law N* = k C^a along the budget
    ("Porian IsoFLOP N*(C) (per config.)",
     lambda: DATA / "resolving-scaling-law-discrepancies" / "isoflop_points.csv",
     ["dataset", "hparams", "warmup", "decay", "param_count", "loss_split"]),
]


def isoflop_backtest(path, by: list[str], n_boot: int, level: float = 0.95, seed: int = 0):
    """Rolling origin along the budget C for the law N* = k C^a of an IsoFLOP fit (as
    ``scalefit backtest`` does for lr_opt): for each held-out budget (every one from the 4th
    smallest up, at most 3) the law of each ``by`` group is refitted on the smaller budgets
    (the fit's own law fitting, ``isoflop._fit_laws``: its resampled optima clamped to the
    sizes tried, with their scatter around the law) and predicts every ``ok`` optimum the
    full data measure there, with the PI ``scalefit backtest`` uses (a new point's scatter,
    leverage, Student's t). Baselines: keep the tokens per parameter of the largest fitted
    budget (N = N*_top (C / C_top)^0.5: a fixed ratio, as "20 tokens per parameter" is);
    the straight line through the optima without the last fitted budget. Returns a
    DataFrame, one row per held-out optimum."""
    from scalefit.isoflop import _fit_laws

    res = scalefit.fit_isoflop(path, by=by, n_boot=n_boot, seed=seed, progress=None)
    prof = res.profiles
    d = res.draws
    lo, hi = np.log(prof["N_tried_lo"].to_numpy(float)), np.log(prof["N_tried_hi"].to_numpy(float))
    x = np.clip(d["ln_N"], lo, hi)
    draws = {**d, "ln_N": x, "ln_D": d["ln_D"] - (x - d["ln_N"])}  # along the iso-FLOP line
    rows = []
    ok = prof[prof["status"] == "ok"]
    for key, sub in ok.groupby(by, sort=True):
        budgets = np.unique(sub["budget"].to_numpy(float))
        for origin in cb.origins(budgets):
            train = sub[sub["budget"] < origin]
            held = sub[sub["budget"] == origin]
            laws = _fit_laws(train, draws, by, ("ok",), level, [], seed)
            law = next((law for law in laws if law.target == "N_opt"), None)
            if law is None:
                continue
            X = np.column_stack([np.ones(len(train)), np.log(train["budget"].to_numpy(float))])
            Z = np.column_stack([np.ones(len(held)), np.log(held["budget"].to_numpy(float))])
            p = cb.predict_points(law.coef(), law.boot, law.rmse_log or 0.0, Z, level, seed, X)
            y = np.log(held["N_opt"].to_numpy(float))
            top = train[train["budget"] == train["budget"].max()].iloc[0]
            keep = np.log(top["N_opt"]) + 0.5 * (Z[:, 1] - np.log(top["budget"]))
            short = train[train["budget"] < train["budget"].max()]
            e_short = np.full(len(held), np.nan)
            if short["budget"].nunique() >= 2:
                b, a = np.polyfit(np.log(short["budget"].to_numpy(float)),
                                  np.log(short["N_opt"].to_numpy(float)), 1)
                e_short = a + b * Z[:, 1] - y
            k = held["curvature"].to_numpy(float)
            for i in range(len(held)):
                e = p["log"][i] - y[i]
                pi = p["pi"][:, i]
                rows.append({"group": key, "budget": origin, "ln_error": e,
                             "covered": float(pi[0] <= y[i] <= pi[1])
                             if np.all(np.isfinite(pi)) else np.nan,
                             "loss_cost": k[i] * e * e, "keep_ln_error": keep[i] - y[i],
                             "keep_loss_cost": k[i] * (keep[i] - y[i]) ** 2,
                             "short_ln_error": e_short[i]})
    return pd.DataFrame(rows)


def isoflop_row(name: str, t: pd.DataFrame, dt: float) -> str:
    """The table row of an IsoFLOP backtest (the columns of the LR datasets' rows)."""
    med = lambda c: float(np.nanmedian(np.abs(t[c].to_numpy(float))))  # noqa: E731
    both = 0
    for _, g in t.groupby("group"):
        m = {c: np.nanmedian(np.abs(g[c].to_numpy(float)))
             for c in ("ln_error", "keep_ln_error", "short_ln_error")}
        both += int(m["ln_error"] < m["keep_ln_error"]
                    and (np.isnan(m["short_ln_error"]) or m["ln_error"] < m["short_ln_error"]))
    cov = t["covered"].dropna()
    law, keep, short = med("ln_error"), med("keep_ln_error"), med("short_ln_error")
    return (f"| {name} | budget | {t['group'].nunique()} | {len(t)} | {both}/"
            f"{t['group'].nunique()} | {_f(cov.mean(), True)} ({int(cov.sum())}/{len(cov)}) | "
            f"{_f(law)} | {_f(keep)} | {_f(short)} | {'yes' if law < keep else 'no'}/"
            f"{'yes' if law < short else 'no'} | {t['loss_cost'].mean():.4f}/"
            f"{t['keep_loss_cost'].mean():.4f}/- | {dt:.1f} |")


SYNTHETIC = [  # name, true law: 6 scales (2x apart), one horizon, 9 LRs x 2 seeds
    ("straight, a = -0.3", TrueLaw(a=-0.3)),
    ("straight, a = -0.1", TrueLaw(a=-0.1)),
    ("straight, a = 0 (the optimum does not move)", TrueLaw(a=0.0)),
    ("bent, a = -0.3, q = -0.03", TrueLaw(a=-0.3, q=-0.03)),
]


def synthetic_table(law: TrueLaw, worlds: int) -> pd.DataFrame:
    """``worlds`` independent synthetic studies of ``law``, one ``world`` group each: the
    sweeps' noise (loss s.d. 0.004) and the optima's scatter about the law (5% in lr)."""
    return pd.concat([make_sweeps(scales=(1e7, 2e7, 4e7, 8e7, 1.6e8, 3.2e8),
                                  horizons=(1e9,), seeds=2, noise=0.004, law=law,
                                  lr_scatter=0.05, seed=w).assign(world=w)
                      for w in range(worlds)], ignore_index=True)


def _f(v, pct=False):
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "-"
    return f"{100 * v:.0f}%" if pct else f"{v:.3f}"


def _timed(fn, *args, **kw):
    """(fn(*args, **kw), wall seconds), its warnings silenced (the rows report the numbers)."""
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def _c(score: dict) -> str:
    """A mean loss cost (curvature x ln error^2, in loss) for a table cell."""
    v = score.get("mean_loss_cost")
    return "-" if v is None or not np.isfinite(v) else f"{v:.4f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--worlds", type=int, default=20)
    args = ap.parse_args()
    print(f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}"
          f", scalefit {scalefit.__version__}, {args.boot} resamples, seed 0\n")
    head = ("| dataset | axis | groups | held-out | groups beating both | PI covers | "
            "med abs ln err | keep | short | beats keep/short | mean cost law/keep/short | s |")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    pooled = {"cov": [], "err": [], "keep": [], "short": [], "cost": [], "keep_cost": []}
    for name, table, axis, opts in CASES:
        try:
            path = table()
            if isinstance(path, Path) and not path.exists():
                raise FileNotFoundError(path)
            res, dt = _timed(scalefit.backtest, path, axis=axis, n_boot=args.boot, **opts)
        except (FileNotFoundError, ScalefitInputError) as e:
            print(f"| {name} | {axis} | skipped: {str(e)[:120]} |")
            continue
        t, scores = res.table(), res.scores()
        s = scores[-1]
        law = s["law"]
        # every group with a held-out level has >= 4 levels (the default origins)
        per = [x for x in scores if not x["pooled"]] or [s]
        both = sum(1 for x in per if x["beats_keep"] and x["beats_short"])
        print(f"| {name} | {axis} | {len(res.groups())} | {len(t)} | {both}/{len(per)} | "
              f"{_f(law['coverage'], True)} ({law['n_covered']}/{law['n_with_pi']}) | "
              f"{_f(law['median_abs_ln_error'])} | "
              f"{_f(s['keep']['median_abs_ln_error'])} | "
              f"{_f(s['short']['median_abs_ln_error'])} | "
              f"{'yes' if s['beats_keep'] else 'no'}/"
              f"{'-' if s['beats_short'] is None else ('yes' if s['beats_short'] else 'no')} |"
              f" {_c(law)}/{_c(s['keep'])}/{_c(s['short'])} | {dt:.1f} |")
        pooled["cov"] += t["covered"].dropna().astype(float).tolist()
        pooled["err"] += t["ln_error"].abs().tolist()
        pooled["keep"] += t["keep_ln_error"].abs().tolist()
        pooled["short"] += t["short_ln_error"].astype(float).abs().dropna().tolist()
        pooled["cost"] += t["loss_cost"].astype(float).tolist()
        pooled["keep_cost"] += t["keep_loss_cost"].astype(float).tolist()
    iso = []
    for name, table, by in ISOFLOP:
        path = table()
        if not path.exists():
            print(f"| {name} | budget | skipped: {path} is absent |")
            continue
        t, dt = _timed(isoflop_backtest, path, by, args.boot)
        print(isoflop_row(name, t, dt))
        iso.append(t)
    print(f"\npooled over datasets: {len(pooled['err'])} held-out optima; 95% PI covers "
          f"{_f(np.mean(pooled['cov']), True)} (the PI scalefit predict gives);"
          f" median |ln error| {np.median(pooled['err']):.3f} (keep "
          f"{np.median(pooled['keep']):.3f}, short {np.median(pooled['short']):.3f}); mean loss"
          f" cost {np.nanmean(pooled['cost']):.5f} (keep {np.nanmean(pooled['keep_cost']):.5f})")
    if iso:  # the IsoFLOP optima (N*, not lr*) pooled in too
        t = pd.concat(iso)
        cov = np.r_[pooled["cov"], t["covered"].dropna()]
        err = np.r_[pooled["err"], np.abs(t["ln_error"])]
        print(f"with the IsoFLOP N* rows: {len(err)} held-out optima; 95% PI covers "
              f"{_f(np.mean(cov), True)}; median |ln error| {np.median(err):.3f}")
    print("\nSynthetic truth (the law's form is the truth; groups: independent worlds):\n")
    print("| true law | worlds | held-out | groups beating both | beating keep | beating short"
          " | PI covers | med abs ln err | keep | short | s |")
    print("|" + "---|" * 11)
    for name, law in SYNTHETIC:
        res, dt = _timed(scalefit.backtest, synthetic_table(law, args.worlds), axis="scale",
                         n_boot=args.boot, by=["world"])
        t, scores = res.table(), res.scores()
        s = scores[-1]
        per = [x for x in scores if not x["pooled"]]
        law_s = s["law"]
        print(f"| {name} | {args.worlds} | {len(t)} | "
              f"{sum(1 for x in per if x['beats_keep'] and x['beats_short'])}/{len(per)} | "
              f"{sum(1 for x in per if x['beats_keep'])}/{len(per)} | "
              f"{sum(1 for x in per if x['beats_short'])}/{len(per)} | "
              f"{_f(law_s['coverage'], True)} ({law_s['n_covered']}/{law_s['n_with_pi']}) | "
              f"{_f(law_s['median_abs_ln_error'])} | {_f(s['keep']['median_abs_ln_error'])} | "
              f"{_f(s['short']['median_abs_ln_error'])} | {dt:.1f} |")
    print("\n| joint optima | axis | held-out | lr* PI covers | lr* med abs ln err | keep | short |"
          " bs* PI covers | bs* med abs ln err | keep | short | s |")
    print("|" + "---|" * 12)
    for name, table, axis, opts in JOINT:
        path = table()
        if not path.exists():
            print(f"| {name} | {axis} | skipped: {path} is absent |")
            continue
        res, dt = _timed(scalefit.backtest, path, axis=axis, n_boot=args.boot, **opts)
        s = res.scores()[-1]
        law, b = s["law"], s.get("bs") or {}
        bl = b.get("law") or {}
        print(f"| {name} | {axis} | {len(res.points)} | "
              f"{_f(law['coverage'], True)} ({law['n_covered']}/{law['n_with_pi']}) | "
              f"{_f(law['median_abs_ln_error'])} | {_f(s['keep']['median_abs_ln_error'])} | "
              f"{_f(s['short']['median_abs_ln_error'])} | "
              f"{_f(bl.get('coverage'), True)} ({bl.get('n_covered')}/{bl.get('n_with_pi')}) | "
              f"{_f(bl.get('median_abs_ln_error'))} | "
              f"{_f((b.get('keep') or {}).get('median_abs_ln_error'))} | "
              f"{_f((b.get('short') or {}).get('median_abs_ln_error'))} | {dt:.1f} |")


if __name__ == "__main__":
    main()
