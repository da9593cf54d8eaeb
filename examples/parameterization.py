"""Reproduce the parameterization comparison (Kalra & Barkeshli 2026) on a sweep table.

Fits every sweep, the transfer measures E, kappa and R_inf per parameterization against a
reference, writes figures and a short markdown that checks the papers' qualitative
findings: SP's optimal LR falls with width while muP's stays; SP with the width-scaled
embedding LR (sp_emb) closes most of the gap to muP.

    python examples/parameterization.py RUNS.csv [--by parameterization] [--reference mup]

A table with several weight-decay values (column weight_decay) is studied once per value,
each against its own reference (figures in OUT/wd<value>/).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import scalefit
from scalefit.render.format import fmt, fmt_ci
from scalefit.table import read_table


def finding(name: str, holds: bool | None, detail: str) -> str:
    mark = {True: "agrees", False: "disagrees", None: "not resolved"}[holds]
    return f"| {name} | {mark} | {detail} |"


def study(runs, args, out: Path, title: str) -> list[str]:
    """Fit one table (a path or a DataFrame), write its report into `out`, and return the
    markdown lines: the transfer table and the papers' findings checked against it."""
    res = scalefit.fit(runs, by=[args.by], reference=args.reference, n_boot=args.boot)
    out.mkdir(parents=True, exist_ok=True)
    res.report(out, command=f"python examples/parameterization.py {args.runs}")
    tq = {g["group"][args.by]: g for g in res.quality.groups}
    lines = [f"# {title}", "",
             f"{res.input['rows']} runs, {len(res.optima)} sweeps; reference "
             f"{res.quality.reference}; 95% bootstrap intervals ({args.boot} resamples).", "",
             "```", *res.quality.summary_lines(), "```", "",
             "| finding | this data | numbers |", "|---|---|---|"]

    def exponent(label):
        g = tq.get(label)
        return (None, None) if g is None else (g["lr_exponent"], g["lr_exponent_ci"])

    a_sp, ci_sp = exponent("sp")
    a_mup, ci_mup = exponent("mup")
    if ci_sp is not None:  # agrees when the whole interval is below 0
        verdict = True if ci_sp[1] < 0 else False if ci_sp[0] > 0 else None
        lines.append(finding("SP's optimal LR falls with scale", verdict,
                             f"a_sp = {fmt(a_sp)} {fmt_ci(ci_sp)}"))
    if ci_sp is not None and ci_mup is not None:  # |a| smaller for muP, intervals apart
        def dist(ci):  # the closest and farthest |a| inside an interval
            near = 0.0 if ci[0] <= 0 <= ci[1] else min(abs(ci[0]), abs(ci[1]))
            return near, max(abs(ci[0]), abs(ci[1]))

        (mup_near, mup_far), (sp_near, sp_far) = dist(ci_mup), dist(ci_sp)
        verdict = True if mup_far < sp_near else False if mup_near > sp_far else None
        lines.append(finding("muP's optimal LR is flatter in scale than SP's", verdict,
                             f"a_mup = {fmt(a_mup)} {fmt_ci(ci_mup)}"))
    sp = tq.get("sp", {})
    gap = None  # does SP's optimal loss sit above the reference's at the largest scale?
    if sp.get("R_largest_ci") is not None and args.reference == "mup":
        lo, hi = sp["R_largest_ci"]
        gap = True if lo > 0 else False if hi < 0 else None
        lines.append(finding("muP reaches a lower loss than SP", gap,
                             f"SP's loss / muP's - 1 at the largest scale: "
                             f"{fmt(sp['R_largest'])} {fmt_ci(sp['R_largest_ci'])}"))
    if "sp_emb" in tq and sp.get("R_largest") is not None:
        r_sp, r_emb = sp["R_largest"], tq["sp_emb"]["R_largest"]
        if gap:
            closes = r_emb is not None and abs(r_emb) < 0.5 * abs(r_sp)
            detail = f"loss ratio - 1 at the largest scale: sp {fmt(r_sp)}, sp_emb {fmt(r_emb)}"
        else:  # no gap to close: the finding cannot be tested on this data
            closes = None
            detail = (f"no gap to close (previous row); loss ratio - 1 at the largest scale: "
                      f"sp {fmt(r_sp)}, sp_emb {fmt(r_emb)}")
        lines.append(finding("sp_emb closes most of SP's loss gap to muP", closes or None,
                             detail))
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs")
    ap.add_argument("--by", default="parameterization")
    ap.add_argument("--reference", default="mup")
    ap.add_argument("--out", default="out/parameterization")
    ap.add_argument("--boot", type=int, default=1000)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = read_table(args.runs)
    wds = sorted(table["weight_decay"].dropna().unique()) if "weight_decay" in table else []
    if len(wds) > 1:  # one study per weight decay, each against its own reference
        lines = []
        for wd in wds:
            lines += study(table[table["weight_decay"] == wd], args, out / f"wd{wd:g}",
                           f"Parameterization study: {args.runs}, weight decay {wd:g}") + [""]
    else:
        lines = study(args.runs, args, out, f"Parameterization study: {args.runs}")
    (out / "parameterization.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
