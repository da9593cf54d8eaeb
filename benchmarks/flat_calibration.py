"""Calibration of the `flat` status (docs/math.md section 1): how often clean quadratic
valleys are called flat, and how often valleys 0.005 deep over 8x of LR (noise 0.003) are.

    python benchmarks/flat_calibration.py

Sweeps of 7 LRs spaced by sqrt 2 (8x) whose loss at the ends of the grid lies `depth`
above the floor, normal noise; 200 sweeps per setting in 20 `by` groups (no bootstrap).
"""

import numpy as np
import pandas as pd

import scalefit


def valleys(depth, noise, n=200, n_lrs=7, step=2**0.5, seeds=1, seed=0, groups=20):
    rng = np.random.default_rng(seed)
    half = (n_lrs - 1) / 2 * np.log(step)
    rows = []
    for i in range(n):
        x_star = np.log(1e-3) + rng.uniform(-0.5, 0.5) * np.log(step)
        x = np.log(1e-3) + (np.arange(n_lrs) - (n_lrs - 1) / 2) * np.log(step)
        xs = np.repeat(x, seeds)
        loss = 4 + depth / half**2 * (xs - x_star) ** 2 + rng.normal(0, noise, xs.size)
        rows.append(pd.DataFrame({"g": i % groups, "scale": 1e6 * (1 + i), "horizon": 1e9,
                                  "lr": np.exp(xs), "loss": loss}))
    return pd.concat(rows, ignore_index=True)


def main() -> None:
    for depth, noise, seeds in [(0.02, 0.003, 1), (0.03, 0.003, 1), (0.05, 0.005, 1),
                                (0.1, 0.005, 1), (0.05, 0.005, 2)]:
        st = scalefit.fit(valleys(depth, noise, seeds=seeds), by="g", n_boot=0,
                          progress=None).optima["status"]
        print(f"clean, depth {depth}, noise {noise}, {seeds} run(s) per LR: "
              f"{(st == 'flat').sum()} flat of {st.isin(['ok', 'flat']).sum()} ok or flat")
    for seeds in (1, 2):
        clear = valleys(0.05, 0.003, n=160, groups=40, seed=1, seeds=seeds)
        shallow = valleys(0.005, 0.003, n=160, groups=40, seed=2, seeds=seeds)
        shallow["scale"] += 1e12
        o = scalefit.fit(pd.concat([clear, shallow]), by="g", n_boot=0, progress=None).optima
        sh = o[o["scale"] > 1e12]["status"]
        cl = o[o["scale"] < 1e12]["status"]
        print(f"0.005-deep valleys beside clear ones, {seeds} run(s) per LR: "
              f"{(sh == 'flat').sum()} flat of {sh.isin(['ok', 'flat']).sum()} ok or flat; "
              f"clear ones flat: {(cl == 'flat').sum()} of {len(cl)}")


if __name__ == "__main__":
    main()
