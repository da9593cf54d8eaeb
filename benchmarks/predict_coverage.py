"""Benchmark: coverage of the laws' intervals on synthetic data with a known truth.

A straight law lr* = C s^-0.3 d^-0.2 with 5% scatter of the sweeps' optima around it
(scalefit.synthetic.make_sweeps; 6 scales, 2 horizons, 2 seeds per LR).

* Prediction: fit the 4 smallest scales, predict every `ok` optimum the full data measure
  at the 2 largest. The coverage of the PI `predict` gives (a new point of the
  least-squares law: rmse over n - k, leverage, Student's t) and of normal noise of s.d.
  rmse_log over n without leverage (what predict added before 2026-12-06) on the same
  draws.
* Exponents: fit all 6 scales; the coverage of the 95% intervals of a and b (and the
  median width of a's) with the scatter of the optima (``--scatter``, default 0.05) and
  without (0).

    python benchmarks/predict_coverage.py [--seeds 20]
"""

from __future__ import annotations

import argparse

import numpy as np

import scalefit
from scalefit.core.bootstrap import percentile_ci
from scalefit.core.decisions import predict
from scalefit.synthetic import TrueLaw, make_sweeps

SCALES = (1e7, 2e7, 4e7, 8e7, 1.6e8, 3.2e8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--scatter", type=float, default=0.05)
    args = ap.parse_args()
    now, before = [], []
    for seed in range(args.seeds):
        df = make_sweeps(scales=SCALES, horizons=(1e9, 4e9), seeds=2, noise=0.004,
                         law=TrueLaw(a=-0.3, b=-0.2), lr_scatter=0.05, seed=seed)
        full = scalefit.fit(df, n_boot=100, seed=seed, progress=None).optima
        law = scalefit.fit(df[df["scale"] <= 8e7], n_boot=200, seed=seed, progress=None).law()
        held = full[(full["scale"] > 8e7) & (full["status"] == "ok")]
        for _, row in held.iterrows():
            p = predict(law, row["scale"], row["horizon"], seed=seed)
            lo, hi = p["lr_pi"]
            now.append(lo <= row["lr_opt"] <= hi)
            old = p["draws_log"] + np.random.default_rng(seed).normal(
                0.0, law.rmse_log, p["draws_log"].shape)
            lo, hi = np.exp(percentile_ci(old, 0.95))
            before.append(lo <= row["lr_opt"] <= hi)
    print(f"{len(now)} held-out optima ({args.seeds} seeds): 95% PI of predict covers "
          f"{np.mean(now):.0%}; rmse_log alone on the same draws {np.mean(before):.0%}")
    for scatter in (args.scatter, 0.0):
        ca, cb, w = [], [], []
        for seed in range(2 * args.seeds):
            df = make_sweeps(scales=SCALES, horizons=(1e9, 4e9), seeds=2, noise=0.004,
                             law=TrueLaw(a=-0.3, b=-0.2), lr_scatter=scatter, seed=seed)
            law = scalefit.fit(df, n_boot=200, seed=seed, progress=None).law()
            (lo, hi), (blo, bhi) = law.ci["a"], law.ci["b"]
            ca.append(lo <= -0.3 <= hi)
            cb.append(blo <= -0.2 <= bhi)
            w.append(hi - lo)
        print(f"exponents, optima scattered by {scatter:g} ({2 * args.seeds} seeds): 95% CI "
              f"covers a in {np.mean(ca):.0%}, b in {np.mean(cb):.0%}; median width of a's "
              f"{np.median(w):.3f}")


if __name__ == "__main__":
    main()
