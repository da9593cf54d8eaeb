"""Check Kalra & Barkeshli's parameterization claims on the parameterization study's tables.

    python examples/parameterization.py examples/data/parameterization_cpu.csv

Reads the width-transfer table RUNS (part 1 of examples/studies/parameterization_cpu.py)
and, when they sit beside it, its base-init runs (RUNS_init.csv), its weight-decay runs
(RUNS_decay.csv) and its init-sensitivity runs (RUNS_init<R>.csv). Prints one verdict per
claim (agrees / disagrees / not resolved, with the numbers and 95% bootstrap intervals)
as a Markdown table, writes it to OUT/parameterization.md with a report per part.

Loss comparisons are made twice, as DESIGN section 8 asks: on the fitted optima (the
parabola's minimum) and on the grid minima (the lowest mean-over-seeds loss tried),
because a kinked valley makes the parabola overstate a gap.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd

import scalefit
from scalefit.render.figure_kit import save_figure
from scalefit.render.format import fmt, fmt_ci

REF = "mup"
FIGURE_ARMS = ("sp", "mup", "sp_emb", "sp+hidden_lr")  # the README's figures


def verdict(holds: bool | None) -> str:
    return {True: "agrees", False: "disagrees", None: "not resolved"}[holds]


def sign_of(ci, expect: int) -> bool | None:
    """Does the interval lie on the expected side of 0 (expect -1 or +1)?"""
    if ci is None or None in ci:
        return None
    lo, hi = ci
    if expect < 0:
        return True if hi < 0 else False if lo > 0 else None
    return True if lo > 0 else False if hi < 0 else None


def grid_minima(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per sweep: the lowest mean-over-seeds loss tried, its LR, and the s.d. of that mean
    (from the seeds' spread: the median over the sweep's LRs of the variance between
    seeds, robust to the few unstable LRs near divergence)."""
    ok = df[df["status"] == "ok"]
    cell = ok.groupby(keys + ["lr"])["val_loss"].agg(["mean", "var", "count"]).reset_index()
    rows = []
    for key, g in cell.groupby(keys):
        best = g.loc[g["mean"].idxmin()]
        var = np.nanmedian(g["var"]) if g["count"].max() > 1 else np.nan
        rows.append(dict(zip(keys, key if isinstance(key, tuple) else (key,)),
                         grid_loss=best["mean"], grid_lr=best["lr"],
                         grid_sd=math.sqrt(var / best["count"]) if var == var else np.nan))
    return pd.DataFrame(rows)


def flatter(ci, ci_ref) -> bool | None:
    """Is |a| smaller than the reference's |a|, with the two intervals apart?"""
    def near_far(c):
        return (0.0 if c[0] <= 0 <= c[1] else min(map(abs, c))), max(map(abs, c))

    (near, far), (ref_near, ref_far) = near_far(ci), near_far(ci_ref)
    return True if far < ref_near else False if near > ref_far else None


def gap(a_loss, a_sd, b_loss, b_sd) -> tuple[float, bool | None]:
    """a/b - 1 and whether it is > 0 beyond 2 s.d. of the difference (None: within)."""
    r = a_loss / b_loss - 1
    sd = math.sqrt(a_sd**2 + b_sd**2) / b_loss if a_sd == a_sd and b_sd == b_sd else np.nan
    if not sd == sd:
        return r, None
    return r, True if r > 2 * sd else False if r < -2 * sd else None


class Part:
    """One table fitted by parameterization, with its grid minima at the largest width."""

    def __init__(self, path: Path, boot: int, by=("parameterization",)):
        self.path, self.by = path, list(by)
        self.df = pd.read_csv(path)
        self.res = scalefit.fit(path, by=self.by, reference=REF if by[0] == "parameterization"
                                and len(by) == 1 else None, n_boot=boot, progress=None)
        self.q = {tuple(g["group"][b] for b in self.by): g for g in self.res.quality.groups}
        self.grid = grid_minima(self.df, self.by + ["width"])
        self.wmax = int(self.df["width"].max())

    def g(self, *key):
        return self.q.get(tuple(key), {})

    def at_top(self, arm) -> pd.Series:
        sel = self.grid[(self.grid["parameterization"] == arm) & (self.grid["width"] == self.wmax)]
        return sel.iloc[0] if len(sel) else None


