"""Fitted laws as numbers (``LawFit``) and power laws in log space, vectorized over resamples.

* ``loglinear``: ``ln y = ln C + sum_i a_i ln v_i`` by (weighted) least squares, solved
  for every resample at once as a stack of small normal-equation systems.
  ``power_law`` weights a law's points by their precision when its caller gives weights
  (``core.scatter.precision_weights``: 1 / (v_i + tau^2)).
* ``power_law``: a power law of a target with its bootstrap draws and its leave-largest-out
  extrapolation error.

Loss laws with an asymptote are in ``core.losslaws``.

Inputs are plain arrays; NaN in a target marks a point that is absent from that
resample (it gets weight zero).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, fields

import numpy as np

from .bootstrap import percentile_ci
from .frozen import freeze


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
    ``weights``: the points' weights in the least squares (mean 1,
    ``core.scatter.precision_weights``), or None for an unweighted law; ``r2_log`` is
    then the weighted R^2 and ``rmse_log`` still the plain RMS of the residuals.
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
    weights: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        for f in fields(LawFit):
            object.__setattr__(self, f.name, _held(f.name, getattr(self, f.name)))

    def replace(self, **changes) -> LawFit:
        """A copy with ``changes``, as ``dataclasses.replace`` makes it, but only the changed
        values are frozen anew (the others are frozen already)."""
        new = object.__new__(type(self))
        for f in fields(LawFit):
            value = (_held(f.name, changes.pop(f.name)) if f.name in changes
                     else getattr(self, f.name))
            object.__setattr__(new, f.name, value)
        if changes:
            raise TypeError(f"LawFit has no field(s) {sorted(changes)}")
        return new

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


_FROZEN = ("group", "params", "ci", "extrapolation", "points", "boot", "domain", "audit_range",
           "asymptote", "shape", "constraint", "weights")
_TUPLES = ("variables", "param_names", "notes")


def _held(name: str, value):
    """A LawFit field's value as the law holds it: mappings, lists and arrays frozen,
    names and notes as tuples."""
    if name in _FROZEN:
        return None if value is None else freeze(value)
    if name in _TUPLES:
        return tuple(value)
    return value


# ---------------------------------------------------------------- log-linear laws


def loglinear(X: np.ndarray, Y: np.ndarray, W: np.ndarray | None = None) -> np.ndarray:
    """Weighted least squares of Y on X for a stack of targets.

    X: (P, k) design (first column ones); Y: (..., P) targets, NaN = absent;
    W: (..., P) or (P,) non-negative weights (default 1), broadcast against Y (e.g.
    (L, 1, P): one law's weights for all its resamples). Returns coef (..., k), NaN
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
    shared_w = W is None or np.ndim(W) == 1
    if shared_w and Y.ndim >= 2 and 0 < P <= 62 and Y.size // P > _SHARED_MIN_ROWS:
        out = _loglinear_shared(X, present.reshape(-1, P), ((w * y) @ X).reshape(-1, k),
                                centre, None if W is None else np.asarray(W, float))
        if out is not None:
            return out.reshape(*Y.shape[:-1], k)
    if (W is not None and Y.ndim == 3 and np.ndim(W) == 3 and np.shape(W)[1] == 1
            and 0 < P <= 62 and Y.shape[1] > _SHARED_MIN_ROWS):
        out = _loglinear_per_law(X, present, (w * y) @ X, centre, np.asarray(W, float)[:, 0])
        if out is not None:
            return out
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


_SHARED_MIN_ROWS = 8  # from this many rows on, rows sharing their present points share A
_SHARED_MAX_PATTERNS = 16  # ... unless they fall into more patterns than this


def _loglinear_shared(X, present, b, centre, W=None):
    """``loglinear`` of many rows (B, P) with no weights or the same weights ``W`` (P,) in
    every row: rows with the same points present share their normal matrix, so each
    pattern of present points gets one matrix, one condition test and one solve for all
    its rows (the same equations as row by row; the solver may round their last bit
    differently). None when the rows fall into more than
    ``_SHARED_MAX_PATTERNS`` patterns (then row by row is as fast)."""
    B, P = present.shape
    k = X.shape[1]
    key = present.astype(np.int64) @ (np.int64(1) << np.arange(P, dtype=np.int64))
    patterns, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    if len(patterns) > _SHARED_MAX_PATTERNS:
        return None
    XX = (X[:, :, None] * X[:, None, :]).reshape(P, k * k)
    coef = np.full((B, k), np.nan)
    for j, row in enumerate(first):
        w = present[row].astype(float) if W is None else np.where(present[row], W, 0.0)
        A = (w @ XX).reshape(k, k)
        scale = np.sqrt(np.diagonal(A)) + 1e-300
        An = A / scale[:, None] / scale[None, :]
        if (w > 0).sum() < k or not np.abs(np.linalg.det(An)) > 1e-10:
            continue
        rows = inverse == j
        c = np.linalg.solve(A, b[rows].T).T
        c[:, 0] -= c[:, 1:] @ centre
        coef[rows] = c
    return coef


def stack_weights(weights: list, P: int) -> np.ndarray | None:
    """The weights (L, P) of L laws of P points solved together (an unweighted law's:
    ones), or None when none of them is weighted."""
    if all(w is None for w in weights):
        return None
    return np.stack([np.ones(P) if w is None else np.asarray(w, float) for w in weights])


def _loglinear_per_law(X, present, b, centre, W):
    """``loglinear`` of L laws' resamples (present (L, B, P), b (L, B, k) the weighted
    right-hand sides) with one weight vector per law (W (L, P)): the resamples of a law
    with the same points present share their normal matrix, so each (law, pattern) gets
    one matrix, one condition test and one inverse. None when the resamples fall into
    more than ``_SHARED_MAX_PATTERNS`` patterns per law on average."""
    L, B, P = present.shape
    k = X.shape[1]
    bits = present.astype(np.int64) @ (np.int64(1) << np.arange(P, dtype=np.int64))  # (L, B)
    law = np.broadcast_to(np.arange(L)[:, None], (L, B))
    keys, first, inverse = np.unique(np.stack([law.ravel(), bits.ravel()], 1), axis=0,
                                     return_index=True, return_inverse=True)
    if len(keys) > _SHARED_MAX_PATTERNS * L:
        return None
    inverse = inverse.reshape(-1)
    pres = present.reshape(L * B, P)[first]  # (U, P)
    wu = np.where(pres, W[keys[:, 0]], 0.0)
    XX = (X[:, :, None] * X[:, None, :]).reshape(P, k * k)
    A = (wu @ XX).reshape(-1, k, k)
    scale = np.sqrt(np.einsum("uii->ui", A)) + 1e-300
    An = A / scale[:, :, None] / scale[:, None, :]
    ok = ((wu > 0).sum(1) >= k) & (np.abs(np.linalg.det(An)) > 1e-10)
    Ainv = np.linalg.inv(np.where(ok[:, None, None], A, np.eye(k)))
    coef = np.einsum("rij,rj->ri", Ainv[inverse], b.reshape(L * B, k))
    coef[:, 0] -= coef[:, 1:] @ centre
    coef[~ok[inverse]] = np.nan
    return coef.reshape(L, B, k)


def fit_stats(X: np.ndarray, y: np.ndarray, coef: np.ndarray, W: np.ndarray | None = None
              ) -> tuple[float, float]:
    """R^2 and RMSE (sqrt of mean squared residual) of a single fit; with weights ``W``
    (P,) the R^2 is the weighted one (the fit's own sums of squares, around the weighted
    mean) and the RMSE still the plain RMS of the residuals."""
    resid = y - X @ coef
    w = np.ones(len(y)) if W is None else np.asarray(W, float)
    ss_res = float(np.sum(w * resid * resid))
    ss_tot = float(np.sum(w * (y - np.sum(w * y) / np.sum(w)) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else np.nan
    if abs(r2) < 1e-12:  # a law that explains nothing (its exponent held at 0): 0, not 2e-16
        r2 = 0.0
    return r2, float(np.sqrt(resid @ resid / len(y)))


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
    weights: np.ndarray | None = None,
) -> LawFit:
    """Fit ``target = C * prod v^a_v`` in log space, with bootstrap intervals.

    values: variable -> (P,) positive values; y: (P,) positive target (point estimate);
    y_boot: (B, P) resampled targets (NaN = absent in that resample) or None;
    curvature: (P,) loss curvature at each point, for the cost of extrapolation errors;
    exponents: variable -> exponent name (default ``scale: a``, ``horizon: b``);
    coef_name: the coefficient's name (default ``C``; an IsoFLOP law, whose variable is
    the compute C, calls it ``k``); domain, audit_range, notes: see ``LawFit``.
    """
    return power_laws([{
        "target": target, "values": values, "y": y, "y_boot": y_boot, "variables": variables,
        "group": group, "ci_level": ci_level, "curvature": curvature, "primary": primary,
        "exponents": exponents, "coef_name": coef_name, "domain": domain,
        "audit_range": audit_range, "notes": notes, "weights": weights}])[0]


def power_laws(specs: list[dict]) -> list[LawFit]:
    """``power_law`` of many laws (``specs``: its keyword arguments each). Laws with the same
    design (the same values of their variables, in the same order), level and number of
    resamples are solved together: one point fit, one fit of the resamples, one
    leave-largest-out fit and one percentile pass for all of them (each law's numbers as
    alone, to rounding)."""
    prep = []
    for sp in specs:
        variables = tuple(sp["variables"])
        X = design({v: np.log(sp["values"][v]) for v in variables}, variables)
        yb = sp.get("y_boot")
        lyb = None
        if yb is not None and len(yb):
            with np.errstate(invalid="ignore", divide="ignore"):
                lyb = np.log(yb)
        w = sp.get("weights")
        prep.append({"X": X, "ly": np.log(sp["y"]), "lyb": lyb, "variables": variables,
                     "w": None if w is None else np.asarray(w, float)})
    sets: dict[tuple, list[int]] = {}
    for i, (sp, p) in enumerate(zip(specs, prep)):
        key = (p["variables"], p["X"].tobytes(), sp["ci_level"],
               tuple(np.asarray(sp["values"][v], float).tobytes() for v in p["variables"]),
               None if p["lyb"] is None else p["lyb"].shape)
        sets.setdefault(key, []).append(i)
    out: list = [None] * len(specs)
    for idx in sets.values():
        p0, sp0 = prep[idx[0]], specs[idx[0]]
        X, level = p0["X"], sp0["ci_level"]
        ly = np.stack([prep[i]["ly"] for i in idx])  # (L, P)
        W = stack_weights([prep[i]["w"] for i in idx], X.shape[0])
        coef = loglinear(X, ly, W)
        lyb = boot = lo_hi = None
        if p0["lyb"] is not None:
            lyb = np.stack([prep[i]["lyb"] for i in idx])  # (L, B, P)
            with np.errstate(invalid="ignore", divide="ignore"):
                boot = loglinear(X, lyb, None if W is None else W[:, None, :])
            lo_hi = percentile_ci(boot, level, axis=1)  # (2, L, k)
        curv = [specs[i].get("curvature") for i in idx]
        extra = _leave_largest_out(X, ly, p0["variables"], specs[idx[0]]["values"], lyb,
                                   curv, level, W)
        for j, i in enumerate(idx):
            out[i] = _power_law_fit(specs[i], X, ly[j], coef[j],
                                    None if boot is None else boot[j],
                                    None if lo_hi is None else lo_hi[:, j], extra[j])
    return out


def _power_law_fit(sp: dict, X, ly, coef, boot, lo_hi, extrapolation) -> LawFit:
    """The LawFit of one power law from its solved coefficients (point and resamples)."""
    target, variables, values = sp["target"], tuple(sp["variables"]), sp["values"]
    y, coef_name = sp["y"], sp.get("coef_name", "C")
    exps = sp.get("exponents") or {"scale": "a", "horizon": "b"}
    names = (coef_name,) + tuple(exps[v] for v in variables)
    form = f"{target} = {coef_name} * " + " * ".join(f"{v}^{exps[v]}" for v in variables)
    W = sp.get("weights")
    r2, rmse = fit_stats(X, ly, coef, W) if np.all(np.isfinite(coef)) else (np.nan, np.nan)
    with np.errstate(over="ignore", under="ignore"):
        params = ({coef_name: float(np.exp(coef[0]))}
                  | {n: float(c) for n, c in zip(names[1:], coef[1:])})
    ci = {n: None for n in names}
    if boot is not None:
        ci = {n: [float(lo_hi[0, i]), float(lo_hi[1, i])] for i, n in enumerate(names)}
        with np.errstate(over="ignore", under="ignore"):
            ci[coef_name] = [float(np.exp(lo_hi[0, 0])), float(np.exp(lo_hi[1, 0]))]
    return LawFit(
        target=target, form=form, variables=variables, group=sp["group"], params=params,
        ci=ci, r2_log=r2, rmse_log=rmse, n_points=len(y), param_names=names, boot=boot,
        points={**{v: values[v] for v in variables}, target: y},
        primary=sp.get("primary", False), extrapolation=extrapolation,
        level=sp["ci_level"], log_C=float(coef[0]), domain=sp.get("domain"),
        audit_range=sp.get("audit_range"), notes=sp.get("notes", ()), weights=W,
    )


def leave_largest_out(
    X: np.ndarray, ly: np.ndarray, variables: tuple[str, ...], values: dict,
    y_boot: np.ndarray | None, curvature: np.ndarray | None, ci_level: float,
    weights: np.ndarray | None = None,
) -> dict | None:
    """Fit without the largest scale (or, with no scale, the longest horizon) and predict it.

    Returns the mean signed error in ln(target) at the left-out points, their RMSE, and
    (with curvature) the mean loss cost ``k * error^2`` there; None when too few points.
    """
    lb = None
    if y_boot is not None and len(y_boot):
        with np.errstate(invalid="ignore", divide="ignore"):
            lb = np.log(y_boot)[None]
    W = None if weights is None else np.asarray(weights, float)
    return _leave_largest_out(X, np.asarray(ly)[None], variables, values, lb, [curvature],
                              ci_level, W)[0]


def _leave_largest_out(X, ly, variables, values, lb, curvature, ci_level, W=None) -> list:
    """``leave_largest_out`` of laws sharing X: ly (L, P), lb (L, B, P) ln resampled
    targets or None, curvature: L arrays (P,) or None. One dict (or None) per law."""
    var = "scale" if "scale" in variables else variables[0]
    v = values[var]
    held = v == v.max()
    k = X.shape[1]
    L = len(ly)
    if (~held).sum() < k + 1 or not held.any():
        return [None] * L
    Wk = None if W is None else W[..., ~held]  # W: (P,) or (L, P)
    coef = loglinear(X[~held], ly[:, ~held], Wk)  # (L, k)
    lo_hi = None
    if lb is not None:
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            cb = loglinear(X[~held], lb[:, :, ~held],
                           None if Wk is None else (Wk if Wk.ndim == 1 else Wk[:, None, :]))
            eb = np.nanmean(np.einsum("pk,lbk->lbp", X[held], cb) - lb[:, :, held], axis=2)
        lo_hi = percentile_ci(eb, ci_level, axis=1)  # (2, L)
    out = []
    for j in range(L):
        if not np.all(np.isfinite(coef[j])):
            out.append(None)
            continue
        err = X[held] @ coef[j] - ly[j, held]
        ex = {
            "left_out": var,
            "value": float(v.max()),
            "n_left_out": int(held.sum()),
            "error_log": float(err.mean()),
            "rmse_log": float(np.sqrt((err**2).mean())),
            "loss_cost": None,
            "error_log_ci": None,
        }
        if curvature[j] is not None:
            kk = curvature[j][held]
            if np.all(np.isfinite(kk)):
                ex["loss_cost"] = float((kk * err**2).mean())
        if lo_hi is not None:
            ex["error_log_ci"] = [float(lo_hi[0, j]), float(lo_hi[1, j])]
        out.append(ex)
    return out
