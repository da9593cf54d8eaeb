"""Judge the pre-registered claims of the transfer-quality study (Kalra & Barkeshli).

    python examples/transfer_quality.py examples/data/transfer_quality_cpu.csv

The claims, tests, margins and data cuts were written down before the runs in
examples/data/transfer_quality_cpu.md; this script applies those rules to part 1 (the file
given) and part 2 (``_decay`` beside it, when present):

* T1 / T2: transfer error E (RMSE of ln lr* around each arm's law in width) of SP against
  muP and against sp_emb: the interval of the difference, paired by resample (resample b
  of every sweep is one draw of the fit), wholly > 0 is consistent;
* T3: SP's asymptotic penalty R_inf against muP, only when identified (scalefit says when
  it is not: a mean ratio is never an asymptote); T4: R_inf(sp_emb) < R_inf(sp), judged
  by the two identified intervals (disjoint: resolved; this is stricter than the
  pre-registered interval of the difference, which the saved fit does not hold draws for);
* T5: the share of runs at or above their sweep's optimum with a loss spike, sp_emb minus
  sp, with a bootstrap over sweeps; beside it, per width, the largest LR / lr* each arm
  trains with no spike and status ok;
* T6: E with decay minus E without, per arm (independent resamples of two fits): "differs"
  when the interval excludes 0, "equivalent" inside +-0.05, else not resolved;
* M1: kappa per arm (no verdict); S1: muP's width exponent inside +-0.1; S2: SP's inside
  -1 +- 0.2.

Verdicts at 95% and at the Bonferroni level for the nine judged verdicts (99.4%).
Prints a Markdown table; ``--json PATH`` writes it.
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
from scalefit.core.laws import loglinear
from scalefit.render.format import fmt, fmt_ci

ARM_OF = {"sp_fanin": "sp", "sp_fanin+emb_lr": "sp_emb", "mup": "mup"}
N_JUDGED = 9
LEVELS = (0.95, 1 - 0.05 / N_JUDGED)
E_MARGIN = 0.05
SPIKE_BOOT = 2000


def verdict_sign(ci, positive: bool = True) -> str:
    if ci is None or not all(map(math.isfinite, ci)):
        return "not resolved"
    lo, hi = ci
    if (lo > 0) if positive else (hi < 0):
        return "consistent"
    if (hi < 0) if positive else (lo > 0):
        return "inconsistent"
    return "not resolved"


def verdict_inside(ci, centre: float, margin: float) -> str:
    """Consistent when ci lies inside centre +- margin, inconsistent when wholly outside."""
    if ci is None or not all(map(math.isfinite, ci)):
        return "not resolved"
    lo, hi = ci
    if centre - margin < lo and hi < centre + margin:
        return "consistent"
    if lo >= centre + margin or hi <= centre - margin:
        return "inconsistent"
    return "not resolved"


def ci(draws, level):
    d = np.asarray(draws, float)
    d = d[np.isfinite(d)]
    if len(d) < 10:
        return None
    lo, hi = percentile_ci(d, level)
    return (float(lo), float(hi))


def load(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path)
    df["arm"] = df["parameterization"].map(ARM_OF).fillna(df["parameterization"])
    return df


def fit(df: pd.DataFrame, boot: int, seed: int):
    return scalefit.fit(df, scale="width", by=["arm"], reference="mup", n_boot=boot,
                        seed=seed, progress=None)


def e_draws(res, arm: str) -> tuple[float | None, np.ndarray | None]:
    """E of one arm (RMSE of ln lr* around its law in width) and its draws (B,), from the
    fit's own resamples of the arm's ok sweeps."""
    o = res.optima
    sel = np.flatnonzero((o["arm"] == arm).to_numpy() & (o["status"] == "ok").to_numpy())
    if len(sel) < 3:
        return None, None
    X = np.column_stack([np.ones(len(sel)), np.log(o["scale"].to_numpy(float)[sel])])

    def rmse(Y):
        coef = loglinear(X, Y)
        resid = Y - coef @ X.T
        return np.sqrt(np.nanmean(resid**2, axis=-1))

    point = float(rmse(np.log(o["lr_opt"].to_numpy(float)[sel])))
    draws = None if res.boot is None else rmse(res.boot.x_law[:, sel])
    return point, draws


def claim(key, text, verdicts, numbers) -> dict:
    return {"claim": key, "text": text, "verdict": verdicts, "numbers": numbers}


def e_claim(res, key, a, b, text) -> dict:
    (ea, da), (eb, db) = e_draws(res, a), e_draws(res, b)
    if ea is None or eb is None or da is None or db is None:
        return claim(key, text, {lvl: "not resolved" for lvl in LEVELS}, "too few ok widths")
    diff = da - db
    cis = {lvl: ci(diff, lvl) for lvl in LEVELS}
    return claim(key, text, {lvl: verdict_sign(c) for lvl, c in cis.items()},
                 f"E({a}) - E({b}) = {fmt(ea - eb)} {fmt_ci(cis[0.95])}; E({a}) = {fmt(ea)}, "
                 f"E({b}) = {fmt(eb)}")


def quality_of(res, arm: str) -> dict:
    return next((g for g in res.quality.groups if g["group"].get("arm") == arm), {}) \
        if res.quality is not None else {}


def r_claims(res) -> list[dict]:
    sp, emb = quality_of(res, "sp"), quality_of(res, "sp_emb")
    out = []
    if sp.get("R_inf_identified"):
        c = sp.get("R_inf_ci")
        v = verdict_sign(c)
        num = f"R_inf(sp) = {fmt(sp.get('R_inf'))} {fmt_ci(c)}"
    else:
        v, num = "not resolved", (f"R_inf(sp) not identified ({sp.get('R_inf_reason')}); "
                                  f"R (mean) = {fmt(sp.get('R_mean'))}")
    out.append(claim("T3", "SP pays an asymptotic loss penalty against muP",
                     {lvl: v for lvl in LEVELS}, num + " (intervals at 95% only)"))
    if sp.get("R_inf_identified") and emb.get("R_inf_identified"):
        a, b = emb.get("R_inf_ci"), sp.get("R_inf_ci")
        v = ("consistent" if a[1] < b[0] else "inconsistent" if a[0] > b[1]
             else "not resolved")
        num = f"R_inf(sp_emb) = {fmt(emb.get('R_inf'))} {fmt_ci(a)}"
    else:
        v, num = "not resolved", "R_inf not identified for both arms"
    out.append(claim("T4", "the embedding LR reduces SP's asymptotic penalty",
                     {lvl: v for lvl in LEVELS}, num))
    return out


def spike_claim(df: pd.DataFrame, res, seed: int) -> dict:
    """T5: share of runs at or above their sweep's optimum with a spike, sp_emb - sp."""
    if "loss_spikes" not in df:
        return claim("T5", "sp_emb smooths out training", {lvl: "not resolved" for lvl in LEVELS},
                     "no loss_spikes column")
    opt = res.optima.set_index(["arm", "scale"])["lr_opt"]
    rows = df.assign(lr_opt=[opt.get((a, float(w)), np.nan)
                             for a, w in zip(df["arm"], df["width"])])
    rows = rows[rows["lr"] >= rows["lr_opt"]]
    rng = np.random.default_rng(seed)
    shares = {}
    for arm in ("sp", "sp_emb"):
        sweeps = [g["loss_spikes"].gt(0).to_numpy() for _, g in rows[rows["arm"] == arm]
                  .groupby("width")]
        if not sweeps:
            return claim("T5", "sp_emb smooths out training",
                         {lvl: "not resolved" for lvl in LEVELS}, f"no runs of {arm}")
        pick = rng.integers(0, len(sweeps), size=(SPIKE_BOOT, len(sweeps)))
        hits = np.array([s.sum() for s in sweeps])[pick].sum(1)
        counts = np.array([len(s) for s in sweeps])[pick].sum(1)
        shares[arm] = (sum(s.sum() for s in sweeps) / sum(len(s) for s in sweeps),
                       hits / np.maximum(counts, 1))
    diff = shares["sp_emb"][1] - shares["sp"][1]
    cis = {lvl: ci(diff, lvl) for lvl in LEVELS}
    stable = []
    for arm in ("sp", "sp_emb", "mup"):
        for w, g in df[df["arm"] == arm].groupby("width"):
            ok = g[(g["status"] == "ok") & (g["loss_spikes"] == 0)]
            o = opt.get((arm, float(w)), np.nan)
            if len(ok) and np.isfinite(o):
                stable.append(f"{arm} w{w}: x{fmt(ok['lr'].max() / o)}")
    return claim("T5", "sp_emb smooths out training (fewer spiky runs at or above lr*)",
                 {lvl: verdict_sign(c, positive=False) for lvl, c in cis.items()},
                 f"share with a spike: sp_emb {fmt(shares['sp_emb'][0])}, sp "
                 f"{fmt(shares['sp'][0])}, difference {fmt_ci(cis[0.95])}; largest stable "
                 f"LR / lr*: {', '.join(stable)}")