def width_claims(p: Part, title: str) -> list[str]:
    """The width-transfer claims on one part-1-like table."""
    rows = []
    a_sp, ci_sp = p.g("sp").get("lr_exponent"), p.g("sp").get("lr_exponent_ci")
    rows.append(("SP's optimal LR falls with width", verdict(sign_of(ci_sp, -1)),
                 f"a_sp = {fmt(a_sp)} {fmt_ci(ci_sp)} per parameter"))
    for arm, name in (("mup", "muP's optimal LR moves less with width than SP's"),
                      ("sp_emb", "sp_emb's optimal LR moves less with width than SP's")):
        a, ci = p.g(arm).get("lr_exponent"), p.g(arm).get("lr_exponent_ci")
        if ci_sp and ci and None not in ci_sp + ci:
            rows.append((name, verdict(flatter(ci, ci_sp)), f"a_{arm} = {fmt(a)} {fmt_ci(ci)}"
                         + (" (contains 0)" if ci[0] <= 0 <= ci[1] else "")))
    # loss at the largest width: fitted optima (R = L_sp / L_mup - 1) and grid minima
    r_sp, r_ci = p.g("sp").get("R_largest"), p.g("sp").get("R_largest_ci")
    fitted = sign_of(r_ci, +1)
    top_sp, top_mup = p.at_top("sp"), p.at_top("mup")
    grid_r, grid_v = (gap(top_sp.grid_loss, top_sp.grid_sd, top_mup.grid_loss, top_mup.grid_sd)
                      if top_sp is not None and top_mup is not None else (None, None))
    both = fitted if fitted == grid_v else None
    rows.append((f"muP reaches a lower loss than SP (width {p.wmax})", verdict(both),
                 f"SP / muP - 1: fitted {fmt(r_sp)} {fmt_ci(r_ci)}, grid minima {fmt(grid_r)} "
                 f"({verdict(grid_v)} beyond 2 s.d.)"))
    if "sp_emb" in p.df["parameterization"].unique():
        r_emb, r_emb_ci = p.g("sp_emb").get("R_largest"), p.g("sp_emb").get("R_largest_ci")
        top_emb = p.at_top("sp_emb")
        grid_emb = (gap(top_emb.grid_loss, top_emb.grid_sd, top_mup.grid_loss,
                        top_mup.grid_sd)[0] if top_emb is not None and top_mup is not None
                    else None)
        gap_seen = fitted is True or grid_v is True
        if gap_seen:  # a gap to close: does sp_emb close most of it, by each estimate?
            by_fit = (None if r_emb is None or not fitted else abs(r_emb) < 0.5 * abs(r_sp))
            by_grid = (None if grid_emb is None or not grid_v
                       else abs(grid_emb) < 0.5 * abs(grid_r))
            seen = [v for v in (by_fit, by_grid) if v is not None]
            v = verdict(seen[0] if len(set(seen)) == 1 and (fitted is grid_v) else None)
        else:
            v = "not testable"
        rows.append(("SP with the embedding LR x width (sp_emb) closes most of SP's gap to "
                     "muP", v, f"sp_emb / muP - 1: fitted {fmt(r_emb)} {fmt_ci(r_emb_ci)}, "
                     f"grid minima {fmt(grid_emb)} (SP: {fmt(r_sp)}, {fmt(grid_r)})"
                     + ("" if gap_seen else "; no gap to close (previous row)")))
    lines = [f"## {title}", "", f"`{p.path}`: {p.res.input['rows']} runs, "
             f"{len(p.res.optima)} sweeps ({(p.res.optima['status'] == 'ok').sum()} ok); "
             f"reference {p.res.quality.reference}.", "",
             "| claim | this data | numbers |", "|---|---|---|"]
    lines += [f"| {c} | {v} | {n} |" for c, v, n in rows]
    return lines


def ablation_table(p: Part) -> list[str]:
    """Every arm at the largest width: loss vs muP (fitted and grid) and its LR exponent."""
    top_mup = p.at_top(REF)
    lines = ["", f"Every arm at width {p.wmax} (loss / muP's - 1; negative = better than "
             "muP) and its LR exponent across widths:", "",
             "| arm | LR exponent a | fitted loss ratio - 1 | grid-minimum ratio - 1 |",
             "|---|---|---|---|"]
    for arm in sorted(p.df["parameterization"].unique()):
        g, top = p.g(arm), p.at_top(arm)
        grid_r = (gap(top.grid_loss, top.grid_sd, top_mup.grid_loss, top_mup.grid_sd)[0]
                  if top is not None and top_mup is not None else None)
        lines.append(f"| {arm} | {fmt(g.get('lr_exponent'))} {fmt_ci(g.get('lr_exponent_ci'))}"
                     f" | {fmt(g.get('R_largest'))} {fmt_ci(g.get('R_largest_ci'))} | "
                     f"{fmt(grid_r)} |")
    a = {arm: p.g(arm).get("lr_exponent") for arm in p.df["parameterization"].unique()}
    plus = {k: v for k, v in a.items() if k.startswith("sp+") and v is not None}
    minus = {k: v for k, v in a.items() if k.startswith("mup-") and v is not None}
    if plus and minus:
        best = min(plus, key=lambda k: abs(plus[k]))
        worst = max(minus, key=lambda k: abs(minus[k]))
        lines += ["", f"Which switch carries the LR transfer: of SP plus one muP switch, "
                  f"{best} has the flattest optimum (a = {fmt(plus[best])}, SP "
                  f"{fmt(a.get('sp'))}); of muP minus one switch, {worst} has the steepest "
                  f"(a = {fmt(minus[worst])}, muP {fmt(a.get('mup'))})."]
    return lines


