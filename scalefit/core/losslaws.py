"""Loss laws with an asymptote, ``y = L_inf + A * s^alpha`` (alpha < 0, A > 0).

For fixed alpha the model is linear in (L_inf, A), so the sum of squares is profiled over
a fine grid of alpha for all resamples at once and refined by parabolic interpolation and
a golden section search (``scalefit.Law.lmfit_result()`` refits it with lmfit on request).

Inputs are plain arrays; NaN in a target marks a point that is absent from that
resample (it gets weight zero).
"""

from __future__ import annotations

import numpy as np

from .bootstrap import percentile_ci
from .identify import loss_asymptote_identified
from .laws import LawFit
from .sums import rowsum

ALPHA_GRID = -np.geomspace(4.0, 0.005, 64)  # coarse exponent grid, ascending -4 .. -0.005
FINE_POINTS = 33  # points of the per-resample fine grid between coarse neighbours
_CHUNK = 1024  # columns of the fine grid at a time
_GOLDEN_CHUNK = 4096  # columns of the golden section at a time
_REFINE_COLUMNS = 65_536  # columns refined at once (bounds the (columns, FINE_POINTS) arrays)


def _profile_sse(z: np.ndarray, y: np.ndarray, w: np.ndarray, positive: bool = True):
    """Profiled least squares of ``y = L + A z`` for every alpha column of z.

    z: (P, M) values ``s^alpha``; y, w: (B, P) targets and weights.
    Returns (L, A, sse), each (B, M); sse is inf where the fit is singular, or where
    A <= 0 when ``positive``.
    """
    Sw = w.sum(-1)[:, None]
    Sy = (w * y).sum(-1)[:, None]
    Syy = (w * y * y).sum(-1)[:, None]
    return _profile_tail(Sw, Sy, Syy, w @ z, w @ (z * z), (w * y) @ z, positive)


def _profile_tail(Sw, Sy, Syy, Sz, Szz, Szy, positive):
    """(L, A, sse) of ``_profile_sse`` from the sums over the points."""
    den = Sw * Szz - Sz * Sz
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        A = (Sw * Szy - Sz * Sy) / den
        L = (Sy - A * Sz) / Sw
        sse = Syy - L * Sy - A * Szy
    singular = den <= 1e-14 * np.maximum(Sw * Szz, 1e-300)
    bad = ~np.isfinite(sse) | ((A <= 0) if positive else False) | singular
    return L, A, np.where(bad, np.inf, np.maximum(sse, 0.0))


