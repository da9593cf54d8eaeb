"""Judge the pre-registered claims of the horizon x batch-size study (Bjorck et al.).

    python examples/horizon_batch.py examples/data/horizon_batch_cpu.csv

The claims, their tests, margins and data cuts were written down before the runs in
examples/data/horizon_batch_cpu.md; this script applies exactly those rules:

* H1 / H1w: at a fixed batch (8 sequences) the optimal LR falls with the horizon:
  the 95% interval of b in ``lr* = C width^a D^b`` (jointly, then per width) wholly < 0;
* H2: beta = -b against Bjorck et al.'s 0.38-0.70 (consistent when the interval meets
  the band and lies within the band +-0.15, inconsistent when it misses the band);
* H3: per width, the horizon law fitted on 2^20-2^23 predicts the 2^24 optimum better
  than keeping the LR tuned at 2^23 (the law's whole interval of error inside +-keep's);
* H4: the fixed-batch horizon exponent rises with the batch: b(64) - b(8) > 0 on
  2^20-2^23 (difference of the two groups' bootstrap draws; their sweeps are disjoint);
* M1: bs*(D) from the joint (lr, bs) fit, bs / bs*(D) per fixed batch, and the horizon
  exponent of lr* at a fixed batch and along bs*(D) (a measurement, no verdict);
* S1 (secondary): muP keeps lr* flat in width, as an equivalence test: the interval of a
  (exponent in width) inside +-0.2.

Each verdict is given at 95% and at the Bonferroni level for the seven judged verdicts
(99.3%); "consistent" / "inconsistent" / "not resolved" at this scale, never more.
Prints a Markdown table; ``--json PATH`` writes the verdicts and numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import scalefit
from scalefit.core.bootstrap import percentile_ci
from scalefit.render.format import fmt, fmt_ci

PAPER_BETA = (0.38, 0.70)  # Bjorck et al., small models
BETA_MARGIN = 0.15
FLAT_MARGIN = 0.2          # S1: abs(a) < 0.2 (a: exponent of lr* in width)
BASE_BS = 8                # part A's batch (sequences)
LONG = 2**24               # part A's longest horizon (H3 predicts it)
N_JUDGED = 7               # H1, H1w x 2, H2, H3 x 2, H4
LEVELS = (0.95, 1 - 0.05 / N_JUDGED)


def sign_verdict(ci, negative: bool = True) -> str:
    """'consistent' when ci lies wholly on the claimed side of 0, 'inconsistent' when
    wholly on the other, else 'not resolved'."""
    if ci is None or None in ci or not all(map(math.isfinite, ci)):
        return "not resolved"
    lo, hi = ci
    if (hi < 0) if negative else (lo > 0):
        return "consistent"
    if (lo > 0) if negative else (hi < 0):
        return "inconsistent"
    return "not resolved"


def band_verdict(ci, band=PAPER_BETA, margin=BETA_MARGIN) -> str:
    """Consistent when ci meets the band and lies within band +- margin; inconsistent
    when it misses the band; else not resolved (too wide to say)."""
    if ci is None or None in ci:
        return "not resolved"
    lo, hi = ci
    if hi < band[0] or lo > band[1]:
        return "inconsistent"
    if lo >= band[0] - margin and hi <= band[1] + margin:
        return "consistent"
    return "not resolved"


def equivalence_verdict(ci, margin=FLAT_MARGIN) -> str:
    """Consistent when ci lies inside (-margin, margin); inconsistent when it lies wholly
    outside; else not resolved (an interval that merely contains 0 is not flatness)."""
    if ci is None or None in ci:
        return "not resolved"
    lo, hi = ci
    if -margin < lo and hi < margin:
        return "consistent"
    if lo >= margin or hi <= -margin:
        return "inconsistent"
    return "not resolved"


def draws_of(law, name: str) -> np.ndarray | None:
    """The bootstrap draws (B,) of one parameter of a law, or None."""
    if law is None or law.boot is None or name not in law.param_names:
        return None
    return np.asarray(law.boot[:, law.param_names.index(name)], float)


def ci_of(draws: np.ndarray | None, level: float):
    if draws is None:
        return None
    d = draws[np.isfinite(draws)]
    if len(d) < 10:
        return None
    lo, hi = percentile_ci(d, level)
    return (float(lo), float(hi))


def horizon_law(res, width: float):
    """The conditional law of lr_opt in horizon at one width, or None."""
    for law in res.laws:
        if (law.target == "lr_opt" and law.variables == ("horizon",)
                and np.isclose(law.group.get("scale", np.nan), width)):
            return law
    return None


def primary_law(res, group: dict | None = None):
    for law in res.laws:
        if (law.target == "lr_opt" and law.primary
                and all(law.group.get(k) == v for k, v in (group or {}).items())):
            return law
    return None


def claim(key, text, data, verdicts, numbers) -> dict:
    return {"claim": key, "text": text, "data": data, "verdict": verdicts, "numbers": numbers}


def judge(table: pd.DataFrame, boot: int = 1000, seed: int = 0) -> list[dict]:
    """Every pre-registered claim's verdicts (per level) and numbers."""
    # keep_draws: the claims read the conditional laws' draws (H1 per width, H3)
    fit = dict(scale="width", horizon="tokens", n_boot=boot, seed=seed, progress=None,
               keep_draws=True)
    a_rows = table[table["batch_size"] == BASE_BS]
    out = []
    res_a = scalefit.fit(a_rows, **fit)
    joint = primary_law(res_a)
    b_draws, a_draws = draws_of(joint, "b"), draws_of(joint, "a")
    b = None if joint is None else joint.params.get("b")
    cis = {lvl: ci_of(b_draws, lvl) for lvl in LEVELS}
    out.append(claim("H1", "at a fixed batch the optimal LR falls with the horizon",
                     f"bs {BASE_BS}, all horizons, both widths",
                     {lvl: sign_verdict(ci) for lvl, ci in cis.items()},
                     f"b = {fmt(b)} {fmt_ci(cis[0.95])}"))
    widths = sorted(a_rows["width"].unique())
    for w in widths:
        law = horizon_law(res_a, w)
        d = draws_of(law, "b")
        wcis = {lvl: ci_of(d, lvl) for lvl in LEVELS}
        out.append(claim(f"H1w{int(w)}", f"the same at width {int(w)}",
                         f"bs {BASE_BS}, width {int(w)}",
                         {lvl: sign_verdict(ci) for lvl, ci in wcis.items()},
                         f"b = {fmt(None if law is None else law.params['b'])} "
                         f"{fmt_ci(wcis[0.95])}"))
    beta_cis = {lvl: None if ci is None else (-ci[1], -ci[0]) for lvl, ci in cis.items()}
    out.append(claim("H2", f"beta = -b lies in {PAPER_BETA[0]}-{PAPER_BETA[1]}",
                     f"bs {BASE_BS}, all horizons, both widths",
                     {lvl: band_verdict(ci) for lvl, ci in beta_cis.items()},
                     f"beta = {fmt(None if b is None else -b)} {fmt_ci(beta_cis[0.95])}"))
    out += transfer_claims(a_rows, res_a, fit)
    out.append(batch_claim(table, fit))
    out.append(joint_measurement(table, fit))
    a_cis = {lvl: ci_of(a_draws, lvl) for lvl in LEVELS}
    out.append(claim("S1", f"(secondary) muP keeps lr* flat in width: abs(a) < {FLAT_MARGIN}",
                     f"bs {BASE_BS}, all horizons, widths {', '.join(str(int(w)) for w in widths)}",
                     {lvl: equivalence_verdict(ci) for lvl, ci in a_cis.items()},
                     f"a = {fmt(None if joint is None else joint.params.get('a'))} "
                     f"{fmt_ci(a_cis[0.95])}"))
    return out


