"""Power laws in log space and loss laws with an asymptote, vectorized over resamples.

* ``loglinear``: ``ln y = ln C + sum_i a_i ln v_i`` by (weighted) least squares, solved
  for every resample at once as a stack of small normal-equation systems.
* ``loss_law``: ``y = L_inf + A * s^alpha`` (alpha < 0, A > 0). For fixed alpha the
  model is linear in (L_inf, A), so the sum of squares is profiled over a fine grid of
  alpha for all resamples at once and refined by parabolic interpolation and a golden
  section search (``scalefit.Law.lmfit_result()`` refits it with lmfit on request).

Inputs are plain arrays; NaN in a target marks a point that is absent from that
resample (it gets weight zero).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from .bootstrap import percentile_ci
from .frozen import freeze
from .identify import loss_asymptote_identified


@dataclass(frozen=True)
class LawFit:
    """One fitted law, as numbers; immutable (mappings are read-only, arrays too).

    ``target``: ``"lr_opt"``, ``"curvature"`` or ``"loss_opt"``; ``variables``: names of
    the regressors (``"scale"``, ``"horizon"``); ``params`` / ``ci``: name -> value /
    (lo, hi) at level ``level``; ``r2_log`` and ``rmse_log`` are in log space for power
    laws (natural log) and in loss units for loss laws. ``boot`` holds the parameter
    draws (B, k) in ``param_names`` order (for a power law: ln C, then the exponents);
    ``points``: variable (and target) -> the values it was fitted on, or for a law read
    back from JSON only each variable's (min, max). ``log_C``: ln C of a power law (C
    itself may underflow or overflow; predictions use ln C). ``domain``: (min, max) of
    every role variable in the law's data, those the law does not vary in included (a
    law in horizon fitted at one scale remembers that scale), plus
    ``horizon_per_scale`` when the law lacks horizon because its data tied horizon to
    scale. ``audit_range`` (laws of lr_opt): ``ratio_tried``, the (min, max) of lr /
    lr_opt over the finite runs of its sweeps, and ``ratio_diverged``, the smallest lr /
    lr_opt above the optimum at which a run diverged (None: none did). ``shape`` (laws of
    lr_opt): the log-quadratic test of ``core.shape.shape_test``; ``constraint``: the
    exponents held at values and their test (``core.shape.constraint_test``), or None.
    """

    target: str
    form: str
    variables: tuple[str, ...]
    group: dict
    params: dict
    ci: dict
    r2_log: float | None
    rmse_log: float | None
    n_points: int
    param_names: tuple[str, ...] = ()
    primary: bool = False
    extrapolation: dict | None = None
    notes: tuple[str, ...] = ()
    boot: np.ndarray | None = field(default=None, repr=False)
    points: dict | None = field(default=None, repr=False)
    level: float = 0.95
    log_C: float | None = None
    domain: dict | None = None
    audit_range: dict | None = None
    asymptote: dict | None = None
    shape: dict | None = None
    constraint: dict | None = None

    def __post_init__(self):
        for name in ("group", "params", "ci", "extrapolation", "points", "boot", "domain",
                     "audit_range", "asymptote", "shape", "constraint"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, freeze(value))
        object.__setattr__(self, "variables", tuple(self.variables))
        object.__setattr__(self, "param_names", tuple(self.param_names))
        object.__setattr__(self, "notes", tuple(self.notes))

    def value_range(self, variable: str) -> tuple[float, float]:
        """(min, max) of the values ``variable`` took in the fit."""
        v = np.asarray(self.points[variable], dtype=float)
        return float(np.nanmin(v)), float(np.nanmax(v))

    def coef(self) -> np.ndarray:
        """A power law's coefficients in log space: (ln C, exponents...); the coefficient is
        the first of ``param_names`` (``C`` unless the law named it otherwise)."""
        names = self.param_names or ("C",)
        log_c = self.log_C
        if log_c is None:
            with np.errstate(divide="ignore"):
                log_c = np.log(self.params[names[0]])
        return np.array([log_c] + [self.params[p] for p in names[1:]])

    def predict_log(self, values: dict) -> tuple[float, np.ndarray | None]:
        """ln(target) at ``values`` (variable -> value) for a power law, with its draws (B,)."""
        if self.target == "loss_opt":
            raise ValueError("predict_log applies to power laws")
        z = np.array([1.0] + [np.log(values[v]) for v in self.variables])
        draws = None
        if self.boot is not None and len(self.boot):
            draws = self.boot @ z
        return float(self.coef() @ z), draws

    def curve(self, values: dict, level: float | None = None):
        """A power law on arrays ``values`` (variable -> (n,)): (y (n,), band (2, n) or None).

        The band is the percentile interval of the bootstrap draws at ``level`` (default:
        the fit's), present with 10 or more draws.
        """
        n = len(next(iter(values.values())))
        Z = np.column_stack([np.ones(n)] + [np.log(np.asarray(values[v], float))
                                            for v in self.variables])
        y = np.exp(Z @ self.coef())
        band = None
        if self.boot is not None and len(self.boot) >= 10:
            draws = self.boot @ Z.T  # (B, n) in log space
            lo_hi = percentile_ci(draws, self.level if level is None else level)
            if np.all(np.isfinite(lo_hi)):
                band = np.exp(lo_hi)
        return y, band


# ---------------------------------------------------------------- log-linear laws


def loglinear(X: np.ndarray, Y: np.ndarray, W: np.ndarray | None = None) -> np.ndarray:
    """Weighted least squares of Y on X for a stack of targets.

    X: (P, k) design (first column ones); Y: (..., P) targets, NaN = absent;
    W: (..., P) or (P,) non-negative weights (default 1). Returns coef (..., k), NaN
    where the points present do not determine the fit.
    """
    X = np.asarray(X, dtype=float)
    Y = np.asarray(Y, dtype=float)
    # Solve in centred regressors (a horizon range of 1% at ln d ~ 23 would otherwise look
    # singular next to the intercept), then move the intercept back.
    centre = X[:, 1:].mean(0) if X.shape[0] else np.zeros(X.shape[1] - 1)
    X = np.column_stack([X[:, :1], X[:, 1:] - centre])
    present = np.isfinite(Y)
    w = present.astype(float) if W is None else np.where(present, W, 0.0)
    y = np.where(present, Y, 0.0)
    k = X.shape[1]
    P = X.shape[0]
    A = (w @ (X[:, :, None] * X[:, None, :]).reshape(P, k * k)).reshape(*w.shape[:-1], k, k)
    b = (w * y) @ X
    n_eff = (w > 0).sum(-1)
    # A relative condition test: singular or nearly so -> NaN.
    scale = np.sqrt(np.einsum("...ii->...i", A)) + 1e-300
    An = A / scale[..., :, None] / scale[..., None, :]
    ok = (n_eff >= k) & (np.abs(np.linalg.det(An)) > 1e-10)
    Asafe = np.where(ok[..., None, None], A, np.eye(k))
    coef = np.linalg.solve(Asafe, np.where(ok[..., None], b, 0.0)[..., None])[..., 0]
    coef[..., 0] -= coef[..., 1:] @ centre
    return np.where(ok[..., None], coef, np.nan)


def fit_stats(X: np.ndarray, y: np.ndarray, coef: np.ndarray) -> tuple[float, float]:
    """R^2 and RMSE (sqrt of mean squared residual) of a single fit."""
    resid = y - X @ coef
    ss_res = float(resid @ resid)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else np.nan
    return r2, float(np.sqrt(ss_res / len(y)))


def design(logs: dict[str, np.ndarray], variables: tuple[str, ...]) -> np.ndarray:
    """Design matrix [1, ln v1, ln v2, ...] from a dict of log-variables: (P, 1 + len(vars))."""
    P = len(next(iter(logs.values())))
    return np.column_stack([np.ones(P)] + [logs[v] for v in variables])


def collinear(a: np.ndarray, b: np.ndarray, tol: float = 0.99) -> bool:
    """True when both vary and ``b`` is (nearly) a linear function of ``a``.

    With two distinct points any two variables are collinear; otherwise the test is the
    squared correlation above ``tol`` (e.g. horizon proportional to scale).
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return False
    if len({(x, y) for x, y in zip(a.tolist(), b.tolist())}) <= 2:
        return True
    r = np.corrcoef(a, b)[0, 1]
    return bool(r * r > tol)


def power_law(
    target: str,
    values: dict[str, np.ndarray],
    y: np.ndarray,
    y_boot: np.ndarray | None,
    variables: tuple[str, ...],
    group: dict,
    ci_level: float,
    curvature: np.ndarray | None = None,
    primary: bool = False,
    exponents: dict[str, str] | None = None,
    coef_name: str = "C",
    domain: dict | None = None,
    audit_range: dict | None = None,
    notes: tuple[str, ...] = (),
) -> LawFit:
    """Fit ``target = C * prod v^a_v`` in log space, with bootstrap intervals.

    values: variable -> (P,) positive values; y: (P,) positive target (point estimate);
    y_boot: (B, P) resampled targets (NaN = absent in that resample) or None;
    curvature: (P,) loss curvature at each point, for the cost of extrapolation errors;
    exponents: variable -> exponent name (default ``scale: a``, ``horizon: b``);
    coef_name: the coefficient's name (default ``C``; an IsoFLOP law, whose variable is
    the compute C, calls it ``k``); domain, audit_range, notes: see ``LawFit``.
    """
    logs = {v: np.log(values[v]) for v in variables}
    X = design(logs, variables)
    ly = np.log(y)
    coef = loglinear(X, ly[None, :])[0]
    exps = exponents or {"scale": "a", "horizon": "b"}
    names = (coef_name,) + tuple(exps[v] for v in variables)
    form = f"{target} = {coef_name} * " + " * ".join(f"{v}^{exps[v]}" for v in variables)
    r2, rmse = fit_stats(X, ly, coef) if np.all(np.isfinite(coef)) else (np.nan, np.nan)
    with np.errstate(over="ignore", under="ignore"):
        params = ({coef_name: float(np.exp(coef[0]))}
                  | {n: float(c) for n, c in zip(names[1:], coef[1:])})
    boot = None
    ci = {n: None for n in names}
    if y_boot is not None and len(y_boot):
        with np.errstate(invalid="ignore", divide="ignore"):
            boot = loglinear(X, np.log(y_boot))
        lo_hi = percentile_ci(boot, ci_level)
        ci = {n: [float(lo_hi[0, i]), float(lo_hi[1, i])] for i, n in enumerate(names)}
        with np.errstate(over="ignore", under="ignore"):
            ci[coef_name] = [float(np.exp(lo_hi[0, 0])), float(np.exp(lo_hi[1, 0]))]
    return LawFit(
        target=target, form=form, variables=variables, group=group, params=params, ci=ci,
        r2_log=r2, rmse_log=rmse, n_points=len(y), param_names=names, boot=boot,
        points={**{v: values[v] for v in variables}, target: y}, primary=primary,
        extrapolation=leave_largest_out(X, ly, variables, values, y_boot, curvature, ci_level),
        level=ci_level, log_C=float(coef[0]), domain=domain, audit_range=audit_range,
        notes=notes,
    )


def leave_largest_out(
    X: np.ndarray, ly: np.ndarray, variables: tuple[str, ...], values: dict,
    y_boot: np.ndarray | None, curvature: np.ndarray | None, ci_level: float,
) -> dict | None:
    """Fit without the largest scale (or, with no scale, the longest horizon) and predict it.

    Returns the mean signed error in ln(target) at the left-out points, their RMSE, and
    (with curvature) the mean loss cost ``k * error^2`` there; None when too few points.
    """
    var = "scale" if "scale" in variables else variables[0]
    v = values[var]
    held = v == v.max()
    k = X.shape[1]
    if (~held).sum() < k + 1 or not held.any():
        return None
    coef = loglinear(X[~held], ly[~held][None, :])[0]
    if not np.all(np.isfinite(coef)):
        return None
    err = X[held] @ coef - ly[held]
    out = {
        "left_out": var,
        "value": float(v.max()),
        "n_left_out": int(held.sum()),
        "error_log": float(err.mean()),
        "rmse_log": float(np.sqrt((err**2).mean())),
        "loss_cost": None,
        "error_log_ci": None,
    }
    if curvature is not None:
        kk = curvature[held]
        if np.all(np.isfinite(kk)):
            out["loss_cost"] = float((kk * err**2).mean())
    if y_boot is not None and len(y_boot):
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lb = np.log(y_boot)
            cb = loglinear(X[~held], lb[:, ~held])
            eb = np.nanmean(np.einsum("pk,bk->bp", X[held], cb) - lb[:, held], axis=1)
        lo_hi = percentile_ci(eb, ci_level)
        out["error_log_ci"] = [float(lo_hi[0]), float(lo_hi[1])]
    return out


# ---------------------------------------------------------------- loss laws

ALPHA_GRID = -np.geomspace(4.0, 0.005, 64)  # coarse exponent grid, ascending -4 .. -0.005
FINE_POINTS = 33  # points of the per-resample fine grid between coarse neighbours


def _profile_sse(z: np.ndarray, y: np.ndarray, w: np.ndarray, positive: bool = True):
    """Profiled least squares of ``y = L + A z`` for every alpha column of z.

    z: (P, M) or (B, P, M) values ``s^alpha``; y, w: (B, P) targets and weights.
    Returns (L, A, sse), each (B, M); sse is inf where the fit is singular, or where
    A <= 0 when ``positive``.
    """
    Sw = w.sum(-1)[:, None]
    Sy = (w * y).sum(-1)[:, None]
    Syy = (w * y * y).sum(-1)[:, None]
    if z.ndim == 2:
        Sz, Szz, Szy = w @ z, w @ (z * z), (w * y) @ z
    else:
        Sz = np.einsum("bp,bpm->bm", w, z)
        Szz = np.einsum("bp,bpm->bm", w, z * z)
        Szy = np.einsum("bp,bpm->bm", w * y, z)
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
    s = np.asarray(s, dtype=float)
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    s_ref = np.exp(np.log(s).mean())
    u = np.log(s / s_ref)
    w = np.isfinite(Y).astype(float)
    y = np.where(w > 0, Y, 0.0)
    M = len(grid)
    _, _, sse = _profile_sse(np.exp(u[:, None] * grid[None, :]), y, w, positive)
    m = np.argmin(sse, axis=1)
    coarse_ok = np.isfinite(np.take_along_axis(sse, m[:, None], 1)[:, 0])
    at_bound = m == M - 1
    lo, hi = grid[np.clip(m - 1, 0, M - 1)], grid[np.clip(m + 1, 0, M - 1)]
    fine = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, FINE_POINTS)[None, :]
    z = np.exp(u[None, :, None] * fine[:, None, :])  # (B, P, F)
    _, _, sse_f = _profile_sse(z, y, w, positive)
    f = np.argmin(sse_f, axis=1)
    fi = np.clip(f, 1, FINE_POINTS - 2)
    f0, f1, f2 = (np.take_along_axis(sse_f, (fi + d)[:, None], 1)[:, 0] for d in (-1, 0, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        den = f0 - 2 * f1 + f2
        shift = np.where(np.isfinite(den) & (den > 0), 0.5 * (f0 - f2) / den, 0.0)
    interior = (f > 0) & (f < FINE_POINTS - 1)
    pos = np.where(interior, fi + np.clip(shift, -1.0, 1.0), f)
    step = (hi - lo) / (FINE_POINTS - 1)
    alpha = _golden(u, y, w, positive, lo + pos * step, step, float(grid[0]), float(grid[-1]))
    za = np.exp(u[None, :] * alpha[:, None])  # (B, P)
    L, A = _linear_given_alpha(za, y, w)
    # no fit for fewer points than the law's 3 parameters (as loglinear gives none)
    ok = coarse_ok & (w.sum(axis=1) >= 3) & np.isfinite(A) & ((A > 0) | (not positive))
    with np.errstate(over="ignore"):
        A_orig = A * s_ref ** (-alpha)
    nan = np.full_like(alpha, np.nan)
    return (np.where(ok, L, nan), np.where(ok, A_orig, nan), np.where(ok, alpha, nan),
            at_bound & ok)


def _sse_at(alpha, u, y, w, positive):
    """Profiled SSE at one alpha per row: alpha (B,), u (P,), y, w (B, P) -> (B,)."""
    z = np.exp(u[None, :] * alpha[:, None])
    L, A = _linear_given_alpha(z, y, w)
    with np.errstate(invalid="ignore", over="ignore"):
        sse = (w * (y - L[:, None] - A[:, None] * z) ** 2).sum(-1)
    bad = ~np.isfinite(sse) | ((A <= 0) if positive else False)
    return np.where(bad, np.inf, sse)


def _golden(u, y, w, positive, alpha, step, lo_bound, hi_bound, iters: int = 30):
    """Golden-section search of the profiled SSE in [alpha - step, alpha + step], per row."""
    a = np.clip(alpha - step, lo_bound, hi_bound)
    b = np.clip(alpha + step, lo_bound, hi_bound)
    g = (np.sqrt(5.0) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = _sse_at(c, u, y, w, positive), _sse_at(d, u, y, w, positive)
    for _ in range(iters):
        left = fc <= fd
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        c_new = b - g * (b - a)
        d_new = a + g * (b - a)
        c, d = np.where(left, c_new, d), np.where(left, c, d_new)
        fc_new = _sse_at(np.where(left, c_new, d_new), u, y, w, positive)
        fc, fd = np.where(left, fc_new, fd), np.where(left, fc, fc_new)
    best = (a + b) / 2
    f0 = _sse_at(alpha, u, y, w, positive)
    fb = _sse_at(best, u, y, w, positive)
    return np.where(fb <= f0, best, alpha)  # never worse than the start


def _linear_given_alpha(z: np.ndarray, y: np.ndarray, w: np.ndarray):
    """Row-wise weighted LS of y on [1, z]: z, y, w all (B, P)."""
    Sw, Sz, Szz = w.sum(-1), (w * z).sum(-1), (w * z * z).sum(-1)
    Sy, Szy = (w * y).sum(-1), (w * z * y).sum(-1)
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
    s = np.asarray(s, dtype=float)
    y = np.asarray(y, dtype=float)
    L0, A0, a0, at_bound = (v[0] for v in loss_law_profile(s, y[None, :]))
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
    if y_boot is not None and len(y_boot):
        Lb, Ab, ab, bound_b = loss_law_profile(s, y_boot)
        boot = np.column_stack([Lb, Ab, ab])
        lo_hi = percentile_ci(boot, ci_level)
        ci = {n: [float(lo_hi[0, i]), float(lo_hi[1, i])] for i, n in enumerate(names)}
    ident, why = loss_asymptote_identified(float(L0), bool(at_bound), y, Lb, bound_b, ci_level)
    if not ident:
        ci["L_inf"] = None  # an interval is a promise the draws cannot keep
        if not any("not identified" in n for n in notes):
            notes.append(f"L_inf not identified: {why}")
    return LawFit(
        target="loss_opt", form=f"loss_opt = L_inf + A * {variable}^alpha",
        variables=(variable,), group=group, params=params, ci=ci, r2_log=r2, rmse_log=rmse,
        n_points=len(y), param_names=names, notes=notes, boot=boot,
        points={variable: s, "loss_opt": y}, level=ci_level,
        asymptote={"identified": ident, "reason": why},
    )