def loss_law_profile(
    s: np.ndarray, Y: np.ndarray, grid: np.ndarray = ALPHA_GRID, positive: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares ``y = L_inf + A s^alpha`` for every row of Y (B, P); NaN = absent.

    ``positive`` constrains A > 0 (a law that falls with s); otherwise A takes any sign.
    alpha is profiled on a coarse grid, then on a fine grid between the neighbours of
    each row's best coarse point, then refined by parabolic interpolation.
    Returns (L_inf, A, alpha, at_bound), each (B,); ``at_bound`` marks fits whose alpha
    sits at the flat end of the search range (alpha -> 0: no decay, so L_inf and A are
    not separately identified). NaN where no fit exists.
    """
    return loss_law_profiles([(s, Y)], grid, positive)[0]


def loss_law_profiles(problems, grid: np.ndarray = ALPHA_GRID, positive: bool = True
                      ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """``loss_law_profile`` of many problems ``(s, Y)`` at once (one per law, its point
    fit and its resamples, say): each problem's coarse grid, then one fine grid and one
    golden-section search for the rows of every problem with the same number of points.

    The rows are laid out as columns, (P, rows), so that each sum over the points is a
    few operations on long arrays; every sum adds in the order numpy adds a row
    (``core.sums.rowsum``, ``_seqsum``), so each row gets the numbers it gets alone, to the bit.
    """
    coarse = [_coarse(s, Y, grid, positive) for s, Y in problems]
    out: list = [None] * len(coarse)
    for P in sorted({c["u"].size for c in coarse}):
        idx = [i for i, c in enumerate(coarse) if c["u"].size == P]
        rows = [len(coarse[i]["y"]) for i in idx]
        u = np.concatenate([np.repeat(coarse[i]["u"][:, None], n, 1)
                            for i, n in zip(idx, rows)], axis=1)  # (P, R)
        y, w = (np.ascontiguousarray(np.concatenate([coarse[i][k] for i in idx]).T)
                for k in ("y", "w"))
        m, ok = (np.concatenate([coarse[i][k] for i in idx]) for k in ("m", "ok"))
        s_ref = np.repeat([coarse[i]["s_ref"] for i in idx], rows)
        res = [np.empty(len(m)), np.empty(len(m)), np.empty(len(m)), np.empty(len(m), bool)]
        full = (w == 1).all(0)  # columns with every point present: no weights to apply
        for cols, weighted in ((np.flatnonzero(full), False), (np.flatnonzero(~full), True)):
            # (P, columns) in C order: the sums over P run along long rows; at most
            # _REFINE_COLUMNS at a time (each column's numbers do not depend on the others)
            for c in range(0, cols.size, _REFINE_COLUMNS):
                sel = cols[c:c + _REFINE_COLUMNS]
                uu, yy, ww = (np.ascontiguousarray(a[:, sel]) for a in (u, y, w))
                for r, v in zip(res, _refine(uu, yy, ww if weighted else None, m[sel],
                                             ok[sel], s_ref[sel], grid, positive)):
                    r[sel] = v
                del uu, yy, ww
        cuts = np.cumsum(rows)[:-1]
        for i, *parts in zip(idx, *(np.split(v, cuts) for v in res)):
            out[i] = tuple(parts)
    return out


def _coarse(s, Y, grid, positive) -> dict:
    """One problem's targets, weights and log scales (``u``, around ``s_ref``), and each
    row's best point ``m`` of the coarse grid (``ok``: a finite fit there)."""
    s = np.asarray(s, dtype=float)
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    s_ref = np.exp(np.log(s).mean())
    u = np.log(s / s_ref)
    w = np.isfinite(Y).astype(float)
    y = np.where(w > 0, Y, 0.0)
    _, _, sse = _profile_sse(np.exp(u[:, None] * grid[None, :]), y, w, positive)
    m = np.argmin(sse, axis=1)
    ok = np.isfinite(np.take_along_axis(sse, m[:, None], 1)[:, 0])
    return {"u": u, "s_ref": s_ref, "y": y, "w": w, "m": m, "ok": ok}


def _seqsum(w: np.ndarray | None, z: np.ndarray) -> np.ndarray:
    """``einsum("bp,bpm->bm")`` of columns: sum over p of w (P, R) times z (P, R, F),
    added one p after another as einsum adds them (w None: every weight 1, and 1 * z is
    z to the bit)."""
    out = z[0].copy() if w is None else w[0][:, None] * z[0]
    for p in range(1, len(z)):
        out += z[p] if w is None else w[p][:, None] * z[p]
    return out


def _refine(u, y, w, m, coarse_ok, s_ref, grid, positive):
    """The fine grid, parabolic step and golden section of every column: u, y, w (P, R),
    w None where every weight is 1 (each product with a weight is then left out: the same
    bits); m, coarse_ok, s_ref (R,). Returns (L_inf, A, alpha, at_bound), each (R,)."""
    M = len(grid)
    at_bound = m == M - 1
    lo, hi = grid[np.clip(m - 1, 0, M - 1)], grid[np.clip(m + 1, 0, M - 1)]
    fine = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, FINE_POINTS)[None, :]
    wy = y if w is None else w * y
    Sw = np.full(len(m), float(len(y))) if w is None else rowsum(w)
    Sy, Syy = rowsum(wy), rowsum(wy * y)
    sse_f = np.empty_like(fine)
    for c in range(0, len(fine), _CHUNK):  # column blocks small enough to stay in cache
        b = slice(c, c + _CHUNK)
        z = np.exp(u[:, b, None] * fine[None, b, :])  # (P, chunk, F)
        wb = None if w is None else w[:, b]
        sse_f[b] = _profile_tail(Sw[b, None], Sy[b, None], Syy[b, None], _seqsum(wb, z),
                                 _seqsum(wb, z * z), _seqsum(wy[:, b], z), positive)[2]
    f = np.argmin(sse_f, axis=1)
    fi = np.clip(f, 1, FINE_POINTS - 2)
    f0, f1, f2 = (np.take_along_axis(sse_f, (fi + d)[:, None], 1)[:, 0] for d in (-1, 0, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        den = f0 - 2 * f1 + f2
        shift = np.where(np.isfinite(den) & (den > 0), 0.5 * (f0 - f2) / den, 0.0)
    interior = (f > 0) & (f < FINE_POINTS - 1)
    pos = np.where(interior, fi + np.clip(shift, -1.0, 1.0), f)
    step = (hi - lo) / (FINE_POINTS - 1)
    start = lo + pos * step
    alpha = np.empty_like(start)
    for c in range(0, len(start), _GOLDEN_CHUNK):
        b = slice(c, c + _GOLDEN_CHUNK)
        alpha[b] = _golden((u[:, b], y[:, b], None if w is None else w[:, b], Sw[b], Sy[b]),
                           positive, start[b], step[b], float(grid[0]), float(grid[-1]))
    cols = (u, y, w, Sw, Sy)
    L, A = _linear_given_alpha(np.exp(u * alpha[None, :]), cols)
    # no fit for fewer points than the law's 3 parameters (as loglinear gives none)
    ok = coarse_ok & (Sw >= 3) & np.isfinite(A) & ((A > 0) | (not positive))
    with np.errstate(over="ignore"):
        A_orig = A * s_ref ** (-alpha)
    nan = np.full_like(alpha, np.nan)
    return (np.where(ok, L, nan), np.where(ok, A_orig, nan), np.where(ok, alpha, nan),
            at_bound & ok)


def _sse_at(alpha, cols, positive):
    """Profiled SSE at one alpha per column: alpha (R,), cols (u, y, w (P, R), and the
    sums of w and w y (R,)) -> (R,)."""
    u, y, w = cols[:3]
    z = np.exp(u * alpha[None, :])
    L, A = _linear_given_alpha(z, cols)
    with np.errstate(invalid="ignore", over="ignore"):
        r2 = (y - L[None, :] - A[None, :] * z) ** 2
        sse = rowsum(r2 if w is None else w * r2)
    bad = ~np.isfinite(sse) | ((A <= 0) if positive else False)
    return np.where(bad, np.inf, sse)


def _golden(cols, positive, alpha, step, lo_bound, hi_bound, iters: int = 30):
    """Golden-section search of the profiled SSE in [alpha - step, alpha + step], per
    column."""
    a = np.clip(alpha - step, lo_bound, hi_bound)
    b = np.clip(alpha + step, lo_bound, hi_bound)
    g = (np.sqrt(5.0) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = _sse_at(c, cols, positive), _sse_at(d, cols, positive)
    for _ in range(iters):
        left = fc <= fd
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        c_new = b - g * (b - a)
        d_new = a + g * (b - a)
        c, d = np.where(left, c_new, d), np.where(left, c, d_new)
        fc_new = _sse_at(np.where(left, c_new, d_new), cols, positive)
        fc, fd = np.where(left, fc_new, fd), np.where(left, fc, fc_new)
    best = (a + b) / 2
    f0 = _sse_at(alpha, cols, positive)
    fb = _sse_at(best, cols, positive)
    return np.where(fb <= f0, best, alpha)  # never worse than the start


def _linear_given_alpha(z: np.ndarray, cols):
    """Column-wise weighted LS of y on [1, z]: z (P, R); cols as ``_sse_at``."""
    _, y, w, Sw, Sy = cols
    wz = z if w is None else w * z
    Sz, Szz, Szy = rowsum(wz), rowsum(wz * z), rowsum(wz * y)
    with np.errstate(divide="ignore", invalid="ignore"):
        A = (Sw * Szy - Sz * Sy) / (Sw * Szz - Sz * Sz)
        L = (Sy - A * Sz) / Sw
    return L, A


def loss_law(
    s: np.ndarray, y: np.ndarray, y_boot: np.ndarray | None, group: dict, ci_level: float,
    variable: str = "scale",
) -> LawFit:
    """Fit ``loss_opt = L_inf + A * s^alpha`` by profiled least squares, with bootstrap draws.

    ``scalefit.Law.lmfit_result()`` refits the same model with lmfit, for its standard
    errors and correlations.
    """
    return loss_laws([{"s": s, "y": y, "y_boot": y_boot, "group": group,
                       "ci_level": ci_level, "variable": variable}])[0]


def loss_laws(items: list[dict]) -> list[LawFit]:
    """``loss_law`` of many laws at once (``items``: the keyword arguments of each): their
    point fits and resamples go through one batched search (``loss_law_profiles``)."""
    problems = []
    for it in items:
        s, y, yb = np.asarray(it["s"], float), np.asarray(it["y"], float), it.get("y_boot")
        problems.append((s, y[None, :]))
        if yb is not None and len(yb):
            problems.append((s, yb))
    profiles = iter(loss_law_profiles(problems))
    out = []
    for it in items:
        yb = it.get("y_boot")
        point = next(profiles)
        draws = next(profiles) if yb is not None and len(yb) else None
        out.append(_loss_law_fit(it["s"], it["y"], it["group"], it["ci_level"],
                                 it.get("variable", "scale"), point, draws))
    return out


def _loss_law_fit(s, y, group, ci_level, variable, point, draws) -> LawFit:
    """The LawFit of a loss law from its profiled point fit and resamples."""
    s = np.asarray(s, dtype=float)
    y = np.asarray(y, dtype=float)
    L0, A0, a0, at_bound = (v[0] for v in point)
    params = {"L_inf": float(L0), "A": float(A0), "alpha": float(a0)}
    notes = []
    if np.isfinite(a0):
        a1 = params["alpha"]
        if at_bound or a1 >= ALPHA_GRID[-1] * 1.001:
            notes.append(f"alpha at the flat end of its range ({a1:.3g}): no decay, so the "
                         "asymptote is not identified by these points")
        elif a1 <= ALPHA_GRID[0] * 0.999:
            notes.append(f"alpha at the steep end of its range ({a1:.3g}): the asymptote "
                         "rests on the largest scales alone")
        if params["L_inf"] < 0 and min(y[np.isfinite(y)], default=0) > 0:
            notes.append(f"L_inf below 0 ({params['L_inf']:.3g}) for a positive loss: the "
                         "points show no flattening, so the asymptote is not identified")
    else:
        notes.append("no decreasing law fits these points (loss does not fall with "
                     f"{variable})")
    pred = params["L_inf"] + params["A"] * s ** params["alpha"]
    if np.all(np.isfinite(pred)):
        resid = y - pred
        ss_tot = float(((y - y.mean()) ** 2).sum())
        r2 = 1 - float(resid @ resid) / ss_tot if ss_tot > 0 else np.nan
        rmse = float(np.sqrt((resid**2).mean()))
    else:
        r2 = rmse = np.nan
    names = ("L_inf", "A", "alpha")
    ci = {n: None for n in names}
    boot = Lb = bound_b = None
    if draws is not None:
        Lb, Ab, ab, bound_b = draws
        boot = np.column_stack([Lb, Ab, ab])
        lo_hi = percentile_ci(boot, ci_level)
        ci = {n: [float(lo_hi[0, i]), float(lo_hi[1, i])] for i, n in enumerate(names)}
    ident, why = loss_asymptote_identified(float(L0), bool(at_bound), y, Lb, bound_b, ci_level)
    if not ident:
        # an interval is a promise the draws cannot keep: with L_inf free, A and alpha
        # trade off with it (alpha stuck at its bound gives a zero-width interval)
        ci = {n: None for n in names}
        if not any("not identified" in n for n in notes):
            notes.append(f"L_inf not identified: {why}")
        notes.append("A and alpha have no intervals: they trade off with L_inf, which these "
                     "points do not identify (the law still describes the losses fitted)")
    return LawFit(
        target="loss_opt", form=f"loss_opt = L_inf + A * {variable}^alpha",
        variables=(variable,), group=group, params=params, ci=ci, r2_log=r2, rmse_log=rmse,
        n_points=len(y), param_names=names, notes=notes, boot=boot,
        points={variable: s, "loss_opt": y}, level=ci_level,
        asymptote={"identified": ident, "reason": why},
    )
