"""Reproduce the LR-vs-token-horizon analysis (Bjorck et al. 2025) on a sweep table.

Fits every sweep's optimal LR, the horizon law at each width, the joint law
lr_opt = C * scale^a * horizon^b, and writes figures plus a short markdown that compares
the fitted horizon exponent with the paper's qualitative finding (longer horizons want
smaller LRs; beta = -b about 0.3 to 0.7 for small models).

    python examples/token_horizon.py RUNS.csv [--by COL] --out out/token_horizon
"""

from __future__ import annotations

import argparse
from pathlib import Path

import scalefit
from scalefit.render.format import fmt, fmt_ci


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", help="results table (e.g. from reference-trainer sweep)")
    ap.add_argument("--out", default="out/token_horizon", help="folder for figures and markdown")
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--by", nargs="*", default=[], help="group columns (e.g. parameterization)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    res = scalefit.fit(args.runs, by=args.by, n_boot=args.boot, seed=0)
    res.report(out, command=f"python examples/token_horizon.py {args.runs}")
    lines = [f"# Token-horizon study: {args.runs}", "",
             f"{res.input['rows']} runs, {len(res.optima)} sweeps "
             f"({(res.optima['status'] == 'ok').sum()} ok). Intervals: 95% bootstrap, "
             f"{args.boot} resamples.", "", "| law | exponents |", "|---|---|"]
    for law in res.laws:
        if law.target != "lr_opt":
            continue
        where = ", ".join(f"{k} = {fmt(v) if isinstance(v, float) else v}"
                          for k, v in law.group.items()) or "all"
        exps = "; ".join(f"{n} = {fmt(law.params[n])} {fmt_ci(law.ci[n])}"
                         for n in law.param_names[1:])
        lines.append(f"| {law.form} ({where}) | {exps} |")
    for law in res.laws:
        if not (law.primary and law.target == "lr_opt" and "horizon" in law.variables):
            continue
        b, (lo, hi) = law.params["b"], law.ci["b"] or (float("nan"), float("nan"))
        verdict = ("supports" if hi < 0 else "contradicts" if lo > 0 else "cannot resolve")
        who = ", ".join(f"{k} = {v}" for k, v in law.group.items()) or "all runs"
        lines += ["", f"{who}: horizon exponent b = {fmt(b)} [{fmt(lo)}, {fmt(hi)}] "
                  f"(Bjorck et al.'s beta = {fmt(-b)}); the data {verdict} the finding that "
                  "longer horizons want smaller LRs."]
    (out / "token_horizon.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
