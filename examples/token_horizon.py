"""Check Bjorck et al.'s token-horizon claims on the token-horizon study's table.

    python examples/token_horizon.py examples/data/token_horizon_cpu.csv

Fits every sweep (one per width and horizon), the joint law
lr_opt = C * scale^a * horizon^b and the horizon law at each width, then prints one
verdict per claim (agrees / disagrees / not resolved, with 95% bootstrap intervals) as
a Markdown table, and writes it to OUT/token_horizon.md with the fit's report:

* the optimal LR falls with the horizon (b < 0), jointly and at each width;
* its size: beta = -b of 0.38 to 0.70 for small models (0.32 from 760M up);
* the transfer rule: fitted on the shorter horizons, the law predicts the longest
  horizon's optimum better than keeping the LR tuned at the second-longest one (agrees
  when the law's whole 95% interval of error is smaller than keeping's error, disagrees
  when it is wholly larger, otherwise not resolved), with the loss cost of each
  (curvature x error^2);
* under muP, at a fixed horizon, the optimum does not move with width (a = 0).

``--min-tokens N`` repeats all of it on the horizons of at least N tokens only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

import scalefit
from scalefit.render.format import fmt, fmt_ci

PAPER_BETA = (0.38, 0.70)  # small models in Bjorck et al.


def verdict(holds: bool | None) -> str:
    return {True: "agrees", False: "disagrees", None: "not resolved"}[holds]


def below_zero(ci) -> bool | None:
    if not ci or None in ci:
        return None
    return True if ci[1] < 0 else False if ci[0] > 0 else None


def horizon_law(res, scale: float):
    """The law of lr_opt in horizon at one scale (a conditional law), or None."""
    for law in res.laws:
        if (law.target == "lr_opt" and law.variables == ("horizon",)
                and np.isclose(law.group.get("scale", np.nan), scale)):
            return law
    return None


def transfer_rows(table: pd.DataFrame, res, boot: int) -> list[str]:
    """Fit on every horizon but the longest, predict the longest, per width."""
    d_max = table["tokens"].max()
    # keep_draws: the prediction's interval reads the conditional law's draws
    short = scalefit.fit(table[table["tokens"] < d_max], n_boot=boot, progress=None,
                         keep_draws=True)
    opt = res.optima.set_index(["scale", "horizon"])
    rows = []
    for s in sorted(table["n_params"].unique()):
        law = horizon_law(short, s)
        if law is None or (s, d_max) not in opt.index:
            continue
        o = opt.loc[(s, d_max)]
        if o["status"] != "ok":
            continue
        pred, draws = law.predict_log({"horizon": d_max})
        err = pred - np.log(o["lr_opt"])
        d_prev = sorted(h for h in table["tokens"].unique() if h < d_max)[-1]
        keep = np.log(opt.loc[(s, d_prev), "lr_opt"]) - np.log(o["lr_opt"])
        k = o["curvature"]
        ci = (None if draws is None else
              list(np.percentile(draws[np.isfinite(draws)] - np.log(o["lr_opt"]), [2.5, 97.5])))
        # agrees when the law's whole interval is closer than keeping the LR, disagrees when
        # it is wholly farther, otherwise not resolved (both errors within the noise)
        lo, hi = (err, err) if ci is None else ci
        better = (True if -abs(keep) < lo and hi < abs(keep) else
                  False if lo > abs(keep) or hi < -abs(keep) else None)
        width = int(table.loc[table["n_params"] == s, "width"].iloc[0])
        rows.append(f"| transfer rule at width {width}"
                    f" (fit on horizons < {d_max:.3g}) | {verdict(better)} | error in ln lr "
                    f"{fmt(err)} {fmt_ci(ci)}, loss cost {fmt(k * err**2)}; keeping the LR of "
                    f"{d_prev:.3g} tokens: error {fmt(keep)}, cost {fmt(k * keep**2)} |")
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path, help="the token-horizon table")
    ap.add_argument("--out", type=Path, default=Path("out/token_horizon"))
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--min-tokens", type=float, default=0,
                    help="use only horizons of at least this many tokens, e.g. 1048576 for "
                    "the long-horizon end of the study")
    args = ap.parse_args(argv)
    table = pd.read_csv(args.runs)
    table = table[table["tokens"] >= args.min_tokens].reset_index(drop=True)
    res = scalefit.fit(table, n_boot=args.boot, progress=None)
    joint = res.law("lr_opt")
    rows = []
    if joint is not None and "horizon" in joint.variables:
        ci = joint.conf_int()
        b, b_ci = joint.params["b"], ci["b"]
        rows.append(("the optimal LR falls with the horizon (all widths, joint law)",
                     verdict(below_zero(b_ci)), f"b = {fmt(b)} {fmt_ci(b_ci)}"))
        beta_ci = [-b_ci[1], -b_ci[0]]
        inside = (True if PAPER_BETA[0] <= beta_ci[0] and beta_ci[1] <= PAPER_BETA[1] else
                  False if beta_ci[1] < PAPER_BETA[0] or beta_ci[0] > PAPER_BETA[1] else None)
        rows.append((f"beta = -b lies in {PAPER_BETA[0]}-{PAPER_BETA[1]} (small models)",
                     verdict(inside), f"beta = {fmt(-b)} {fmt_ci(beta_ci)}"))
        if "scale" in joint.variables:
            a, a_ci = joint.params["a"], ci["a"]
            flat = None if None in a_ci else a_ci[0] <= 0 <= a_ci[1]
            rows.append(("under muP the optimum does not move with width at a fixed horizon",
                         verdict(flat if flat else None if flat is None else False),
                         f"a = {fmt(a)} {fmt_ci(a_ci)} per parameter"))
    for s in sorted(table["n_params"].unique()):
        law = horizon_law(res, s)
        if law is None:
            continue
        w = int(table.loc[table["n_params"] == s, "width"].iloc[0])
        b_ci = law.conf_int()["b"]
        rows.append((f"the optimal LR falls with the horizon at width {w}",
                     verdict(below_zero(b_ci)), f"b = {fmt(law.params['b'])} {fmt_ci(b_ci)}"))
    only = f" (horizons >= {args.min_tokens:.0f} tokens)" if args.min_tokens else ""
    lines = [f"# Token-horizon study: {args.runs}{only}", "",
             f"{res.input['rows']} runs, {len(res.optima)} sweeps "
             f"({(res.optima['status'] == 'ok').sum()} ok); 95% bootstrap intervals, "
             f"{args.boot} resamples.", "",
             "| claim | this data | numbers |", "|---|---|---|"]
    lines += [f"| {c} | {v} | {n} |" for c, v, n in rows]
    lines += transfer_rows(table, res, args.boot)
    args.out.mkdir(parents=True, exist_ok=True)
    cmd = f"python examples/token_horizon.py {args.runs}" + (
        f" --min-tokens {args.min_tokens:.0f}" if args.min_tokens else "")
    res.report(args.out, command=cmd)
    (args.out / "token_horizon.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