def decay_claims(res0, res1) -> list[dict]:
    out = []
    for arm in ("sp", "mup"):
        (e0, d0), (e1, d1) = e_draws(res0, arm), e_draws(res1, arm)
        key, text = f"T6{arm}", f"decay changes {arm}'s transfer error"
        if None in (e0, e1) or d0 is None or d1 is None:
            out.append(claim(key, text, {lvl: "not resolved" for lvl in LEVELS}, "too few"))
            continue
        diff = d1[:min(len(d0), len(d1))] - d0[:min(len(d0), len(d1))]
        verdicts = {}
        for lvl in LEVELS:
            c = ci(diff, lvl)
            verdicts[lvl] = ("not resolved" if c is None else
                             "differs" if c[0] > 0 or c[1] < 0 else
                             "equivalent" if -E_MARGIN < c[0] and c[1] < E_MARGIN else
                             "not resolved")
        out.append(claim(key, text, verdicts, f"E(decay 0.1) - E(0) = {fmt(e1 - e0)} "
                                              f"{fmt_ci(ci(diff, 0.95))}"))
    return out


def law_a(res, arm: str):
    law = next((x for x in res.laws if x.target == "lr_opt" and x.primary
                and x.group.get("arm") == arm), None)
    if law is None or "a" not in law.params:
        return None, {lvl: None for lvl in LEVELS}
    j = law.param_names.index("a")
    draws = law.boot[:, j] if law.boot is not None else None
    return law.params["a"], {lvl: ci(draws, lvl) if draws is not None else None
                             for lvl in LEVELS}


