"""Generate the bundled SYNTHETIC example: examples/data/synthetic_sweeps.csv (+ .md).

Every loss in it is made up by ``scalefit.synthetic.make_sweeps`` from known laws, so
the fitted numbers can be checked against the truth written into the sidecar
``synthetic_sweeps.md``. It stands in for real trainer output until that lands; it is
not a measurement of any model.

    python examples/make_synthetic.py            # rewrites examples/data/synthetic_*
    scalefit fit examples/data/synthetic_sweeps.csv --by parameterization

Three parameterization-like groups differ the way the literature says they do: muP
keeps the optimal LR nearly constant across scale, SP's optimum falls with scale and
its loss valley sharpens (curvature grows with scale), and SP with a width-scaled
embedding LR (``sp_emb``) behaves like muP. Runs far above the optimal LR diverge
(loss left empty, status ``diverged``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scalefit.synthetic import TrueLaw, make_sweeps

OUT = Path(__file__).resolve().parent / "data"
SEED = 20250101
SCALES = (2e7, 6e7, 2e8, 6e8, 2e9)  # parameters
HORIZONS = (2.5e9, 5e9, 1e10, 2e10)  # tokens
N_LRS = 11
LR_STEP = 2.0  # ratio between neighbouring LRs
SEEDS = 2
NOISE = 0.004  # s.d. of the loss noise
DIVERGE_ABOVE = 2.0  # runs more than e^2 = 7.4x above the optimal LR diverge

# lr* = C * scale^a * horizon^b;  curvature k = k0 * (scale / 1e8)^kappa;
# loss* = L_inf + A * scale^alpha_s + B * horizon^alpha_d
GROUPS = {
    "mup": TrueLaw(C=0.9, a=-0.05, b=-0.30, k0=0.05, kappa=0.05,
                   L_inf=1.90, A=40.0, alpha_s=-0.30, B=300.0, alpha_d=-0.30),
    "sp": TrueLaw(C=260.0, a=-0.40, b=-0.30, k0=0.05, kappa=0.25,
                  L_inf=1.95, A=40.0, alpha_s=-0.30, B=300.0, alpha_d=-0.30),
    "sp_emb": TrueLaw(C=1.4, a=-0.08, b=-0.30, k0=0.05, kappa=0.08,
                      L_inf=1.90, A=41.0, alpha_s=-0.30, B=300.0, alpha_d=-0.30),
}


def make() -> tuple[object, str]:
    df = make_sweeps(scales=SCALES, horizons=HORIZONS, n_lrs=N_LRS, lr_step=LR_STEP,
                     seeds=SEEDS, noise=NOISE, groups=GROUPS, group_column="parameterization",
                     diverge_above=DIVERGE_ABOVE, seed=SEED)
    df["status"] = np.where(df["loss"].isna(), "diverged", "ok")
    df = df.rename(columns={"scale": "n_params", "horizon": "tokens"})
    df["lr"] = df["lr"].map(lambda v: float(f"{v:.6g}"))
    df["loss"] = df["loss"].round(5)
    return df, _sidecar(df)


def _sidecar(df) -> str:
    lines = [
        "# synthetic_sweeps.csv: SYNTHETIC data",
        "",
        "Made up by `examples/make_synthetic.py` with `scalefit.synthetic.make_sweeps`"
        f" (seed {SEED}); no model was trained. Regenerate with "
        "`python examples/make_synthetic.py`.",
        "",
        f"{len(df)} runs: 3 parameterizations x {len(SCALES)} scales x {len(HORIZONS)} "
        f"horizons x {N_LRS} LRs (step x{LR_STEP:g}) x {SEEDS} seeds. "
        f"{int(df['loss'].isna().sum())} runs more than e^{DIVERGE_ABOVE:g} above the optimal "
        "LR diverged: empty loss, `status = diverged`.",
        "",
        "Each run's loss is `loss* + k * (ln lr - ln lr*)^2 + noise` (noise s.d. "
        f"{NOISE:g}) with",
        "",
        "* `lr* = C * n_params^a * tokens^b`",
        "* `k = k0 * (n_params / 1e8)^kappa` (curvature of the loss valley in ln lr)",
        "* `loss* = L_inf + A * n_params^alpha_s + B * tokens^alpha_d`",
        "",
        "| parameterization | C | a | b | k0 | kappa | L_inf | A | alpha_s | B | alpha_d |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, t in GROUPS.items():
        lines.append(f"| {name} | {t.C:g} | {t.a:g} | {t.b:g} | {t.k0:g} | {t.kappa:g} | "
                     f"{t.L_inf:g} | {t.A:g} | {t.alpha_s:g} | {t.B:g} | {t.alpha_d:g} |")
    lines += [
        "",
        "Columns: `parameterization`, `n_params` (scale), `tokens` (horizon), `lr`, `loss`,"
        " `seed`, `status`. `scalefit fit` finds them with no flags:",
        "",
        "    scalefit fit examples/data/synthetic_sweeps.csv --by parameterization",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    df, md = make()
    df.to_csv(OUT / "synthetic_sweeps.csv", index=False)
    (OUT / "synthetic_sweeps.md").write_text(md)
    print(f"wrote {OUT / 'synthetic_sweeps.csv'} ({len(df)} rows) and synthetic_sweeps.md")


if __name__ == "__main__":
    main()