def transfer_claims(a_rows: pd.DataFrame, res_a, fit: dict) -> list[dict]:
    """H3 per width: fit the horizon law below LONG, predict LONG, against keeping the LR
    of the next-longest horizon."""
    short = scalefit.fit(a_rows[a_rows["tokens"] < LONG], **fit)
    opt = res_a.optima.set_index(["scale", "horizon"])
    out = []
    for w in sorted(a_rows["width"].unique()):
        law = horizon_law(short, w)
        key, text = f"H3w{int(w)}", f"transfer rule at width {int(w)}: predict 2^24 from 2^20-2^23"
        data = f"bs {BASE_BS}, width {int(w)}"
        if law is None or (w, LONG) not in opt.index or opt.loc[(w, LONG), "status"] != "ok":
            out.append(claim(key, text, data, {lvl: "not resolved" for lvl in LEVELS},
                             "no law or no ok optimum at 2^24"))
            continue
        o = opt.loc[(w, LONG)]
        pred, draws = law.predict_log({"horizon": LONG})
        err = pred - math.log(o["lr_opt"])
        prev = LONG // 2
        keep = (math.log(opt.loc[(w, prev), "lr_opt"]) - math.log(o["lr_opt"])
                if (w, prev) in opt.index else None)
        k = o["curvature"]
        verdicts, cis = {}, {}
        for lvl in LEVELS:
            ci = ci_of(None if draws is None else draws - math.log(o["lr_opt"]), lvl)
            cis[lvl] = ci
            if ci is None or keep is None:
                verdicts[lvl] = "not resolved"
            elif -abs(keep) < ci[0] and ci[1] < abs(keep):
                verdicts[lvl] = "consistent"
            elif ci[0] > abs(keep) or ci[1] < -abs(keep):
                verdicts[lvl] = "inconsistent"
            else:
                verdicts[lvl] = "not resolved"
        keep_txt = ("no optimum at 2^23" if keep is None else
                    f"keeping the LR of 2^23: error {fmt(keep)}, cost {fmt(k * keep**2)}")
        out.append(claim(key, text, data, verdicts,
                         f"error in ln lr {fmt(err)} {fmt_ci(cis[0.95])}, loss cost "
                         f"{fmt(k * err**2)}; {keep_txt}"))
    return out


