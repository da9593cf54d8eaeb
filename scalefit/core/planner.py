"""Which runs to train next, part 2: status rules, the target's variance, greedy choice.

Pure numpy; docs/math.md section 11. A *target* is what the user wants known better: the
predicted ln lr_opt of a law at a target scale/horizon (``h^T v h``-weighted variances of
the optima the law is fitted on), or one sweep's own ln lr_opt. A sweep that is not
``ok`` has no optimum to sharpen: a *status rule* says which LRs it lacks (past its edge,
inside its divergence bracket, ...). The planner picks runs greedily, each the candidate
with the largest expected reduction of the summed target variance per unit cost,
recomputing the chosen sweep's candidates after each pick (the runs it already got count).
One step of lookahead: a sweep's window narrows only once several LRs near its optimum are
run (one at a time they change nothing), so completing the window at the grid's
resolution (the candidates within ``window`` steps of the vertex) is also valued, per run
it needs, and taken one run at a time when it beats every single run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .design import SweepDesign, optimum_mse
from .optimum import (
    ALL_DIVERGED,
    BAD_FIT,
    DIV_BRACKETED,
    EDGE,
    FLAT,
    NOT_CONVEX,
    OFF_GRID,
    OK,
    TOO_FEW,
)
from .scatter import excess_tau2

# ---------------------------------------------------------------- status rules


def rule_points(ds: SweepDesign, g: int) -> tuple[str, list[float], float, float] | None:
    """The status rule of sweep ``g``: (code, ideal ln lr in order of preference, region
    low, region high), or None for an ``ok`` sweep. Codes: ``edge_low`` / ``edge_high``
    (LRs past the edge), ``too_few`` (the LRs a parabola lacks), ``bracket`` (inside the
    divergence bracket), ``bad_fit`` (inside the window, next to the best LR),
    ``off_grid`` (towards the vertex), ``not_convex`` (widen the window), ``flat`` (a step
    past each end of the LRs tried, then a replicate of the best), ``all_diverged`` (below
    the lowest LR tried)."""
    st = int(ds.status[g])
    if st == OK:
        return None
    h, cap = float(ds.step[g]), float(ds.x_cap[g])
    lv = ds.x[g][np.isfinite(ds.x[g])]
    xb = float(ds.x_best[g])
    lo_w, hi_w = (float(v) for v in ds.x_window[:, g])
    if st == ALL_DIVERGED or lv.size == 0:
        return "all_diverged", [cap - h, cap - 2 * h], -np.inf, cap
    if st == DIV_BRACKETED:
        b_lo, b_hi = (float(v) for v in ds.bracket[:, g])
        return "bracket", [(xb + b_hi) / 2, (b_lo + xb) / 2], b_lo, b_hi
    if st == TOO_FEW:
        if lv.size == 1:
            return "too_few", [xb + h, xb - h], -np.inf, cap
        a, b = lv[0], lv[-1]
        other = (a + b) / 2 if b - a > 1.5 * h else None
        if xb == b:
            pts = [b + h, other if other is not None else a - h]
        else:
            pts = [a - h, other if other is not None else b + h]
        return "too_few", pts, -np.inf, cap
    if st == EDGE:
        if xb <= lv[0]:
            return "edge_low", [lv[0] - h, lv[0] - 2 * h], -np.inf, lv[0]
        return "edge_high", [lv[-1] + h, lv[-1] + 2 * h], lv[-1], cap
    if st == BAD_FIT:
        return "bad_fit", [xb - h / 2, xb + h / 2, xb], lo_w, hi_w
    if st == OFF_GRID:
        if ds.x_opt[g] < lo_w:
            return "off_grid", [lo_w - h, lo_w - 2 * h], -np.inf, lo_w
        return "off_grid", [hi_w + h, hi_w + 2 * h], hi_w, cap
    if st == NOT_CONVEX:
        return "not_convex", [lo_w - h, hi_w + h], -np.inf, cap
    if st == FLAT:  # too shallow for the noise: the walls further out, then a replicate
        return "flat", [lv[0] - h, lv[-1] + h, xb], -np.inf, cap
    return None


def rule_runs(ds: SweepDesign, g: int, allowed: np.ndarray | None = None
              ) -> tuple[str, list[float]]:
    """The runs the status rule gives sweep ``g``: (code, ln lr list), never at or above
    ``x_cap``. ``allowed``: the only ln lr it may choose (a grid a replay reveals): then
    the allowed points in the rule's region nearest its first ideal point, as many as it
    has ideal points. ("", []) for an ok sweep or when nothing qualifies."""
    rule = rule_points(ds, g)
    if rule is None:
        return "", []
    code, ideal, lo, hi = rule
    cap = float(ds.x_cap[g])
    tol = 1e-9 * max(1.0, abs(float(ds.step[g])))
    hi = min(hi, cap)
    closed = code in ("bad_fit",)  # the window's own LRs (replicates) qualify

    def inside(v):
        v = np.asarray(v, float)
        if closed:
            return (v >= lo - tol) & (v <= hi + tol) & (v < cap - tol)
        return (v > lo + tol) & (v < hi - tol)

    if allowed is None:
        pts = [float(v) for v in ideal if np.isfinite(v) and inside(v)]
        return code, list(dict.fromkeys(pts))
    a_all = np.asarray(allowed, float)
    a = a_all[inside(a_all)]
    if a.size == 0 and code.startswith("edge"):
        # nothing past the edge may be run: the allowed LR nearest the best instead (a
        # level next to it can still turn out lower and bracket the optimum)
        a = a_all[a_all < cap - tol]
        if a.size == 0:
            return code, []
        order = np.argsort(np.abs(a - float(ds.x_best[g])), kind="stable")
        return code + "_inside", [float(v) for v in a[order][:1]]
    if a.size == 0:
        return code, []
    order = np.argsort(np.abs(a - ideal[0]), kind="stable")
    return code, [float(v) for v in a[order][:len(ideal)]]


# ---------------------------------------------------------------- targets and laws


@dataclass
class Target:
    """One target: ``z0`` (k,) the law's regressors at the target (``[1]`` for a sweep's
    own optimum), ``Z`` (P, k) those of the sweeps the law is fitted on, ``members`` (P,)
    their sweep indices, ``fixed`` (P,) a variance for members that have no parabola
    (a bracket's uniform variance; NaN: use the delta method), ``weight`` the factor on
    its variance in the objective (1, or the curvature at the target for the expected
    loss), ``group``: the quota group it belongs to."""

    z0: np.ndarray
    Z: np.ndarray
    members: np.ndarray
    fixed: np.ndarray
    weight: float = 1.0
    group: int = 0
    new: list = field(default_factory=list)  # (z, var) of new sweeps picked for it


def leverage(Z: np.ndarray, z0: np.ndarray) -> np.ndarray:
    """h (P,) with ``z0^T beta_hat = h^T y`` for least squares of y on Z (NaN if singular)."""
    Z = np.asarray(Z, float)
    A = Z.T @ Z
    if Z.shape[0] < Z.shape[1] or abs(np.linalg.det(A / np.outer(
            np.sqrt(np.diag(A)) + 1e-300, np.sqrt(np.diag(A)) + 1e-300))) < 1e-12:
        return np.full(Z.shape[0], np.nan)
    return Z @ np.linalg.solve(A, z0)


def law_variance(Z: np.ndarray, v: np.ndarray, z0: np.ndarray) -> float:
    """Variance of the law's prediction at ``z0`` from independent point variances ``v``."""
    h = leverage(Z, z0)
    return float(np.sum(h * h * v)) if np.all(np.isfinite(h)) else np.inf


@dataclass(frozen=True)
class NewSweep:
    """A sweep the data does not have yet (a new scale or horizon) for target ``target``:
    its regressors ``z``, the variance ``var`` its optimum would have with ``n_runs``
    runs, the cost of one run, and ``lrs`` (ln lr of its runs)."""

    target: int
    z: np.ndarray
    var: float
    n_runs: int
    cost: float
    lrs: tuple


@dataclass
class Pick:
    """One chosen run: ``sweep`` (-1 for a run of a new sweep), ``x`` (ln lr), ``code``
    (``variance``, a rule code, or ``new_sweep``), ``target``, ``gain`` (expected
    reduction of the weighted target variance; inf for a rule run without a target),
    ``var_before``/``var_after`` (the sweep's own optimum variance), ``target_after``
    (the target's variance after this pick), ``new`` (index of the NewSweep), ``share``
    (the sweep's share of its target's variance before the pick)."""

    sweep: int
    x: float
    code: str
    target: int
    gain: float
    var_before: float = np.nan
    var_after: float = np.nan
    target_after: float = np.nan
    new: int = -1
    share: float = np.nan


class Planner:
    """Greedy choice of ``k`` runs (see the module docstring).

    ds: the sweeps; targets: list of Target; cand_g, cand_x: candidate runs (only those of
    ``ok`` sweeps that are law points with a parabola count); cost: (G,) cost of one run
    of each sweep; rules: sweep -> (code, [ln lr ...]) from ``rule_runs``; pending: sweep
    -> (target, z) for a sweep that is not ok yet and would join that target's law once
    fixed (its rule runs are worth the reduction of the target's variance if it joined
    with variance ``v_typical[target]``, per run of its rule; a sweep that is not pending
    is its own target, whose optimum is unknown); rule runs come before any other run, in
    that order; new: NewSweep
    options; sweep_group: (G,) quota group of each sweep (``per_group``).
    """

    def __init__(self, ds: SweepDesign, targets: list[Target], cand_g, cand_x, cost,
                 rules: dict, pending: dict | None = None, v_typical=None,
                 new: list[NewSweep] = (), sweep_group=None):
        self.ds, self.targets = ds, targets
        self.cost = np.asarray(cost, float)
        self.rules = {g: list(x) for g, (_, x) in rules.items() if x}
        self.rule_code = {g: c for g, (c, _) in rules.items()}
        self.pending = dict(pending or {})
        self.v_typical = v_typical
        self.new = list(new)
        self.new_done: set[int] = set()
        G = ds.n_sweeps
        self.group = np.zeros(G, int) if sweep_group is None else np.asarray(sweep_group)
        self.where = {}  # law point sweep -> (target, position)
        for ti, t in enumerate(targets):
            for p, g in enumerate(t.members):
                self.where[int(g)] = (ti, p)
        self.extra: dict[int, list[float]] = {}
        cg, cx = np.asarray(cand_g, np.int64), np.asarray(cand_x, float)
        keep = np.array([self._precise(int(g)) for g in cg], bool)
        self.cg, self.cx = cg[keep], cx[keep]
        self.v = np.full(G, np.nan)
        members = np.array(sorted(g for g in self.where if self._precise(g)), np.int64)
        if members.size:
            self.v[members] = optimum_mse(ds, members)
        self.vc = (optimum_mse(ds, self.cg, self.cx[:, None]) if self.cg.size
                   else np.zeros(0))
        # the scatter of the optima around each law beyond their noise (core.scatter):
        # no run reduces it, so every law point, old or new, carries it
        self.tau2 = np.array([self._tau2(t) for t in targets])
        self._h: list = [None] * len(targets)
        self.w = np.zeros(G)  # weight of each law point's variance in the objective
        for ti in range(len(targets)):
            self._weights(ti)
        # lookahead: the runs that complete each sweep's window at its grid's resolution
        self.local: dict[int, tuple[list[float], float]] = {}
        for g in np.unique(self.cg):
            self._local(int(g))

    def _precise(self, g: int) -> bool:
        """A law point with a parabola: runs sharpen it."""
        if g not in self.where or self.ds.status[g] != OK:
            return False
        ti, p = self.where[g]
        return bool(np.isnan(self.targets[ti].fixed[p]))

    def _tau2(self, t: Target) -> float:
        """tau^2 of a law target: the RSS of its points' current optima around the law
        beyond what their predicted variances explain (0 for a sweep's own optimum)."""
        if t.Z.shape[0] <= t.Z.shape[1]:
            return 0.0
        y = self.ds.x_opt[t.members]
        v = np.where(np.isnan(t.fixed), self.v[t.members], t.fixed)
        return excess_tau2(t.Z, y, v)

    # -- the objective
    def _point_var(self, ti: int) -> np.ndarray:
        t = self.targets[ti]
        v = np.where(np.isnan(t.fixed), self.v[t.members], t.fixed)
        return np.concatenate([v, [var for _, var in t.new]]) + self.tau2[ti]

    def _Z(self, ti: int) -> np.ndarray:
        t = self.targets[ti]
        return np.vstack([t.Z, *[z[None] for z, _ in t.new]]) if t.new else t.Z

    def h(self, ti: int) -> np.ndarray:
        if self._h[ti] is None:
            self._h[ti] = leverage(self._Z(ti), self.targets[ti].z0)
        return self._h[ti]

    def _weights(self, ti: int) -> None:
        t = self.targets[ti]
        h = self.h(ti)[:len(t.members)]
        self.w[t.members] = np.where(np.isfinite(h), t.weight * h * h, 0.0)

    def target_var(self, ti: int) -> float:
        h = self.h(ti)
        if not np.all(np.isfinite(h)):
            return np.inf
        return float(np.sum(h * h * self._point_var(ti)))

    def _with_point(self, ti: int, z: np.ndarray, var: float) -> float:
        Z = np.vstack([self._Z(ti), np.asarray(z, float)[None]])
        return law_variance(Z, np.concatenate([self._point_var(ti), [var + self.tau2[ti]]]),
                            self.targets[ti].z0)

    def rule_value(self, g: int) -> float:
        """The order of rule runs (all come before any other run): with a target, what one
        run of sweep g's rule is worth if the sweep joined the law (inf: it is its own
        target, whose optimum is unknown)."""
        if g not in self.pending:
            return np.inf
        ti, z = self.pending[g]
        vt = np.nan if self.v_typical is None else self.v_typical[ti]
        if not np.isfinite(vt):
            return np.inf
        n = max(1, len(self.rules.get(g, ())) + len(self.extra.get(g, ())))
        gain = self.targets[ti].weight * (self.target_var(ti) - self._with_point(ti, z, vt))
        return float(gain) / n if np.isfinite(gain) else np.inf

    def _variance_gain(self) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            gain = self.w[self.cg] * (self.v[self.cg] - self.vc)
        return np.nan_to_num(gain, nan=0.0, neginf=0.0, posinf=0.0)

    def _local(self, g: int) -> None:
        """The candidate LRs of sweep g within ``window`` grid steps of its vertex on the grid
        of its levels and candidates together, not run yet (nearest the vertex first), and
        the expected squared error with all of them: ``local[g]``."""
        cand = self.cx[self.cg == g]
        have = np.concatenate([self.ds.x[g][np.isfinite(self.ds.x[g])],
                               np.asarray(self.extra.get(g, []), float)])
        grid = np.unique(np.concatenate([have, cand]))
        if grid.size < 3 or not np.isfinite(self.ds.x_opt[g]):
            self.local.pop(g, None)
            return
        j = int(np.argmin(np.abs(grid - self.ds.x_opt[g])))
        near = grid[max(0, j - self.ds.window):j + self.ds.window + 1]
        tol = 1e-9 * max(1.0, float(np.abs(near).max()))
        missing = [float(v) for v in near if not np.any(np.abs(have - v) <= tol)]
        if not missing:
            self.local.pop(g, None)
            return
        missing.sort(key=lambda v: abs(v - self.ds.x_opt[g]))
        ex = np.concatenate([np.asarray(self.extra.get(g, []), float), missing])
        self.local[g] = (missing, float(optimum_mse(self.ds, np.array([g]), ex[None])[0]))

    def _local_gain(self, g: int) -> float:
        """Expected reduction per run from completing sweep g's window."""
        missing, mse = self.local[g]
        drop = self.w[g] * (self.v[g] - mse)
        return float(drop) / len(missing) if np.isfinite(drop) else 0.0

    # -- the greedy loop
    def run(self, k: int, per_group: bool = False) -> list[Pick]:
        """Up to ``k`` runs (``per_group``: up to ``k`` per quota group)."""
        picks: list[Pick] = []
        n_groups = int(max(self.group.max(initial=0),
                           max((t.group for t in self.targets), default=0))) + 1
        used = np.zeros(n_groups, int)
        quota = int(k) if per_group else np.iinfo(np.int64).max
        left = np.inf if per_group else int(k)
        while left > 0:
            choice, _ = self._best(used, quota, left)
            if choice is None:
                break
            for p in (new := self._take(*choice)):
                grp = self.group[p.sweep] if p.sweep >= 0 else self.targets[p.target].group
                used[int(grp)] += 1
            picks += new
            left -= len(new)
        return picks

    def _best(self, used, quota, left):
        best, key = None, None
        for g, xs in self.rules.items():  # rule runs first: an unknown optimum
            if xs and used[self.group[g]] < quota:
                k = (self.rule_value(g) / self.cost[g], -len(self.extra.get(g, ())),
                     -self.cost[g], -g)
                if key is None or k > key:
                    best, key = ("rule", g), k
        if key is not None:
            return best, np.inf
        score = -np.inf
        if self.cg.size:  # precision runs
            sc = self._variance_gain() / self.cost[self.cg]
            sc = np.where(used[self.group[self.cg]] < quota, sc, -np.inf)
            i = int(np.argmax(sc))
            if sc[i] > 0 and sc[i] > score:
                best, score = ("variance", i), sc[i]
        for g in self.local:  # completing a sweep's window, one run at a time
            if used[self.group[g]] < quota:
                sc = self._local_gain(g) / self.cost[g]
                if sc > 0 and sc > score:
                    best, score = ("local", g), sc
        for j, ns in enumerate(self.new):  # new sweeps
            grp = self.targets[ns.target].group
            if j in self.new_done or ns.n_runs > left or used[grp] + ns.n_runs > quota:
                continue
            gain = self.targets[ns.target].weight * (
                self.target_var(ns.target) - self._with_point(ns.target, ns.z, ns.var))
            s = gain / (ns.n_runs * ns.cost)
            if np.isfinite(s) and s > 0 and s > score:
                best, score = ("new", j), s
        return best, score

    def _take(self, kind: str, i: int) -> list[Pick]:
        if kind == "rule":
            g = i
            value = self.rule_value(g)
            x = self.rules[g].pop(0)
            self.extra.setdefault(g, []).append(x)
            ti = self.pending.get(g, (self.where.get(g, (-1, 0))[0], None))[0]
            return [Pick(sweep=g, x=x, code=self.rule_code[g], target=ti, gain=value)]
        if kind == "local":
            return [self._precision(i, self.local[i][0][0], self._local_gain(i))]
        if kind == "variance":
            g = int(self.cg[i])
            return [self._precision(g, float(self.cx[i]),
                                    float(self.w[g] * (self.v[g] - self.vc[i])))]
        ns = self.new[i]
        before = self.target_var(ns.target)
        self.targets[ns.target].new.append((np.asarray(ns.z, float), ns.var))
        self._h[ns.target] = None
        self._weights(ns.target)
        self.new_done.add(i)
        after = self.target_var(ns.target)
        gain = self.targets[ns.target].weight * (before - after)
        return [Pick(sweep=-1, x=float(x), code="new_sweep", target=ns.target, gain=gain,
                     var_after=ns.var, target_after=after, new=i) for x in ns.lrs]

    def _precision(self, g: int, x: float, gain: float) -> Pick:
        """Add a precision run at x to sweep g; the pick with its before and after."""
        ti, _ = self.where[g]
        before = self.v[g]
        share = self.w[g] * before / (self.targets[ti].weight * self.target_var(ti))
        self.extra.setdefault(g, []).append(x)
        self._update(g)
        return Pick(sweep=g, x=x, code="variance", target=ti, gain=gain,
                    var_before=float(before), var_after=float(self.v[g]),
                    target_after=self.target_var(ti), share=float(share))

    def _update(self, g: int) -> None:
        """Recompute sweep g's variance and its candidates' after a pick."""
        ex = np.asarray(self.extra[g], float)
        self.v[g] = optimum_mse(self.ds, np.array([g]), ex[None, :])[0]
        sel = np.flatnonzero(self.cg == g)
        if sel.size:
            extra = np.column_stack([np.repeat(ex[None, :], sel.size, 0), self.cx[sel]])
            self.vc[sel] = optimum_mse(self.ds, self.cg[sel], extra)
            self._local(g)
