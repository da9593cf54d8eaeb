"""The Multi-Power Law's published split, through ``scalefit.fit_curves``.

Reads ``../shared/datasets/multipowerlaw/csv_{25,100,400}/`` (Luo et al. 2025, "A
Multi-Power Law for Loss Curve Prediction Across Learning Rate Schedules", arXiv:2503.12811;
see that folder's SOURCE.md) when present, or ``--data DIR``.

    python examples/curves_mpl.py [--data DIR] [--boot 200] [--sizes 25 100 400] [--json PATH]

Per model size: fit the law on the authors' three training curves (cosine_24000,
constant_24000, wsdcon_9), predict their six test curves at every logged step, and score
the predictions as the authors do (per test curve: R^2, RMSE, mean and worst relative
error, then the mean over the six curves), plus the share of test points inside the 95%
band for an observed loss. Schedules are rebuilt from the file names as the authors'
code does; logged steps >= 24000 of the 24000-step files are dropped, as they drop them.
The row "published" evaluates the authors' own parameters with scalefit's evaluation of
the law (it reproduces their numbers); "mpl" and "tissue" are scalefit's fits.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import scalefit
from scalefit.core.curve_data import curve_data
from scalefit.core.curve_fit import predict_draws
from scalefit.core.curve_laws import MPL
from scalefit.core.schedules import build_schedule
from scalefit.curves import curve_metrics
from scalefit.schedule_spec import parse_schedule

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "multipowerlaw"
TRAIN = ["cosine_24000", "constant_24000", "wsdcon_9"]
TEST = ["constant_72000", "cosine_72000", "wsd_20000_24000", "wsdld_20000_24000", "wsdcon_3",
        "wsdcon_18"]
PAPER = {"25": {"r2": 0.9988, "rmse": 0.00465, "mean_rel_error": 0.00110,
                "worst_rel_error": 0.00409},
         "100": {"r2": 0.9983, "rmse": 0.00592, "mean_rel_error": 0.00142,
                 "worst_rel_error": 0.00583},
         "400": {"r2": 0.9978, "rmse": 0.00730, "mean_rel_error": 0.00168,
                 "worst_rel_error": 0.00995}}
PUBLISHED = {"25": [3.04045406, 0.52468604, 0.50786857, 363.78751622, 2.06560812, 0.58279013,
                    0.64142257],
             "100": [2.6514477, 0.60115152, 0.45295811, 437.9464276, 2.13245612, 0.59785199,
                     0.65523644],
             "400": [2.37474466, 0.65421216, 0.42878731, 523.42464371, 2.02462735, 0.59350493,
                     0.63472457]}
W, PEAK, END = 2160, 3e-4, 3e-5


def schedule(name: str) -> str:
    """The schedule description of a file name (SOURCE.md's table)."""
    kind, *rest = name.split("_")
    base = f"total={{}},warmup={W},peak={PEAK}"
    if kind == "cosine":
        return f"cosine:{base.format(rest[0])},end={END}"
    if kind == "constant":
        return f"constant:{base.format(rest[0])}"
    if kind == "wsdcon":
        return f"piecewise:{base.format(16000)},pieces=8000@{int(rest[0]) * 1e-5:g}"
    decay = "linear" if kind == "wsdld" else "exp"
    return f"wsd:{base.format(24000)},end={END},decay_start=20000,decay={decay}"


def read(folder: Path, names) -> pd.DataFrame:
    frames = []
    for n in names:
        df = pd.read_csv(folder / f"{n}.csv")
        if df["step"].max() == 24000:  # the authors drop steps >= 24000 of these files
            df = df[df["step"] < 24000]
        frames.append(df.assign(run=n))
    return pd.concat(frames, ignore_index=True)


def score(test: pd.DataFrame, pred: np.ndarray, lo=None, hi=None) -> dict:
    """Per-curve metrics averaged over the test curves (the authors' way), and coverage."""
    rows = []
    for n in TEST:
        sel = (test["run"] == n).to_numpy()
        rows.append(curve_metrics(test["loss"].to_numpy()[sel], pred[sel]))
    out = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    out["worst_rel_error_max"] = float(max(r["worst_rel_error"] for r in rows))
    out["per_curve"] = dict(zip(TEST, rows))
    if lo is not None:
        y = test["loss"].to_numpy()
        inside = (y >= lo) & (y <= hi)
        out["band_coverage"] = float(inside.mean())
        out["band_coverage_per_curve"] = {
            n: float(inside[(test["run"] == n).to_numpy()].mean()) for n in TEST}
    return out


def run_size(folder: Path, size: str, n_boot: int, seed: int) -> dict:
    train, test = read(folder, TRAIN), read(folder, TEST)
    out = {}
    law = MPL()
    data = curve_data([build_schedule(parse_schedule(schedule(n))) for n in TEST],
        [test.loc[test["run"] == n, "step"].to_numpy() for n in TEST])
    pub = predict_draws(law, law.to_theta(np.array(PUBLISHED[size]))[None], data)[0]
    out["published"] = score(test, pub)
    for name in ("mpl", "tissue"):
        fit = scalefit.fit_curves(train, schedules={n: schedule(n) for n in TRAIN}, law=name,
                                  n_boot=n_boot, seed=seed, progress=None)
        pred, lo, hi = [], [], []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", scalefit.ExtrapolationWarning)
            for n in TEST:
                p = fit.predict(schedule(n), steps=test.loc[test["run"] == n, "step"])
                pred.append(p.values["loss"])
                lo.append(p.values.get("lo", p.values["loss"]))
                hi.append(p.values.get("hi", p.values["loss"]))
        out[name] = score(test, np.concatenate(pred), np.concatenate(lo), np.concatenate(hi))
        out[name]["params"] = fit.params["all"]
        out[name]["bootstrap"] = fit.groups[0]["plan"]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--boot", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sizes", nargs="+", default=["25", "100", "400"])
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    if not (args.data / "csv_25").is_dir():
        print(f"skipped: the Multi-Power Law curves are not at {args.data} (see "
              "../shared/datasets/multipowerlaw/SOURCE.md; or pass --data DIR)")
        return 0
    results = {s: run_size(args.data / f"csv_{s}", s, args.boot, args.seed) for s in args.sizes}
    print("Multi-Power Law split: fit cosine_24000, constant_24000, wsdcon_9; predict the "
          "other six.\nMetrics per test curve, averaged over the six (as the authors); "
          "cover = share of test points in the 95% band for an observed loss.\n")
    print(f"{'size':>5} {'who':<10} {'R2':>8} {'RMSE':>8} {'PredE':>8} {'WorstE':>8} "
          f"{'cover':>6}")
    for s, res in results.items():
        rows = [("paper", PAPER[s])] + [(k, res[k]) for k in ("published", "mpl", "tissue")]
        for who, m in rows:
            cov = f"{m['band_coverage']:6.1%}" if "band_coverage" in m else f"{'':>6}"
            print(f"{s + 'M':>5} {who:<10} {m['r2']:8.5f} {m['rmse']:8.5f} "
                  f"{m['mean_rel_error']:8.5f} {m['worst_rel_error']:8.5f} {cov}")
    print("\npaper: the authors' README; published: their parameters evaluated by scalefit; "
          "mpl, tissue: scalefit's fits (Huber 1e-3 in ln L, grid + LM + L-BFGS-B).")
    if args.json:
        keys = ("r2", "rmse", "mean_rel_error", "worst_rel_error", "band_coverage")
        out = {s: {**{k: res["mpl"][k] for k in keys}, "detail": res}
               for s, res in results.items()}
        Path(args.json).write_text(json.dumps(out, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