def batch_claim(table: pd.DataFrame, fit: dict) -> dict:
    """H4: b at each batch size (2^20-2^23, both widths), and b(max) - b(BASE_BS)."""
    rows = table[table["tokens"] < LONG]
    res = scalefit.fit(rows, by=["batch_size"], **fit)
    per_bs = {}
    for bs in sorted(rows["batch_size"].unique()):
        law = primary_law(res, {"batch_size": bs})
        if law is not None and "b" in law.params:
            per_bs[int(bs)] = (law.params["b"], draws_of(law, "b"), law.ci.get("b"))
    text = "the fixed-batch horizon exponent rises with the batch size"
    top = max(per_bs, default=None)
    if BASE_BS not in per_bs or top == BASE_BS:
        return claim("H4", text, "all batch sizes, 2^20-2^23", {lvl: "not resolved"
                                                               for lvl in LEVELS},
                     "no horizon law at two batch sizes")
    (b0, d0, _), (b1, d1, _) = per_bs[BASE_BS], per_bs[top]
    n = 0 if d0 is None or d1 is None else min(len(d0), len(d1))
    diff = d1[:n] - d0[:n] if n else None
    cis = {lvl: ci_of(diff, lvl) for lvl in LEVELS}
    each = "; ".join(f"b(bs {bs}) = {fmt(v[0])} {fmt_ci(v[2])}" for bs, v in per_bs.items())
    return claim("H4", text, "all batch sizes, 2^20-2^23, both widths",
                 {lvl: sign_verdict(ci, negative=False) for lvl, ci in cis.items()},
                 f"b({top}) - b({BASE_BS}) = {fmt(b1 - b0)} {fmt_ci(cis[0.95])}; {each}")


def joint_measurement(table: pd.DataFrame, fit: dict) -> dict:
    """M1: bs*(D), bs / bs*(D) per fixed batch, and lr*'s horizon exponent at a fixed
    batch and along bs*(D), from the joint (lr, batch size) fit on 2^20-2^23."""
    rows = table[table["tokens"] < LONG]
    res = scalefit.fit(rows, joint="batch_size", **fit)
    j = res.joint
    parts = []
    bs_law = j.law("bs_opt") if j is not None else None
    if bs_law is not None:
        parts.append(f"bs* = {fmt(bs_law.params['C'])} * width^{fmt(bs_law.params.get('a'))} "
                     f"{fmt_ci(bs_law.ci.get('a'))} * D^{fmt(bs_law.params.get('b'))} "
                     f"{fmt_ci(bs_law.ci.get('b'))}")
    if j is not None:
        ok = j.optima[j.optima["status"] == "ok"]
        for _, o in ok.iterrows():
            parts.append(f"width {o['scale']:g}, D 2^{math.log2(o['horizon']):.0f}: bs* = "
                         f"{fmt(o['bs_opt'])} {fmt_ci((o['bs_opt_lo'], o['bs_opt_hi']))}, "
                         f"bs {BASE_BS} / bs* = {fmt(BASE_BS / o['bs_opt'])}")
        parts.append(f"{len(ok)} of {len(j.optima)} joint optima ok")
        for e in j.exponents:
            if e["variable"] == "horizon":
                parts.append(f"horizon exponent of lr*: at a fixed batch {fmt(e['fixed_bs'])} "
                             f"{fmt_ci(e['fixed_bs_ci'])}, along bs* {fmt(e['along'])} "
                             f"{fmt_ci(e['along_ci'])}")
    return claim("M1", "(measurement) where the batch sits relative to bs*(D)",
                 "all batch sizes, 2^20-2^23, both widths", {lvl: "-" for lvl in LEVELS},
                 "; ".join(parts) or "no joint fit")


def markdown(claims: list[dict], source: str, n_rows: int, boot: int) -> str:
    lvl2 = f"{LEVELS[1]:.1%}"
    lines = [f"# Horizon x batch study: {source}", "",
             f"{n_rows} runs; {boot} bootstrap resamples. Verdicts at 95% and at {lvl2} "
             f"(Bonferroni for the {N_JUDGED} judged verdicts).", "",
             f"| # | claim | data | 95% | {lvl2} | numbers |", "|---|---|---|---|---|---|"]
    for c in claims:
        v = c["verdict"]
        lines.append(f"| {c['claim']} | {c['text']} | {c['data']} | {v[LEVELS[0]]} | "
                     f"{v[LEVELS[1]]} | {c['numbers']} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", type=Path, help="the study's results CSV")
    ap.add_argument("--boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="write the verdicts here")
    args = ap.parse_args(argv)
    if not args.runs.exists():
        print(f"{args.runs}: not found", file=sys.stderr)
        return 2
    table = pd.read_csv(args.runs)
    claims = judge(table, args.boot, args.seed)
    print(markdown(claims, str(args.runs), len(table), args.boot), end="")
    if args.json:
        doc = [{**c, "verdict": {f"{k:.4g}": v for k, v in c["verdict"].items()}}
               for c in claims]
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
