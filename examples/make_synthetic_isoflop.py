"""Generate the bundled SYNTHETIC IsoFLOP example: examples/data/synthetic_isoflop.csv (+ .md).

Every loss is made up by ``scalefit.synthetic.make_isoflop`` from a known Chinchilla law
(Hoffmann et al.'s published fit), so the compute-optimal exponent the analysis finds can
be checked against the truth ``a = beta / (alpha + beta)`` written into the sidecar
``synthetic_isoflop.md``. No model was trained.

    python examples/make_synthetic_isoflop.py      # rewrites examples/data/synthetic_isoflop.*
    scalefit isoflop examples/data/synthetic_isoflop.csv
"""

from __future__ import annotations

from pathlib import Path

from scalefit.synthetic import CHINCHILLA_TRUTH, make_isoflop

OUT = Path(__file__).resolve().parent / "data"
SEED = 20260101
BUDGETS = (1e18, 3e18, 1e19, 3e19, 1e20, 3e20, 1e21)  # FLOPs
N_POINTS = 9  # model sizes per budget
STEP = 0.35  # spacing of the model sizes in ln N (x1.42)
NOISE = 0.005  # s.d. of the loss noise


def make():
    df = make_isoflop(budgets=BUDGETS, n_points=N_POINTS, step=STEP, noise=NOISE, seed=SEED)
    df = df.drop(columns=["seed"])
    df["N"] = df["N"].round().astype("int64")
    df["D"] = (df["flops"] / (6.0 * df["N"])).round().astype("int64")
    df["loss"] = df["loss"].round(5)
    df["N_true"] = df["N_true"].map(lambda v: float(f"{v:.6g}"))
    return df, _sidecar(df)


def _sidecar(df) -> str:
    p = CHINCHILLA_TRUTH
    a = p["beta"] / (p["alpha"] + p["beta"])
    return "\n".join([
        "# synthetic_isoflop.csv: SYNTHETIC data",
        "",
        "Made up by `examples/make_synthetic_isoflop.py` with "
        f"`scalefit.synthetic.make_isoflop` (seed {SEED}); no model was trained. Regenerate "
        "with `python examples/make_synthetic_isoflop.py`.",
        "",
        f"{len(df)} runs: {len(BUDGETS)} FLOP budgets ({BUDGETS[0]:g} to {BUDGETS[-1]:g}) x "
        f"{N_POINTS} model sizes spaced by {STEP:g} in ln N around the true optimum (the grid "
        "shifted by a random fraction of a step). D = C / (6 N) (rounded to whole tokens).",
        "",
        "Each run's loss is the Chinchilla law `E + A N^-alpha + B D^-beta` plus normal noise "
        f"of s.d. {NOISE:g}, with Hoffmann et al.'s published parameters:",
        "",
        "| E | A | B | alpha | beta | a = beta / (alpha + beta) | b = 1 - a |",
        "|---|---|---|---|---|---|---|",
        f"| {p['E']:g} | {p['A']:g} | {p['B']:g} | {p['alpha']:g} | {p['beta']:g} | {a:.4f} | "
        f"{1 - a:.4f} |",
        "",
        "Columns: `flops` (the budget C), `N` (parameters), `D` (tokens), `loss`, `N_true` "
        "(the true optimum of the budget). `scalefit isoflop` finds them with no flags:",
        "",
        "    scalefit isoflop examples/data/synthetic_isoflop.csv",
        "",
    ])


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    df, md = make()
    df.to_csv(OUT / "synthetic_isoflop.csv", index=False)
    (OUT / "synthetic_isoflop.md").write_text(md)
    print(f"wrote {OUT / 'synthetic_isoflop.csv'} ({len(df)} rows) and synthetic_isoflop.md")


if __name__ == "__main__":
    main()
