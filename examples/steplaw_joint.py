"""Step Law's dense LR x batch-size grid through ``scalefit.fit(..., joint="bs")``: the joint
laws of lr* and bs*, and the horizon exponent of lr* at a fixed batch size and along the
optimal batch size, side by side, next to Step Law's published laws and its own protocol.

Reads ``../shared/datasets/steplaw/dense_lr_bs_loss.csv`` ("Predictable Scale: Part I",
Li et al. 2025; see that folder's SOURCE.md: 17 (N, D) settings x 12 LRs x 10 batch sizes,
1,911 runs; ``bs`` in sequences of 2,048 tokens) when it is present, or ``--data``. The
file is never copied into this project.

    python examples/steplaw_joint.py [--data dense_lr_bs_loss.csv] [--boot 1000]
                                     [--loss "smooth loss"] [--figures DIR]

Published (their Eq. 1-2, batch size in tokens):  lr* = 1.79 N^-0.713 D^0.307,
B* = 0.58 D^0.571. "Protocol" re-runs Step Law's own procedure on the released rows: every
run whose loss is within 0.25% of its (N, D) minimum is a point, ln lr and ln B on ln N and
ln D by ordinary least squares (point estimates; no interval here).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import scalefit

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "steplaw" / "dense_lr_bs_loss.csv"
SEQ_LEN = 2048  # tokens per sequence: Step Law's bs counts sequences
PUBLISHED = {"lr": "1.79 * N^-0.713 * D^0.307", "bs_tokens": "0.58 * D^0.571"}


def protocol(df: pd.DataFrame, loss: str, threshold: float = 0.0025) -> dict:
    """Step Law's protocol: the runs within ``threshold`` of each (N, D) minimum, OLS of
    ln lr and ln B (tokens) on [1, ln N, ln D], and of ln B on [1, ln D] alone."""
    best = df.groupby(["N", "D"])[loss].transform("min")
    near = df[(df[loss] / best - 1).abs() < threshold]
    X = np.column_stack([np.ones(len(near)), np.log(near["N"]), np.log(near["D"])])
    lr = np.linalg.lstsq(X, np.log(near["lr"]), rcond=None)[0]
    bs = np.linalg.lstsq(X, np.log(near["bs"] * SEQ_LEN), rcond=None)[0]
    bs_d = np.polyfit(np.log(near["D"]), np.log(near["bs"] * SEQ_LEN), 1)
    return {"n": len(near), "lr": lr, "bs": bs, "bs_d": bs_d}


def _ci(pair) -> str:
    return "" if pair is None or None in pair else f" [{pair[0]:.3f}, {pair[1]:.3f}]"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA, help="dense_lr_bs_loss.csv")
    ap.add_argument("--boot", type=int, default=1000, help="bootstrap resamples")
    ap.add_argument("--loss", default="smooth loss", help="loss column (default: smooth loss)")
    ap.add_argument("--figures", type=Path, help="write the joint figure (PNG) here")
    args = ap.parse_args(argv)
    if not args.data.exists():
        print(f"{args.data}: not found; give --data dense_lr_bs_loss.csv (Step Law's data/ "
              "folder)", file=sys.stderr)
        return 2
    df = pd.read_csv(args.data)
    fit = scalefit.fit(df, scale="N", horizon="D", loss=args.loss, joint="bs",
                       n_boot=args.boot, progress=None, source=str(args.data))
    j = fit.joint
    n_ok = int((j.optima["status"] == "ok").sum())
    print(f"Step Law dense grid: {len(df)} runs, {len(j.optima)} (N, D) settings ({n_ok} ok "
          f"joint optima), loss column {args.loss!r}, {args.boot} resamples\n")

    lr, bs = j.law("lr_opt"), j.law("bs_opt")
    c_tok = bs.params["C"] * SEQ_LEN
    p = protocol(df, args.loss)
    print("Joint laws (scalefit: quadratic surface per setting; 95% CI)")
    print(f"  lr* = {lr.params['C']:.3g} * N^{lr.params['a']:.3f}{_ci(lr.ci['a'])} * "
          f"D^{lr.params['b']:.3f}{_ci(lr.ci['b'])}")
    print(f"  B*  = {c_tok:.3g} * N^{bs.params['a']:.3f}{_ci(bs.ci['a'])} * "
          f"D^{bs.params['b']:.3f}{_ci(bs.ci['b'])}   (tokens = bs x {SEQ_LEN})")
    print(f"Step Law, published:        lr* = {PUBLISHED['lr']},  B* = {PUBLISHED['bs_tokens']}")
    print(f"Step Law protocol (0.25%, {p['n']} runs, OLS):  lr* = {np.exp(p['lr'][0]):.3g} * "
          f"N^{p['lr'][1]:.3f} * D^{p['lr'][2]:.3f};  B* = {np.exp(p['bs'][0]):.3g} * "
          f"N^{p['bs'][1]:.3f} * D^{p['bs'][2]:.3f}  (D only: {np.exp(p['bs_d'][1]):.3g} * "
          f"D^{p['bs_d'][0]:.3f})\n")

    print("Horizon exponent of lr* (D^b): at a fixed batch size vs along the optimal one")
    for e in j.exponents:
        if e["variable"] != "horizon":
            continue
        print(f"  at a fixed batch size (lr* = C N^a D^b bs^c, 1-D optima of every bs): "
              f"b = {e['fixed_bs']:+.3f}{_ci(e['fixed_bs_ci'])}, c = {e['c']:.3f}"
              f"{_ci(e['c_ci'])}")
        print(f"  along the optimal batch size (b + c * b_bs, b_bs = {e['bs_law']:.3f}):  "
              f"{e['along']:+.3f}{_ci(e['along_ci'])}")
        print(f"  the joint optima's lr law directly:  {e['joint']:+.3f}{_ci(e['joint_ci'])}")
    per_bs = [law for law in fit.laws if law.primary and law.target == "lr_opt"
              and "b" in law.params]
    if per_bs:
        print("\n  per batch size on its own (--by bs): b = "
              + ", ".join(f"{law.group['bs']}: {law.params['b']:+.2f}" for law in per_bs))
    print("\n(Bjorck et al. fix the batch size: lr* falls with D at small fixed batch sizes; "
          "Step Law re-optimizes it: lr* rises with D because bs* does and lr* rises with bs. "
          "docs/math.md section 10.)")
    if args.figures:
        args.figures.mkdir(parents=True, exist_ok=True)
        figs = fit.plot(["joint"])
        for name, f in figs.items():
            f.savefig(args.figures / f"{name}.png", dpi=110)
            print(f"wrote {args.figures / (name + '.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