def judge(main: pd.DataFrame, decay: pd.DataFrame | None, boot: int = 1000,
          seed: int = 0) -> list[dict]:
    res = fit(main, boot, seed)
    out = [e_claim(res, "T1", "sp", "mup", "muP transfers the LR better than SP (E)"),
           e_claim(res, "T2", "sp", "sp_emb", "the embedding LR improves SP's transfer (E)")]
    out += r_claims(res)
    out.append(spike_claim(main, res, seed))
    res_d = None
    if decay is not None:
        res_d = fit(decay, boot, seed)
        out += decay_claims(fit(main[main["arm"].isin(["sp", "mup"])], boot, seed), res_d)

    def kappas(r):
        return "; ".join(f"{g['group'].get('arm')}: {fmt(g.get('kappa'))} "
                         f"{fmt_ci(g.get('kappa_ci'))}" for g in (r.quality.groups
                                                                  if r.quality else []))

    kap = kappas(res)
    if res_d is not None:  # part 2: kappa with decay 0.1 (no verdict; differences not kept)
        kap += f"; with decay 0.1: {kappas(res_d)}"
    out.append(claim("M1", "(measurement) kappa per arm", {lvl: "-" for lvl in LEVELS}, kap))
    for key, arm, centre, margin in (("S1", "mup", 0.0, 0.1), ("S2", "sp", -1.0, 0.2)):
        a, cis = law_a(res, arm)
        out.append(claim(key, f"(mechanism) {arm}'s width exponent within {centre:g} +- "
                              f"{margin:g}",
                         {lvl: verdict_inside(cis[lvl], centre, margin) for lvl in LEVELS},
                         f"a = {fmt(a)} {fmt_ci(cis[0.95])}"))
    return out


def markdown(claims: list[dict], source: str, boot: int) -> str:
    lvl2 = f"{LEVELS[1]:.1%}"
    lines = [f"# Transfer-quality study: {source}", "",
             f"{boot} bootstrap resamples; verdicts at 95% and at {lvl2} (Bonferroni for "
             f"{N_JUDGED} judged verdicts).", "",
             f"| # | claim | 95% | {lvl2} | numbers |", "|---|---|---|---|---|"]
    lines += [f"| {c['claim']} | {c['text']} | {c['verdict'][LEVELS[0]]} | "
              f"{c['verdict'][LEVELS[1]]} | {c['numbers']} |" for c in claims]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", type=Path, help="part 1's results CSV (part 2 is read beside it)")
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--main-only", action="store_true",
                    help="judge part 1 only (T6 needs part 2: use while part 2 trains)")
    args = ap.parse_args(argv)
    if not args.runs.exists():
        print(f"{args.runs}: not found", file=sys.stderr)
        return 2
    decay_path = args.runs.with_name(args.runs.stem + "_decay" + args.runs.suffix)
    decay = load(decay_path) if decay_path.exists() and not args.main_only else None
    if decay is not None and set(decay["arm"]) != {"sp", "mup"}:
        print(f"{decay_path}: part 2 has arms {sorted(set(decay['arm']))}, not sp and mup: "
              "T6 is not judged (part 2 still training?)", file=sys.stderr)
        decay = None
    claims = judge(load(args.runs), decay, args.boot, args.seed)
    print(markdown(claims, str(args.runs), args.boot), end="")
    if args.json:
        args.json.write_text(json.dumps(
            [{**c, "verdict": {f"{k:.4g}": v for k, v in c["verdict"].items()}}
             for c in claims], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
