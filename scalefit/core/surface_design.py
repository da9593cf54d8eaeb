"""Which runs to train next for joint LR x batch-size optima (docs/math.md section 11).

Pure numpy. A *surface* is the LR x batch-size grid of one (group, scale, horizon), fitted
by ``core.joint.fit_surfaces``. Its runs are arrays ``x`` (ln lr), ``y`` (ln bs), ``loss``
(finite losses only) with ``owner`` (the surface of each run).

**Error of a joint optimum.** ``fit_surfaces`` fits ``L = c . f(t, u)`` (a full quadratic in
``t = x - x_best``, ``u = y - y_best``) on the cells of its window; by the delta method
the vertex has covariance ``sigma^2 J M^-1 J^T`` (``core.surface_error``), and the error
of the joint optimum is ``v = Var ln lr* + Var ln bs*``. As for LR sweeps, each
candidate run is evaluated on the window the estimator would use *with* it: its loss is
predicted by the current surface, the cells are rebuilt with it (``merge_levels``: a run
at a tried cell is a replicate) and ``fit_surfaces`` recomputes the best cell and the
window (every candidate of every surface a pseudo-surface, in one call). A candidate after
which the surface would not be ``ok`` has infinite error.

**Status rules.** A surface that is not ``ok`` has no optimum to sharpen; ``rule_points``
says which cells it lacks (past an LR or batch-size edge, the cells a quadratic needs
around the best one, towards an off-grid vertex, ...), as ideal (x, y) points that
``SurfacePlanner`` maps to the nearest allowed cells. An ``ok`` surface whose window skips
allowed levels next to its best cell, and whose vertex depends on that wider window's width
(``shift_p`` or ``lack_of_fit`` below ``LOF_ALPHA``), gets those levels first
(``resolution``): its vertex would otherwise differ from a complete grid's by a bias no run
at its present levels removes.

**Greedy choice.** Rule runs first (surfaces with the fewest runs given so far first,
then the cheapest), then the candidate with the largest expected reduction of the
weighted error ``sum_s w_s v_s`` per unit cost; after each pick the chosen surface's
error and its candidates' are recomputed with the run added at its predicted loss. Once
no single run is expected to help (a cell outside the estimator's current window changes
nothing on its own), the lookahead completes the window at the grid's resolution around
each surface's vertex (``window`` grid steps), as the LR planner does.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from .joint import (
    ALL_DIVERGED,
    BAD_FIT,
    EDGE_BS,
    EDGE_LR,
    LEVEL_TOL,
    NOT_CONVEX,
    OFF_GRID,
    OK,
    SADDLE,
    TOO_FEW,
    merge_levels,
)
from .surface_error import (
    cells_of,
    error_of,
    fit_cells,
    lack_of_fit,
    predict_loss,
    shift_p,
    vertex_covariance,
    vertex_variance,
)

# ---------------------------------------------------------------- status rules


@dataclass
class SurfaceView:
    """What the rules need of one surface: its finite runs' cells (xs, ys), the best cell,
    the window box, the fitted vertex (NaN if none), the grid steps, the diverged runs."""

    xs: np.ndarray
    ys: np.ndarray
    x_best: float
    y_best: float
    box: tuple  # (x_lo, x_hi, y_lo, y_hi), NaN if none
    vertex: tuple  # (x, y)
    hx: float
    hy: float
    x_div: np.ndarray
    y_div: np.ndarray


def rule_points(st: int, v: SurfaceView, fill: bool = True):
    """(code, ideal (x, y) points in order of preference, region(x, y) -> bool) of a
    surface that is not ok; None for an ok one. ``off_grid``: with ``fill`` the untried
    cells inside the window nearest the vertex (``off_grid_fill``), else cells beyond it."""
    if st == OK:
        return None
    hx, hy, xb, yb = v.hx, v.hy, v.x_best, v.y_best
    tol_x, tol_y = 0.5 * hx, 0.5 * hy
    if st == ALL_DIVERGED or v.xs.size == 0:
        lo = float(v.x_div.min()) if v.x_div.size else 0.0
        ym = float(np.median(v.y_div)) if v.y_div.size else 0.0
        return ("all_diverged", [(lo - hx, ym), (lo - 2 * hx, ym)],
                lambda x, y: x < lo - 1e-9)
    seen = set(zip(np.round(v.xs / hx, 6), np.round(v.ys / hy, 6)))

    def unseen(x, y):
        return (round(x / hx, 6), round(y / hy, 6)) not in seen

    if st == EDGE_LR:
        row = v.xs[np.abs(v.ys - yb) < tol_y]
        if xb <= row.min() + 1e-6:
            e = float(row.min())
            return ("edge_lr_low", [(e - hx, yb), (e - 2 * hx, yb)],
                    lambda x, y: (x < e - 1e-9) & (np.abs(y - yb) < tol_y))
        e = float(row.max())
        return ("edge_lr_high", [(e + hx, yb), (e + 2 * hx, yb)],
                lambda x, y: (x > e + 1e-9) & (np.abs(y - yb) < tol_y))
    if st == EDGE_BS:
        col = v.ys[np.abs(v.xs - xb) < tol_x]
        near = lambda x: np.abs(x - xb) < 1.5 * hx  # noqa: E731  the valley may tilt
        if yb <= col.min() + 1e-6:
            e = float(col.min())
            return ("edge_bs_low", [(xb, e - hy), (xb - hx, e - hy), (xb, e - 2 * hy)],
                    lambda x, y: (y < e - 1e-9) & near(x))
        e = float(col.max())
        return ("edge_bs_high", [(xb, e + hy), (xb + hx, e + hy), (xb, e + 2 * hy)],
                lambda x, y: (y > e + 1e-9) & near(x))
    if st == OFF_GRID and np.all(np.isfinite(v.box)) and np.all(np.isfinite(v.vertex)):
        x_lo, x_hi, y_lo, y_hi = v.box
        # untried cells inside the window first: only they change the window's fit
        edge = (float(np.clip(v.vertex[0], x_lo, x_hi)), float(np.clip(v.vertex[1], y_lo, y_hi)))
        if fill:
            def inside(x, y):
                x, y = np.asarray(x, float), np.asarray(y, float)
                tried = np.any((np.abs(x[..., None] - v.xs) < tol_x)
                               & (np.abs(y[..., None] - v.ys) < tol_y), -1)
                return ((x >= x_lo - 1e-9) & (x <= x_hi + 1e-9) & (y >= y_lo - 1e-9)
                        & (y <= y_hi + 1e-9) & ~tried)
            return ("off_grid_fill", [edge, edge, edge], inside)
        pts = [(float(np.clip(v.vertex[0], x_lo - i * hx, x_hi + i * hx)),
                float(np.clip(v.vertex[1], y_lo - i * hy, y_hi + i * hy))) for i in (1, 2)]
        return ("off_grid", pts, lambda x, y: ((x < x_lo - 1e-9) | (x > x_hi + 1e-9)
                                               | (y < y_lo - 1e-9) | (y > y_hi + 1e-9)))
    # too_few, not_convex, saddle, bad_fit (and off_grid without a box): the cells a
    # quadratic needs around the best one, axis neighbours first, then diagonals, then
    # two steps out; the directions that lack levels first
    code = {TOO_FEW: "too_few", NOT_CONVEX: "not_convex", SADDLE: "saddle",
            BAD_FIT: "bad_fit", OFF_GRID: "off_grid"}.get(st, "too_few")
    few_x = np.unique(np.round(v.xs / hx, 6)).size < 3
    few_y = np.unique(np.round(v.ys / hy, 6)).size < 3
    ring1 = [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1), (1, -1), (-1, 1)]
    ring2 = [(2, 0), (-2, 0), (0, 2), (0, -2), (2, 1), (-2, -1), (1, 2), (-1, -2),
             (2, -1), (-2, 1), (1, -2), (-1, 2)]

    def order(d):
        dx, dy = d
        lacking = (few_y and dy != 0 and dx == 0) or (few_x and dx != 0 and dy == 0)
        return (not lacking,)

    pts = [(xb + dx * hx, yb + dy * hy) for dx, dy in sorted(ring1, key=order) + ring2]
    pts = [p for p in pts if unseen(*p)]
    if st == BAD_FIT:
        pts.append((xb, yb))  # a replicate of the best cell
    return (code, pts[:3], lambda x, y: np.ones(np.shape(x), bool))


# ---------------------------------------------------------------- the greedy choice


# The level of the shift and lack-of-fit tests below which an ok surface whose window skips
# allowed levels gets them (``SurfacePlanner._resolution_rules``): its vertex then depends
# on the window's width, and only the grid's own width gives the answer a complete grid
# would.
LOF_ALPHA = 0.01


@dataclass
class JointPick:
    """One chosen run of surface ``surface`` at (x, y) = (ln lr, ln bs); ``code``
    (``variance`` or a rule code), ``gain`` (weighted reduction of the error; inf for a
    rule run), ``var_before`` / ``var_after`` (the surface's own error: a variance, or a
    loss cost with a metric), ``objective_after`` (the summed weighted error after the
    pick), ``sds_after`` (``SurfacePlanner.sds`` after the pick: the s.d.s in ln)."""

    surface: int
    x: float
    y: float
    code: str
    gain: float
    var_before: float = np.nan
    var_after: float = np.nan
    objective_after: float = np.nan
    sds_after: tuple = (np.nan, np.nan)


class SurfacePlanner:
    """Greedy choice of runs for joint surfaces (module docstring).

    x, y, loss, owner: the finite runs of the S surfaces; views: S SurfaceViews; cand_s,
    cand_x, cand_y: the allowed cells (replicates of tried cells among them where
    ``replicates``); weight (S,): each surface's weight in the objective (0: not a
    target); cost (S,): cost of one run; sigma (S,): run noise; metric (S, 2, 2) or None:
    each surface's error is ``tr(metric C)`` (the expected loss cost where metric is the
    valley's curvature matrix) instead of ``tr C``; fit options.
    """

    def __init__(self, x, y, loss, owner, views, cand_s, cand_x, cand_y, weight, cost, sigma,
                 replicates=True, window=2, max_misfit=0.25, gap_sd=2.0, metric=None):
        self.runs = [np.column_stack([np.asarray(x)[owner == s], np.asarray(y)[owner == s],
                                      np.asarray(loss)[owner == s]]) for s in range(len(views))]
        self.views = views
        self.S = len(views)
        self.cs = np.asarray(cand_s, np.int64)
        self.cx, self.cy = np.asarray(cand_x, float), np.asarray(cand_y, float)
        self.alive = np.ones(self.cs.size, bool)
        self.w, self.cost = np.asarray(weight, float), np.asarray(cost, float)
        self.sigma = np.asarray(sigma, float)
        self.metric = None if metric is None else np.asarray(metric, float)
        self.replicates = replicates
        self.opts = dict(window=window, max_misfit=max_misfit, gap_sd=gap_sd)
        self.given = np.zeros(self.S, int)
        self.open = np.ones(self.S, bool)  # surfaces whose quota is not spent (run)
        cells, self.fit = self._cells(np.arange(self.S))
        self.v, self.cov = self._errors(cells, self.fit, np.arange(self.S))
        self.status = np.asarray(self.fit.status).copy()
        self.vc = np.full(self.cs.size, np.inf)
        self._evaluate(np.arange(self.S))
        self.lof_p, self.lof_sd = lack_of_fit(*cells, self.fit)  # on the runs as given
        self.rules = {}
        for s in range(self.S):
            r = self._rule(s) if self.status[s] != OK else None
            if r is not None:
                self.rules[s] = r
        self.rules.update(self._resolution_rules())

    # -- surfaces and candidates
    def _cells(self, surfaces):
        """The cells (X, Y, n, s, q) of the runs of ``surfaces`` (chosen ones at their
        predicted losses) and their fit."""
        rs = [self.runs[s] for s in surfaces]
        own = np.concatenate([np.full(len(r), i) for i, r in enumerate(rs)]) if rs else []
        allr = np.concatenate(rs) if rs else np.zeros((0, 3))
        cells = cells_of(allr[:, 0], allr[:, 1], allr[:, 2], own, len(rs))
        return cells, fit_cells(*cells, **self.opts)

    def _errors(self, cells, fit, surfaces):
        """(error (G,), vertex covariance (G, 2, 2)) of ``surfaces`` from their cells."""
        X, Y, n, _, _ = cells
        cov = vertex_covariance(X, Y, n, fit, self.sigma[surfaces])
        return error_of(cov, self._metric(surfaces)), cov

    def _state(self, surfaces):
        cells, fit = self._cells(surfaces)
        return (fit, *self._errors(cells, fit, surfaces))

    def _metric(self, surfaces):
        return None if self.metric is None else self.metric[surfaces]

    def _evaluate(self, surfaces) -> None:
        """Error of each alive candidate of ``surfaces`` if it were run (at its predicted
        loss), on the window the estimator would use with it."""
        surfaces = [int(s) for s in surfaces if self.status[s] == OK]
        sel = np.flatnonzero(np.isin(self.cs, surfaces) & self.alive)
        if sel.size == 0:
            return
        g = self.cs[sel]
        pred = predict_loss(self.fit, g, self.cx[sel], self.cy[sel])
        parts, owner = [], []
        for i, (s, x, y, p) in enumerate(zip(g, self.cx[sel], self.cy[sel], pred)):
            r = self.runs[s]
            parts.append(np.vstack([r, [[x, y, p]]]))
            owner.append(np.full(len(r) + 1, i))
        allr, own = np.concatenate(parts), np.concatenate(owner)
        X, Y, n, s_, q = cells_of(allr[:, 0], allr[:, 1], allr[:, 2], own, sel.size)
        fit = fit_cells(X, Y, n, s_, q, **self.opts)
        self.vc[sel] = vertex_variance(X, Y, n, fit, self.sigma[g], self._metric(g))

    def _rule(self, s: int):
        r = rule_points(int(self.status[s]), self.views[s])
        if r is None:
            return None
        code, ideal, region = r
        mine = np.flatnonzero((self.cs == s) & self.alive)
        hx, hy = self.views[s].hx, self.views[s].hy
        inside = mine[np.asarray(region(self.cx[mine], self.cy[mine]), bool)] if mine.size \
            else mine
        if code == "off_grid_fill" and inside.size == 0:  # the window is complete
            code, ideal, region = rule_points(int(self.status[s]), self.views[s], fill=False)
            inside = mine[np.asarray(region(self.cx[mine], self.cy[mine]), bool)] \
                if mine.size else mine
        chosen = []
        for px, py in ideal:
            pool = np.setdiff1d(inside, chosen)
            if pool.size == 0:
                break
            d = ((self.cx[pool] - px) / hx) ** 2 + ((self.cy[pool] - py) / hy) ** 2
            chosen.append(int(pool[np.argmin(d)]))
        if not chosen and mine.size:  # nothing where the rule looks: the nearest allowed cell
            v = self.views[s]
            d = ((self.cx[mine] - v.x_best) / hx) ** 2 + ((self.cy[mine] - v.y_best) / hy) ** 2
            chosen, code = [int(mine[np.argmin(d)])], code + "_near"
        return (code, chosen) if chosen else None

    def _resolution(self, s: int):
        """(cells, box) of an ok surface whose window is coarser than the allowed grid: the
        grid levels (its runs' and allowed cells', in ln lr and in ln bs) within ``window``
        levels of the best cell that none of its runs has, each as the allowed cell at that
        level nearest the best cell, nearest levels first; ``box`` (x_lo, x_hi, y_lo, y_hi)
        the window a complete grid would have. None if no level is missing."""
        v, win = self.views[s], self.opts["window"]
        mine = np.flatnonzero((self.cs == s) & self.alive)
        if mine.size == 0 or not (np.isfinite(v.x_best) and np.isfinite(v.y_best)):
            return None
        r = self.runs[s]
        wanted, box = [], []  # (distance in levels, cell); the box's ends per axis
        for best, have, cand in ((v.x_best, r[:, 0], self.cx[mine]),
                                 (v.y_best, r[:, 1], self.cy[mine])):
            both = np.concatenate([have, cand])
            lev = merge_levels(both, np.zeros(both.size, np.int64), 1)[0][0]
            lev = lev[np.isfinite(lev)]
            jb = int(np.argmin(np.abs(lev - best)))
            lo, hi = max(0, jb - win), min(lev.size - 1, jb + win)
            box += [lev[lo] - LEVEL_TOL, lev[hi] + LEVEL_TOL]
            for j in range(lo, hi + 1):
                if np.any(np.abs(have - lev[j]) <= LEVEL_TOL):
                    continue
                at = mine[np.abs(cand - lev[j]) <= LEVEL_TOL]
                at = at[~np.isin(at, [c for _, c in wanted])]
                if at.size == 0:
                    continue
                d = ((self.cx[at] - v.x_best) / v.hx) ** 2 + ((self.cy[at] - v.y_best) / v.hy) ** 2
                wanted.append((abs(j - jb), int(at[np.argmin(d)])))
        if not wanted:
            return None
        return [c for _, c in sorted(wanted, key=lambda t: t[0])], tuple(box)

    def _resolution_rules(self) -> dict:
        """``resolution`` rules of the ok target surfaces whose window skips allowed levels
        and whose vertex depends on the window's width: the vertex fitted on the runs inside
        the box a complete grid would use moves from the window's by more than its noise
        (``shift_p``), or the valley is not quadratic across the window
        (``lack_of_fit``); either below ``LOF_ALPHA``."""
        found = {s: r for s in np.flatnonzero((self.status == OK) & (self.w > 0))
                 if (r := self._resolution(int(s))) is not None}
        if not found:
            return {}
        sel = np.array(sorted(found))
        parts = []
        for s in sel:
            x_lo, x_hi, y_lo, y_hi = found[s][1]
            r = self.runs[s]
            parts.append(r[(r[:, 0] >= x_lo) & (r[:, 0] <= x_hi) & (r[:, 1] >= y_lo)
                           & (r[:, 1] <= y_hi)])
        own = np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)])
        allr = np.concatenate(parts)
        X, Y, n, s_, q = cells_of(allr[:, 0], allr[:, 1], allr[:, 2], own, sel.size)
        narrow = fit_cells(X, Y, n, s_, q, **{**self.opts, "window": 10 ** 6})
        # the noise: the richer surface's residual where it has 3 degrees of freedom (the
        # quadratic's, pooled into sigma, holds the very lack of fit being tested)
        noise = np.where(np.isfinite(self.lof_sd[sel]), self.lof_sd[sel], self.sigma[sel])
        cov = vertex_covariance(X, Y, n, narrow, noise)
        p = shift_p(narrow, cov, self.fit.x_opt[sel], self.fit.y_opt[sel])
        fire = (p < LOF_ALPHA) | (self.lof_p[sel] < LOF_ALPHA)
        return {int(s): ("resolution", found[s][0]) for s, f in zip(sel, fire) if f}

    def sds(self, s: int) -> tuple[float, float]:
        """(s.d. of surface ``s``'s vertex, s.d. of the weighted target: sqrt of
        ``sum_s w_s tr C_s``) now, in ln, whatever the objective."""
        with np.errstate(invalid="ignore", over="ignore"):
            tr = self.cov[:, 0, 0] + self.cov[:, 1, 1]
            m = self.w > 0
            t = float(np.sum(self.w[m] * tr[m]))
        root = lambda v: float(np.sqrt(v)) if np.isfinite(v) and v >= 0 else np.nan  # noqa: E731
        return root(float(tr[s])), root(t)

    def objective(self) -> float:
        m = self.w > 0
        return float(np.sum(self.w[m] * self.v[m]))

    # -- the greedy loop
    def run(self, k: int, group=None, spent=None) -> list[JointPick]:
        """Up to ``k`` runs; with ``group`` (S,) (each surface's quota group) up to ``k`` per
        group; ``spent``: {group: runs already given elsewhere} (group 0 without ``group``)."""
        picks: list[JointPick] = []
        group = np.zeros(self.S, np.int64) if group is None else np.asarray(group)
        left = {g: int(k) - int((spent or {}).get(int(g), 0)) for g in np.unique(group)}
        while True:
            self.open = np.array([left[g] > 0 for g in group], bool)
            if not self.open.any():
                break
            n_before = len(picks)
            self._step(picks)
            if len(picks) == n_before:
                break
            left[group[picks[-1].surface]] -= 1
        return picks

    def preview_score(self, n: int) -> float:
        """The expected reduction of the weighted error per unit cost of the ``n`` runs this
        planner would choose next (on a copy; rule runs count their cost, no gain)."""
        other = copy.deepcopy(self)
        before = other.objective()
        picks = other.run(n)
        spent = float(sum(self.cost[p.surface] for p in picks))
        return max(before - other.objective(), 0.0) / spent if spent > 0 else 0.0

    def _step(self, picks: list) -> None:
        """Append the next pick among the open surfaces (``self.open``), if any: a rule run,
        else the best reduction of the weighted error per unit cost, else the lookahead."""
        live = [s for s, (_, c) in self.rules.items() if c and self.open[s]]
        if live:
            s = min(live, key=lambda s: (self.given[s], self.cost[s], s))
            code, cells = self.rules[s]
            picks.append(self._take(cells.pop(0), code, np.inf))
            return
        with np.errstate(invalid="ignore"):
            gain = self.w[self.cs] * (self.v[self.cs] - self.vc)
        gain = np.where(self.alive & self.open[self.cs] & np.isfinite(gain), gain, -np.inf)
        if gain.size:
            score = gain / self.cost[self.cs]
            i = int(np.argmax(score))
            if score[i] > 0:
                picks.append(self._take(i, "variance", float(gain[i])))
                return
        i = self._completion()
        if i >= 0:
            picks.append(self._take(i, "window", np.nan))

    def _completion(self) -> int:
        """Lookahead once no single run is expected to help: an untried allowed cell within
        ``window`` grid steps of an ok target surface's vertex (the window the estimator
        would fit if the grid were complete there), nearest the vertex first, the surface with
        the largest weighted error first; -1 if none."""
        win = self.opts["window"]
        best, key = -1, None
        for s in np.flatnonzero((self.w > 0) & (self.status == OK) & self.open):
            v = self.views[s]
            xo, yo = self.fit.x_opt[s], self.fit.y_opt[s]
            if not (np.isfinite(xo) and np.isfinite(yo)):
                continue
            m = np.flatnonzero((self.cs == s) & self.alive)
            if m.size == 0:
                continue
            dx, dy = (self.cx[m] - xo) / v.hx, (self.cy[m] - yo) / v.hy
            r = self.runs[s]
            tried = np.array([np.any((np.abs(r[:, 0] - x) < 1e-6) & (np.abs(r[:, 1] - y) < 1e-6))
                              for x, y in zip(self.cx[m], self.cy[m])], bool)
            ok = (np.abs(dx) <= win + 1e-6) & (np.abs(dy) <= win + 1e-6) & ~tried
            if not ok.any():
                continue
            j = int(np.argmin(np.where(ok, dx * dx + dy * dy, np.inf)))
            k = (-float(self.w[s] * self.v[s]), float(dx[j] ** 2 + dy[j] ** 2), s)
            if key is None or k < key:
                best, key = int(m[j]), k
        return best

    def _take(self, i: int, code: str, gain: float) -> JointPick:
        s, x, y = int(self.cs[i]), float(self.cx[i]), float(self.cy[i])
        self.given[s] += 1
        if not self.replicates:
            self.alive[i] = False
        before = float(self.v[s])
        if code in ("variance", "window", "resolution"):
            p = float(predict_loss(self.fit, np.array([s]), np.array([x]), np.array([y]))[0])
            self.runs[s] = np.vstack([self.runs[s], [[x, y, p]]])
            self.fit, self.v, self.cov = self._state(np.arange(self.S))
            self._evaluate([s])
        return JointPick(surface=s, x=x, y=y, code=code, gain=gain, var_before=before,
                         var_after=float(self.v[s]), objective_after=self.objective(),
                         sds_after=self.sds(s))