def init_part(path: Path) -> list[str]:
    df = pd.read_csv(path)
    df["init_rel"] = (df["init_std_emb"] * np.sqrt(df["base_width"])).round(6)
    g = grid_minima(df, ["init_rel"]).sort_values("grid_loss")
    best, second = g.iloc[0], g.iloc[1]
    sd = math.sqrt(best.grid_sd**2 + second.grid_sd**2)
    lines = ["## Base init, tuned at the base width", "",
             f"`{path}`: grid-minimum loss per init (sigma x sqrt(base width)), mean over "
             "seeds; s.d. of the mean from the seeds' spread.", "",
             "| init_rel | grid-minimum loss | at lr | s.d. |", "|---|---|---|---|"]
    lines += [f"| {r.init_rel:g} | {r.grid_loss:.4f} | {r.grid_lr:g} | {fmt(r.grid_sd)} |"
              for r in g.itertuples()]
    tells = abs(second.grid_loss - best.grid_loss) > 2 * sd
    lines += ["", f"Chosen: {best.init_rel:g}. The runner-up ({second.init_rel:g}) is "
              f"{second.grid_loss - best.grid_loss:.4f} worse, "
              + ("more" if tells else "less") + f" than 2 s.d. of the difference "
              f"({2 * sd:.4f}): the base width " + ("can" if tells else "cannot")
              + " tell them apart."]
    return lines


def decay_part(path: Path, boot: int) -> list[str]:
    p = Part(path, boot, by=("parameterization", "weight_decay"))
    lines = ["## Weight decay at a fixed tokens-per-parameter ratio", "",
             f"`{path}`: {p.res.input['rows']} runs, {len(p.res.optima)} sweeps.", "",
             "| claim | parameterization | this data | decay 0 | decay 0.1 |",
             "|---|---|---|---|---|"]
    for arm in sorted(p.df["parameterization"].unique()):
        g0, g1 = p.g(arm, 0.0), p.g(arm, 0.1)
        for name, key, better in (("weight decay improves E (rmse of ln lr* around its law)",
                                   "E", -1),
                                  ("weight decay hurts robustness (a larger kappa)", "kappa",
                                   +1)):
            c0, c1 = g0.get(key + "_ci"), g1.get(key + "_ci")
            v = None
            if c0 and c1 and None not in c0 + c1:
                v = (True if (c1[1] < c0[0] if better < 0 else c1[0] > c0[1]) else
                     False if (c1[0] > c0[1] if better < 0 else c1[1] < c0[0]) else None)
            lines.append(f"| {name} | {arm} | {verdict(v)} | {fmt(g0.get(key))} {fmt_ci(c0)} "
                         f"| {fmt(g1.get(key))} {fmt_ci(c1)} |")
    lines += ["", "Agreement needs the two intervals to be apart (resamples are not paired "
              "across the two decays here, so this is conservative)."]
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path, help="the width-transfer table (part 1)")
    ap.add_argument("--out", type=Path, default=Path("out/parameterization"))
    ap.add_argument("--boot", type=int, default=1000)
    args = ap.parse_args(argv)
    runs = args.runs
    stem = runs.with_suffix("")
    lines = ["# Parameterization study: the papers' claims", ""]
    init = Path(f"{stem}_init.csv")
    if init.exists():
        lines += init_part(init) + [""]
    p1 = Part(runs, args.boot)
    lines += width_claims(p1, "Width transfer at a fixed horizon") + ablation_table(p1) + [""]
    for sens in sorted(runs.parent.glob(f"{stem.name}_init?*.csv")):
        p3 = Part(sens, args.boot)
        rel = (p3.df["init_std_emb"] * np.sqrt(p3.df["base_width"])).iloc[0]
        lines += width_claims(p3, f"The same at base init {rel:g}") + [""]
    decay = Path(f"{stem}_decay.csv")
    if decay.exists():
        lines += decay_part(decay, args.boot)
    args.out.mkdir(parents=True, exist_ok=True)
    p1.res.report(args.out / "width", command=f"python examples/parameterization.py {runs}")
    # figures of the main arms alone (all eleven crowd one panel): what `scalefit fit ...
    # --show sp mup sp_emb sp+hidden_lr --report DIR` draws
    (args.out / "figures").mkdir(exist_ok=True)
    arms = [a for a in FIGURE_ARMS if a in set(p1.res.optima["parameterization"])]
    for name, fig in p1.res.plot(show=arms or None).items():
        save_figure(fig, args.out / "figures" / name)
    (args.out / "parameterization.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
