"""A worked audit in the spirit of Bjorck et al.'s LLaMA-1 question.

Was LR 3e-4 right for a 7B model trained on 1T tokens? We fit the StepLaw dense sweeps
(Li et al. 2025: 214M-1.07B parameters, 4B-100B tokens, 12 LRs per sweep) at one batch
size, predict the optimum at (7e9, 1e12) and the loss penalty of 3e-4 there.

    python examples/llama_audit.py [--data ../shared/datasets/steplaw/dense_lr_bs_loss.csv]
                                   [--bs 1024] [--boot 1000]

The data is public but not bundled (see ../shared/datasets/README.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

import scalefit
from scalefit.render.format import fmt, fmt_ci

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
DEFAULT = DATASETS / "steplaw" / "dense_lr_bs_loss.csv"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT))
    ap.add_argument("--bs", type=int, default=1024, help="batch size in sequences of 2048 tokens")
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--scale", type=float, default=7e9)
    ap.add_argument("--horizon", type=float, default=1e12)
    args = ap.parse_args()
    df = pd.read_csv(args.data)
    df = df[df["bs"] == args.bs]
    r = scalefit.fit(df, n_boot=args.boot, seed=0)
    law = r.law()
    print(f"StepLaw dense, batch {args.bs} x 2048 tokens: {len(df)} runs, "
          f"{(r.optima['status'] == 'ok').sum()} of {len(r.optima)} sweeps ok")
    print(f"law: {law.form}")
    for name in law.param_names:
        print(f"  {name} = {fmt(law.params[name])} {fmt_ci(law.ci[name])}")
    print(f"  R2_log {fmt(law.r2_log)}, RMSE_log {fmt(law.rmse_log)}, n = {law.n_points}")
    k = r.law("curvature")
    print(f"curvature law: a = {fmt(k.params['a'])} {fmt_ci(k.ci['a'])}, "
          f"b = {fmt(k.params['b'])} {fmt_ci(k.ci['b'])}")
    a = r.audit(args.lr, scale=args.scale, horizon=args.horizon)
    print(f"\naudit: lr {args.lr:g} at scale {args.scale:g}, horizon {args.horizon:g}")
    print(f"  predicted optimum {fmt(a['lr'])}, CI of the law {fmt_ci(a['lr_ci'])}, "
          f"prediction interval {fmt_ci(a['lr_pi'])}")
    print(f"  lr used / predicted = {fmt(a['ratio'])}")
    print(f"  curvature there {fmt(a['curvature'])} {fmt_ci(a['curvature_ci'])} per (ln lr)^2")
    print(f"  expected loss penalty {fmt(a['penalty'])} {fmt_ci(a['penalty_ci'])}")
    print(f"  penalty of the predicted LR itself, given its uncertainty: "
          f"{fmt(a['expected_penalty_at_optimum'])}")
    for e in a["extrapolation"]:
        print(f"  extrapolation: {e}")


if __name__ == "__main__":
    main()
