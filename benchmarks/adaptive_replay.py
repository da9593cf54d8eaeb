"""Replay of adaptive sweeps on the Step Law dense grid (read in place, never copied).

Every sweep of the grid starts from 3 of its runs (its lowest, middle and highest LR:
a coarse first look), the rest hidden. A policy then reveals K runs per round, chosen only
among the grid's hidden runs, until nothing is hidden (or it proposes nothing more):

* ``next``: ``FitResult.next_runs(K, candidates=<hidden runs>, cost="runs")`` on a fit of
  the revealed runs, target: every sweep's own optimum;
* ``next-target``: the same with the target at the largest (N, D) (its law's prediction);
* ``random``: K hidden runs drawn uniformly (repeated over seeds);
* ``coarse-to-fine``: per sweep, every other LR of its grid first (nearest the current
  best LR first), then the neighbours of the best, then the rest; sweeps with the fewest
  revealed runs first.

The reference is the full grid's fit (1,000 resamples, seed 0). A sweep is *found* when
its revealed runs give an ``ok`` optimum inside the full grid's 95% interval (an open end
counts as open), and it stays found at every later round; its *runs needed* is the number
of its revealed runs then. The *law* is found when the joint law's prediction at the
largest (N, D) lies inside the full grid's law interval there (``lr_ci``), for every bs
group, from that round on. Per policy: total runs revealed (and their share of the grid)
when 90% and when all found sweeps are found, the median runs needed per sweep, and the
runs when the law is found.

    python benchmarks/adaptive_replay.py                      # every bs its own sweep
    python benchmarks/adaptive_replay.py --bs 256 --k 4       # one bs: 17 sweeps
    python benchmarks/adaptive_replay.py --joint --k 17       # LR x bs: 17 surfaces

With ``--joint`` each (N, D) is one LR x batch-size surface (``fit(..., joint="bs")``,
on ``smooth loss`` as docs/math.md section 10): it starts from 3 runs (the middle batch
size's LRs at a quarter, half and three quarters of its LR range), ``next`` proposes
(lr, bs) cells among the hidden ones, a surface is *found* when its revealed runs give
an ``ok`` joint optimum with lr* and bs* inside the full grid's intervals, the law when
the joint laws' lr* and bs* at the largest (N, D) are inside the full grid's intervals
there; ``coarse-to-fine`` takes every other LR x every other batch size first (nearest
the current best cell first), then the best cell's neighbours.

``--starts N`` replays every policy from N start sets (start 0 as above, the others drawn
at random: ``start``) and reports the median and the worst; ``--without lack-of-fit`` or
``--without shift`` switches off one test of the joint planner's resolution rule.

    python benchmarks/adaptive_replay.py --joint --k 17 --max-share 0.6 --seeds 3 --starts 5
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import scalefit

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "steplaw" / \
    "dense_lr_bs_loss.csv"
TARGET = (1073741824.0, 56900000000.0)  # the largest (N, D) of the dense grid


JOINT = False  # --joint: one LR x bs surface per (N, D)


def load(bs) -> pd.DataFrame:
    raw = pd.read_csv(DATA)
    d = raw[["N", "D", "bs", "lr"]].copy()
    d["loss"] = raw["smooth loss"] if JOINT else raw["loss"]
    if bs != "all":
        d = d[d["bs"] == int(bs)]
    d = d.reset_index(drop=True)
    d["sweep"] = d.groupby(["N", "D"] if JOINT else ["bs", "N", "D"], sort=True).ngroup()
    return d


def fit(df, n_boot=0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if JOINT:
            return scalefit.fit(df[["N", "D", "bs", "lr", "loss"]], joint="bs",
                                n_boot=n_boot, progress=None)
        return scalefit.fit(df[["N", "D", "bs", "lr", "loss"]], by=["bs"], n_boot=n_boot,
                            progress=None)


def reference_joint(d):
    r = fit(d, 1000)
    o = r.joint.optima
    ok = (o["status"] == "ok").to_numpy()
    lim = {c: o[c].fillna(v).to_numpy() for c, v in (("lr_opt_lo", 0.0), ("bs_opt_lo", 0.0),
                                                     ("lr_opt_hi", np.inf),
                                                     ("bs_opt_hi", np.inf))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = r.joint.predict(*TARGET).rows[0]
    return {"ok": ok, **lim, "law": {"lr": p["lr_ci"], "bs": p["bs_opt_ci"]}, "fit": r,
            "key": _keys(o)}


def _keys(o):
    return pd.MultiIndex.from_frame(o[["scale", "horizon"]].astype(float))


def evaluate_joint(d, revealed, ref):
    r = fit(d.loc[sorted(revealed)])
    o = r.joint.optima
    pos = _keys(o).get_indexer(ref["key"])
    found = np.zeros(len(ref["ok"]), bool)
    have = np.flatnonzero(pos >= 0)
    st = o["status"].to_numpy()[pos[have]]
    x, b = o["lr_opt"].to_numpy()[pos[have]], o["bs_opt"].to_numpy()[pos[have]]
    with np.errstate(invalid="ignore"):
        found[have] = ((st == "ok") & ref["ok"][have]
                       & (x >= ref["lr_opt_lo"][have]) & (x <= ref["lr_opt_hi"][have])
                       & (b >= ref["bs_opt_lo"][have]) & (b <= ref["bs_opt_hi"][have]))
    law = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = r.joint.predict(*TARGET).rows[0]
        lci, bci = ref["law"]["lr"], ref["law"]["bs"]
        law = bool(lci[0] <= p["lr"] <= lci[1] and bci[0] <= p["bs_opt"] <= bci[1])
    except Exception:  # noqa: BLE001 - no law yet (too few ok surfaces)
        law = False
    return found, {"all": law}


def reference(d):
    r = fit(d, 1000)
    o = r.optima
    ok = (o["status"] == "ok").to_numpy()
    lo = o["lr_opt_lo"].fillna(0.0).to_numpy()
    hi = o["lr_opt_hi"].fillna(np.inf).to_numpy()
    law = {}
    for g in r.groups():
        p = r.predict(*TARGET, group=g)
        law[g["bs"]] = p.rows[0]["lr_ci"]
    return {"ok": ok, "lo": lo, "hi": hi, "law": law, "fit": r}


def evaluate(d, revealed, ref):
    """(found per sweep (S,), law found per bs group {bs: bool})."""
    r = fit(d.loc[sorted(revealed)])
    o = r.optima
    key = pd.MultiIndex.from_frame(o[["bs", "scale", "horizon"]].astype(float))
    sw = d.drop_duplicates("sweep").set_index("sweep").sort_index()[["bs", "N", "D"]].astype(float)
    pos = key.get_indexer(pd.MultiIndex.from_frame(sw))
    found = np.zeros(len(sw), bool)
    have = pos >= 0
    st = o["status"].to_numpy()[pos[have]]
    x = o["lr_opt"].to_numpy()[pos[have]]
    idx = np.flatnonzero(have)
    with np.errstate(invalid="ignore"):
        found[idx] = ((st == "ok") & (x >= ref["lo"][idx]) & (x <= ref["hi"][idx])
                      & ref["ok"][idx])
    law = {}
    for b, ci in ref["law"].items():
        lw = r.law("lr_opt", {"bs": b})
        if ci is None or lw is None or isinstance(lw, list):
            law[b] = False
            continue
        try:
            y = float(np.exp(lw.predict_log({v: dict(zip(("scale", "horizon"), TARGET))[v]
                                              for v in lw.variables})[0]))
        except Exception:  # noqa: BLE001 - a law of another form cannot predict there
            law[b] = False
            continue
        law[b] = bool(ci[0] <= y <= ci[1])
    return found, law


def start(d, seed: int = 0) -> set:
    """3 runs per sweep. Start 0: as the module docstring says. Start ``seed`` > 0: 3
    distinct runs drawn at random per sweep (joint: among the cells in the middle half of
    its LR levels and of its batch-size levels; 1-D: among its LRs)."""
    out = set()
    if seed > 0:
        rng = np.random.default_rng(seed)
        for _, g in d.groupby("sweep"):
            if JOINT:
                li = g["lr"].rank(method="dense").to_numpy() - 1
                bi = g["bs"].rank(method="dense").to_numpy() - 1
                nl, nb = li.max() + 1, bi.max() + 1
                mid = ((li >= nl // 4) & (li < nl - nl // 4) & (bi >= nb // 4)
                       & (bi < nb - nb // 4))
                g = g[mid] if mid.sum() >= 3 else g
            out |= set(rng.choice(g.index.to_numpy(), size=min(3, len(g)), replace=False))
        return out
    if JOINT:  # the middle batch size's LRs at 1/4, 1/2, 3/4 of its range
        for _, g in d.groupby("sweep"):
            bss = np.sort(g["bs"].unique())
            row = g[g["bs"] == bss[len(bss) // 2]].sort_values("lr")
            n = len(row)
            out |= set(row.index[[n // 4, n // 2, (3 * n) // 4]]) if n >= 3 else set(row.index)
        return out
    for _, g in d.groupby("sweep"):
        g = g.sort_values("lr")
        n = len(g)
        out |= set(g.index[[0, n // 2, n - 1]]) if n >= 3 else set(g.index)
    return out


OBJECTIVE = "variance"


def pick_next(d, revealed, k, target):
    r = fit(d.loc[sorted(revealed)])
    hidden = d.drop(index=sorted(revealed))
    cand = hidden.rename(columns={"N": "scale", "D": "horizon"})[["bs", "scale", "horizon",
                                                                  "lr"]]
    kw = {"target_scale": TARGET[0], "target_horizon": TARGET[1]} if target else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = r.next_runs(k, candidates=cand, cost="runs", objective=OBJECTIVE, **kw)
    chosen = []
    runs = p.runs
    for _, row in runs.iterrows():
        m = hidden[np.isclose(hidden["bs"], row["bs"]) & np.isclose(hidden["N"], row["scale"])
                   & np.isclose(hidden["D"], row["horizon"])
                   & np.isclose(hidden["lr"], row["lr"], rtol=1e-9)]
        m = m.drop(index=[i for i in chosen if i in m.index])
        if len(m):
            chosen.append(m.index[0])
    return chosen


def pick_random(d, revealed, k, rng):
    hidden = np.array(sorted(set(d.index) - revealed))
    return list(rng.choice(hidden, size=min(k, hidden.size), replace=False))


def pick_coarse_to_fine_joint(d, revealed, k):
    """Per surface (fewest revealed first): every other LR x every other bs, nearest the
    current best cell first; then the best cell's 8 neighbours; then the rest by distance."""
    rev = d.loc[sorted(revealed)]
    counts = rev.groupby("sweep").size().reindex(range(d["sweep"].max() + 1), fill_value=0)
    chosen = []
    while len(chosen) < k:
        before = len(chosen)
        for s in counts.sort_values(kind="stable").index:
            if len(chosen) >= k:
                break
            g = d[d["sweep"] == s]
            hid = [i for i in g.index if i not in revealed and i not in chosen]
            if not hid:
                continue
            li = {v: j for j, v in enumerate(np.sort(g["lr"].unique()))}
            bi = {v: j for j, v in enumerate(np.sort(g["bs"].unique()))}
            pos = {i: (li[g.at[i, "lr"]], bi[g.at[i, "bs"]]) for i in g.index}
            rg = g.loc[[i for i in g.index if i in revealed]]
            best = (pos[rg["loss"].idxmin()] if rg["loss"].notna().any()
                    else (len(li) // 2, len(bi) // 2))
            def dist(i, pos=pos, best=best):
                return (pos[i][0] - best[0]) ** 2 + (pos[i][1] - best[1]) ** 2

            coarse = [i for i in hid if pos[i][0] % 2 == 0 and pos[i][1] % 2 == 0]
            near = [i for i in hid if max(abs(pos[i][0] - best[0]), abs(pos[i][1] - best[1]))
                    == 1]
            order = sorted(coarse, key=dist) or sorted(near, key=dist) or sorted(hid, key=dist)
            chosen.append(order[0])
            counts[s] += 1
        if len(chosen) == before:
            break
    return chosen


def pick_coarse_to_fine(d, revealed, k):
    if JOINT:
        return pick_coarse_to_fine_joint(d, revealed, k)
    rev = d.loc[sorted(revealed)]
    counts = rev.groupby("sweep").size().reindex(range(d["sweep"].max() + 1), fill_value=0)
    chosen = []
    for s in counts.sort_values(kind="stable").index:
        if len(chosen) >= k:
            break
        g = d[d["sweep"] == s].sort_values("lr")
        hid = [i for i in g.index if i not in revealed]
        if not hid:
            continue
        pos = {i: j for j, i in enumerate(g.index)}
        rg = g.loc[[i for i in g.index if i in revealed]]
        best = pos[rg["loss"].idxmin()] if rg["loss"].notna().any() else len(g) // 2
        coarse = [i for i in hid if pos[i] % 2 == 0]
        near = [i for i in hid if abs(pos[i] - best) == 1]
        order = (sorted(coarse, key=lambda i: abs(pos[i] - best)) or near
                 or sorted(hid, key=lambda i: abs(pos[i] - best)))
        chosen.append(order[0])
    return chosen


def trajectory(d, ref, policy, k, rng=None, log=None, max_share=1.0, start_seed=0):
    revealed = start(d, start_seed)
    traj = []
    while True:
        found, law = (evaluate_joint if JOINT else evaluate)(d, revealed, ref)
        counts = d.loc[sorted(revealed)].groupby("sweep").size().reindex(
            range(d["sweep"].max() + 1), fill_value=0).to_numpy()
        traj.append((len(revealed), found, law, counts))
        if len(revealed) == len(d) or len(revealed) >= max_share * len(d):
            break
        if policy == "random":
            new = pick_random(d, revealed, k, rng)
        elif policy == "coarse-to-fine":
            new = pick_coarse_to_fine(d, revealed, k)
        else:
            new = pick_next(d, revealed, k, policy == "next-target")
        new = [i for i in new if i not in revealed]
        if not new:
            break
        revealed |= set(new)
        if log:
            log(f"  {policy}: {len(revealed)} runs revealed")
    return traj


def summarize(traj, ref, n_total):
    F = np.array([t[1] for t in traj])  # (T, S)
    budgets = np.array([t[0] for t in traj])
    C = np.array([t[3] for t in traj])
    target = ref["ok"]
    # stably found from round i on: found at i and at every later round
    stable = np.flip(np.logical_and.accumulate(np.flip(F, 0), 0), 0)
    first = np.where(stable.any(0), stable.argmax(0), -1)
    share = stable[:, target].mean(1)

    def at(q):
        hit = np.flatnonzero(share >= q - 1e-12)
        return int(budgets[hit[0]]) if hit.size else None

    per_sweep = [C[first[s], s] for s in np.flatnonzero(target) if first[s] >= 0]
    L = np.array([all(t[2].values()) for t in traj])
    lstable = np.flip(np.logical_and.accumulate(np.flip(L)))
    law_at = int(budgets[lstable.argmax()]) if lstable.any() else None
    return {"runs_90": at(0.9), "runs_all": at(1.0),
            "median_per_sweep": float(np.median(per_sweep)) if per_sweep else None,
            "never": int((first[target] < 0).sum()), "law": law_at,
            "end": int(budgets[-1]), "n_total": n_total}


def fmt_runs(v, n):
    return "-" if v is None else f"{v} ({v / n:.0%})"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bs", default="all", help="'all' (every bs its own sweep) or one bs")
    ap.add_argument("--k", type=int, default=17, help="runs revealed per round")
    ap.add_argument("--seeds", type=int, default=10, help="replications of random")
    ap.add_argument("--policies", default="next,next-target,coarse-to-fine,random")
    ap.add_argument("--objective", default="variance", help="of next: variance or loss")
    ap.add_argument("--joint", action="store_true", help="LR x bs surfaces per (N, D)")
    ap.add_argument("--max-share", type=float, default=1.0,
                    help="stop a policy once this share of the grid is revealed")
    ap.add_argument("--starts", type=int, default=1,
                    help="start sets: 0 as documented, the others drawn at random (start())")
    ap.add_argument("--without", choices=("lack-of-fit", "shift"),
                    help="ablation (--joint): that test of the resolution rule never fires")
    args = ap.parse_args(argv)
    if args.without:
        from scalefit.core import surface_design as sd

        if args.without == "lack-of-fit":  # its p-value never fires; its noise stays
            test = sd.lack_of_fit

            def no_lack_of_fit(*a):
                p, noise = test(*a)
                return np.full_like(p, np.nan), noise

            sd.lack_of_fit = no_lack_of_fit
        else:
            sd.shift_p = lambda narrow, *a: np.full(narrow.status.shape[0], np.nan)
    global OBJECTIVE, JOINT
    OBJECTIVE, JOINT = args.objective, args.joint
    if not DATA.exists():
        print(f"skipped: {DATA} is not present", file=sys.stderr)
        return 0
    t0 = time.perf_counter()
    d = load(args.bs)
    ref = (reference_joint if JOINT else reference)(d)
    n = len(d)
    what = "LR x bs surfaces" if JOINT else "sweeps"
    print(f"Step Law dense grid{' (smooth loss)' if JOINT else ''}, bs {args.bs}: {n} runs, "
          f"{d['sweep'].nunique()} {what} "
          f"({int(ref['ok'].sum())} ok in the full grid: the reference), start: 3 runs per "
          f"sweep ({len(start(d))}), K = {args.k} per round"
          + (f", {args.starts} start sets" if args.starts > 1 else ""))
    rows = []
    for policy in args.policies.split(","):
        seeds = range(args.seeds) if policy == "random" else [0]
        res = [summarize(trajectory(d, ref, policy, args.k, np.random.default_rng(s),
                                    max_share=args.max_share, start_seed=st), ref, n)
               for st in range(args.starts) for s in seeds]
        rows.append((policy, res))
        print(f"  [{policy} done, {time.perf_counter() - t0:.0f} s]", file=sys.stderr)
    print(f"{'policy':<16}{'90% of sweeps found':>22}{'all found':>16}{'median runs/sweep':>19}"
          f"{'never':>7}{'law at largest (N,D)':>22}{'stopped at':>12}")
    def med(res, key, how=np.median):
        v = [r[key] for r in res]  # None: not reached in that replication
        return None if any(x is None for x in v) else int(how(v))

    for policy, res in rows:
        what = f"{args.starts} start sets" + (f" x {args.seeds} seeds" if policy == "random"
                                               else "")
        labels = [("median", np.median), ("worst", np.max)] if len(res) > 1 else [("", None)]
        for label, how in labels:
            agg = how or np.median
            extra = f" ({label} of {what})" if label else ""
            print(f"{policy:<16}{fmt_runs(med(res, 'runs_90', agg), n):>22}"
                  f"{fmt_runs(med(res, 'runs_all', agg), n):>16}"
                  f"{agg([r['median_per_sweep'] or np.nan for r in res]):>19.1f}"
                  f"{int(agg([r['never'] for r in res])):>7}"
                  f"{fmt_runs(med(res, 'law', agg), n):>22}"
                  f"{fmt_runs(med(res, 'end', agg), n):>12}{extra}")
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
