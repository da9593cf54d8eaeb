"""Law-shape test, constrained exponents and equivalence verdicts for power laws (pure numpy).

* ``shape_test``: does a power law of lr_opt bend in log-log space? The straight law
  ``ln y = ln C + sum a_i ln v_i`` is fitted beside the bent law with one more term,
  ``q (ln v - m)^2`` in a variable ``v`` (each of the law's in turn; ``m``: the mean of
  ln v over the points), on the point estimate and on every bootstrap resample at once
  (the draws stacked in one least squares, as ``laws.loglinear`` does). ``q`` gets a percentile
  interval; the test is *resolved* when that interval excludes 0 and ``v`` has at least
  ``MIN_LEVELS`` distinct values (otherwise "not testable", said plainly). Per resample,
  the two laws get BIC weights, which ``predict`` uses to average their predictions.
* ``constrained``: a law refitted with exponents held at given values, and the test of
  the constraint (the free exponent's interval against the value; an F-test of
  constrained vs free on the law's points).
* ``equivalence``: the verdict of an interval against ``value +- margin``.

docs/math.md section 3 states the method.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .bootstrap import percentile_ci
from .laws import LawFit, design, fit_stats, leave_largest_out, loglinear, stack_weights

MIN_LEVELS = 4  # distinct values of the tested variable a curvature term needs


def _sse(X: np.ndarray, Y: np.ndarray, coef: np.ndarray, W: np.ndarray | None = None
         ) -> tuple[np.ndarray, np.ndarray]:
    """Sum of squared residuals (weighted by ``W``, mean 1, when given: (P,) or
    broadcastable to Y) and the count of present points per row of Y (..., P)."""
    present = np.isfinite(Y)
    with np.errstate(invalid="ignore"):
        r = np.where(present, Y - coef @ X.T, 0.0)
    return (r * r if W is None else W * r * r).sum(-1), present.sum(-1)


def bic_weight_bent(sse_s, sse_b, n, k_s: int) -> np.ndarray:
    """Evidence weight of the bent law (k_s + 1 parameters) against the straight law (k_s),
    from BIC = n ln(SSE / n) + k ln n per row; NaN where either fit is missing."""
    sse_s, sse_b, n = (np.asarray(v, float) for v in (sse_s, sse_b, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        tiny = 1e-300
        bic_s = n * np.log(np.maximum(sse_s, tiny) / n) + k_s * np.log(n)
        bic_b = n * np.log(np.maximum(sse_b, tiny) / n) + (k_s + 1) * np.log(n)
        d = np.clip(bic_b - bic_s, -700, 700)  # > 0: the straight law is preferred
        w = 1.0 / (1.0 + np.exp(d / 2.0))
    return np.where(np.isfinite(sse_s) & np.isfinite(sse_b) & (n > k_s + 1), w, np.nan)


def shape_test(X: np.ndarray, ly: np.ndarray, ly_boot: np.ndarray | None, variable: str,
               column: int, level: float, seed: int = 0, W: np.ndarray | None = None) -> dict:
    """The log-quadratic term of a power law in ``variable`` (column ``column`` of X).

    X: (P, k) design [1, ln v...]; ly: (P,) ln target; ly_boot: (B, P) resampled ln targets
    (NaN = absent) or None; W: (P,) the straight law's weights (mean 1; None: unweighted),
    which both laws, their sums of squares and BIC use. Returns a dict: ``variable``,
    ``centre`` (m, the mean ln v), ``n_levels``, ``testable``, ``q``, ``q_ci``,
    ``resolved``, ``weight`` (the bent law's BIC weight on the points), ``reason`` (why not
    testable / resolved), ``rmse_log`` of the bent law, ``coef`` (its point coefficients:
    the straight law's, then q) and, with draws, ``boot`` (B, k + 1) and ``weights`` (B,).

    The resamples of the optima carry their measurement noise only, not their scatter
    around the law (a sweep's optimum can sit off any smooth law by more than its own
    noise); fitted alone, they would resolve a "bend" in that scatter. So each resample
    also gets the bent law's residual scatter: per point a normal draw with s.d.
    ``s * sqrt(dof / chi2_dof)`` (s: the bent law's residual s.d. on its ``dof = P - k - 1``
    degrees of freedom; the chi-square draw, one per resample, carries the uncertainty of
    s itself, so few points give the wide, t-like interval they should).
    """
    lb = None if ly_boot is None or not len(ly_boot) else np.asarray(ly_boot)[None]
    return shape_tests(X, np.asarray(ly)[None], lb, variable, column, level, seed, W)[0]


def shape_tests(X: np.ndarray, ly: np.ndarray, ly_boot: np.ndarray | None, variable: str,
                column: int, level: float, seed: int = 0, W: np.ndarray | None = None
                ) -> list[dict]:
    """``shape_test`` of laws sharing the design X: ly (L, P); ly_boot (L, B, P) or None;
    W: (P,) for every law or (L, P) each law's weights, or None. Each law draws its
    residual scatter from the same seed as alone, so the draws are made once for all of
    them."""
    L, P = ly.shape
    if W is not None:  # (P,) for all laws, or (L, P): each law's
        W = np.broadcast_to(np.asarray(W, float), (L, P))
    lv = X[:, column]
    n_levels = int(np.unique(np.round(lv, 12)).size)
    k = X.shape[1]
    outs = [{"variable": variable, "column": column, "centre": float(lv.mean()),
             "n_levels": n_levels, "testable": False, "q": None, "q_ci": None,
             "resolved": False, "weight": None, "rmse_log": None, "reason": None}
            for _ in range(L)]
    if n_levels < MIN_LEVELS or P < k + 2:
        for out in outs:
            out["reason"] = (f"not testable: {n_levels} distinct {variable} values (a "
                             f"curvature term needs {MIN_LEVELS} or more, and one point "
                             f"beyond its {k + 1} parameters)")
        return outs
    Xb = np.column_stack([X, (lv - lv.mean()) ** 2])
    coef = loglinear(Xb, ly, W)  # (L, k + 1)
    cs = loglinear(X, ly, W)
    sse_s, n = _sse(X, ly, cs, W)
    sse_b, _ = _sse(Xb, ly, coef, W)
    weight = bic_weight_bent(sse_s, sse_b, n, k)
    determined = np.all(np.isfinite(coef), axis=1)
    draws = ly_boot is not None and ly_boot.shape[1] > 0
    for j, out in enumerate(outs):
        if not determined[j]:
            out["reason"] = "not testable: the curvature term is not determined by these points"
            continue
        out.update(testable=True, q=float(coef[j, -1]), coef=coef[j], weight=float(weight[j]),
                   rmse_log=float(np.sqrt(sse_b[j] / P)))
        if not draws:
            out["reason"] = "no interval for q: the law has no bootstrap draws"
    use = np.flatnonzero(determined)
    if not draws or not use.size:
        return outs
    dof = P - k - 1
    s_b = np.sqrt(sse_b[use] / dof)
    rng = np.random.default_rng(seed)
    B = ly_boot.shape[1]
    sd = s_b[:, None, None] * np.sqrt(dof / rng.chisquare(dof, size=(B, 1)))[None]
    noise = rng.normal(0.0, 1.0, (B, P))[None] * sd
    Wb = None if W is None else W[use][:, None, :]  # (L', 1, P)
    if Wb is not None:  # a point's residual scatter as its weight says: s^2 / w_i
        noise = noise / np.sqrt(Wb)
    lyb = ly_boot[use] + noise
    with np.errstate(invalid="ignore"):
        boot = loglinear(Xb, lyb, Wb)  # (L', B, k + 1)
        boot_s = loglinear(X, lyb, Wb)
    sse_sb, nb = _sse(X, lyb, boot_s, Wb)
    sse_bb, _ = _sse(Xb, lyb, boot, Wb)
    lo_hi = percentile_ci(boot[:, :, -1], level, axis=1)  # (2, L')
    weights = bic_weight_bent(sse_sb, sse_bb, nb, k)
    for i, j in enumerate(use):
        out = outs[j]
        lo, hi = lo_hi[:, i]
        out.update(boot=boot[i], weights=weights[i])
        if not (np.isfinite(lo) and np.isfinite(hi)):
            out["reason"] = "no interval for q: too few resamples determine it"
            continue
        out["q_ci"] = [float(lo), float(hi)]
        out["resolved"] = bool(lo > 0 or hi < 0)
        if not out["resolved"]:
            out["reason"] = ("not resolved: its interval contains 0 (no evidence of a bend; "
                             "not proof of none)")
    return outs


def shape_draws(shape: dict, z: np.ndarray, ly_straight: np.ndarray | None,
                seed: int = 0) -> np.ndarray | None:
    """Predictions in ln target averaged over the straight and bent laws by evidence.

    z: [1, ln v...] at the prediction point (the straight law's design row);
    ly_straight: the straight law's draws there (B,). Each resample takes the bent law's
    prediction with probability its BIC weight (a draw from the mixture, seeded), else the
    straight law's. None without draws of both.
    """
    boot, w = shape.get("boot"), shape.get("weights")
    if boot is None or w is None or ly_straight is None or len(boot) != len(ly_straight):
        return None
    col = shape["column"]
    zb = np.append(z, (z[col] - shape["centre"]) ** 2)
    bent = np.asarray(boot) @ zb
    u = np.random.default_rng(seed).random(len(bent))
    take = np.isfinite(bent) & (u < np.nan_to_num(np.asarray(w), nan=0.0))
    return np.where(take, bent, ly_straight)


SUMMARY_KEYS = ("variable", "q", "q_ci", "resolved", "testable", "n_levels", "centre",
                "weight", "rmse_log", "reason")


def with_shape(law: LawFit, y_boot: np.ndarray | None) -> LawFit:
    """The power law with its shape tests (``with_shapes``)."""
    return with_shapes([law], [y_boot])[0]


def main_test(tests: list[dict]) -> dict:
    """Of a law's shape tests (one per variable, in the law's order), the one its
    predictions use: the resolved bend with the largest BIC weight on the points, else the
    first variable's test."""
    resolved = [t for t in tests if t.get("resolved")]
    if not resolved:
        return tests[0]
    return max(resolved, key=lambda t: -np.inf if t.get("weight") is None else t["weight"])


def with_shapes(laws: list[LawFit], y_boots: list, all_draws: bool = True,
                weights: list | None = None) -> list[LawFit]:
    """Each law with a shape test in every one of its variables (``shape_tests``; laws with
    the same design, variables, level and number of resamples are tested together). The
    law's ``shape`` is the test its predictions use (``main_test``: a resolved bend, the
    strongest by evidence, else the first variable's), with the other variables' tests
    summarised under ``others`` (``SUMMARY_KEYS``, no draws).

    all_draws False: a law that is not primary keeps its test's draws and weights (``boot``,
    ``weights``) only when the test resolved a bend, the one case a prediction reads them
    (``shape_draws``); the fit's JSON writes only primary laws' draws. A fit of 1,000 ``by``
    groups has 15,000 such conditional laws: their draws were 0.5 GB. weights: each
    law's point weights (``power_law``'s; None: unweighted)."""
    weights = [None] * len(laws) if weights is None else weights
    prep = []
    sets: dict[tuple, list[int]] = {}
    for i, (law, y_boot) in enumerate(zip(laws, y_boots)):
        X, ly = _design_of(law)
        with np.errstate(invalid="ignore", divide="ignore"):
            lb = None if y_boot is None or not len(y_boot) else np.log(y_boot)
        prep.append((X, ly, lb))
        key = (X.shape, X.tobytes(), tuple(law.variables), law.level,
               None if lb is None else lb.shape)
        sets.setdefault(key, []).append(i)
    tests: list[list[dict]] = [[] for _ in laws]
    for (_, _, variables, level, shape), idx in sets.items():
        X = prep[idx[0]][0]
        W = stack_weights([weights[i] for i in idx], X.shape[0])
        ly = np.stack([prep[i][1] for i in idx])
        lb = None if shape is None else np.stack([prep[i][2] for i in idx])
        for column, variable in enumerate(variables, start=1):
            for i, test in zip(idx, shape_tests(X, ly, lb, variable, column, level, W=W)):
                tests[i].append(test)
    out: list = [None] * len(laws)
    for i, law_tests in enumerate(tests):
        test = main_test(law_tests)
        if not (all_draws or laws[i].primary or test["resolved"]):
            test = {k: v for k, v in test.items() if k not in ("boot", "weights")}
        others = [{k: t.get(k) for k in SUMMARY_KEYS} for t in law_tests if t is not test]
        if others:
            test = {**test, "others": others}
        out[i] = laws[i].replace(shape=test)
    return out


def _design_of(law: LawFit) -> tuple[np.ndarray, np.ndarray]:
    logs = {v: np.log(np.asarray(law.points[v], float)) for v in law.variables}
    return design(logs, law.variables), np.log(np.asarray(law.points[law.target], float))


# ---------------------------------------------------------------- constrained exponents


def with_fix(law: LawFit, fix: dict[str, float], y_boot: np.ndarray | None,
             curvature: np.ndarray | None = None, weights: np.ndarray | None = None) -> LawFit:
    """The power law refitted with the exponents in ``fix`` (name -> value) held, and the
    test of that constraint (``constraint``); names the law lacks are ignored. weights:
    the law's point weights (``power_law``'s; None: unweighted)."""
    names = law.param_names
    idx = {names.index(n): float(v) for n, v in fix.items() if n in names[1:]}
    if not idx:
        return law
    X, ly = _design_of(law)
    coef = constrained_coef(X, ly[None, :], idx, weights)[0]
    boot = None
    with np.errstate(invalid="ignore", divide="ignore"):
        lb = None if y_boot is None or not len(y_boot) else np.log(y_boot)
    if lb is not None:
        boot = constrained_coef(X, lb, idx, weights)
    test = constraint_test(X, ly, law.coef(), law.boot, idx, dict(enumerate(names)), law.level,
                           weights)
    ok = bool(np.all(np.isfinite(coef)))
    r2, rmse = fit_stats(X, ly, coef, weights) if ok else (np.nan, np.nan)
    cname = names[0]
    with np.errstate(over="ignore", under="ignore"):
        params = {cname: float(np.exp(coef[0]))} | {n: float(c) for n, c in
                                                     zip(names[1:], coef[1:])}
    ci = dict(law.ci)
    if boot is not None:
        lo_hi = percentile_ci(boot, law.level)
        ci = {n: [float(lo_hi[0, i]), float(lo_hi[1, i])] for i, n in enumerate(names)}
        with np.errstate(over="ignore", under="ignore"):
            ci[cname] = [float(np.exp(lo_hi[0, 0])), float(np.exp(lo_hi[1, 0]))]
    free = [j for j in range(X.shape[1]) if j not in idx]
    off = sum(v * X[:, j] for j, v in idx.items())
    yb_off = None if y_boot is None else np.asarray(y_boot) * np.exp(-off)[None, :]
    values = {v: np.asarray(law.points[v], float) for v in law.variables}
    extra = leave_largest_out(X[:, free], ly - off, law.variables, values, yb_off, curvature,
                              law.level, weights) if ok else None
    held = ", ".join(f"{names[j]} = {v:g}" for j, v in idx.items())
    return dataclasses.replace(
        law, params=params, ci=ci, boot=boot, r2_log=r2, rmse_log=rmse,
        log_C=float(coef[0]), extrapolation=extra, constraint=test,
        notes=(*law.notes, f"fitted with {held} held (--fix)"))



def f_test(sse_c: float, sse_f: float, n: int, k_f: int, n_fixed: int) -> tuple[float, float]:
    """F statistic and p-value of a constrained fit (``n_fixed`` restrictions) against the
    free one (``k_f`` parameters) on ``n`` points; NaN without a residual degree of freedom."""
    dof = n - k_f
    if dof <= 0 or n_fixed <= 0 or not (np.isfinite(sse_c) and np.isfinite(sse_f)):
        return math.nan, math.nan
    if sse_f <= 0:
        return (math.inf, 0.0) if sse_c > 1e-12 * max(1.0, abs(sse_c)) else (0.0, 1.0)
    F = max(sse_c - sse_f, 0.0) / n_fixed / (sse_f / dof)
    return float(F), float(f_sf(F, n_fixed, dof))


def f_sf(F: float, d1: int, d2: int) -> float:
    """Upper tail of the F distribution, through the regularized incomplete beta
    (continued fraction, Numerical Recipes' betacf): P(F' > F)."""
    if not np.isfinite(F):
        return 0.0
    if F <= 0:
        return 1.0
    x = d2 / (d2 + d1 * F)
    return _betainc(d2 / 2.0, d1 / 2.0, x)


def _betainc(a: float, b: float, x: float) -> float:
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(lbeta + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1 - x) / b


def _betacf(a: float, b: float, x: float, iters: int = 300, eps: float = 3e-14) -> float:
    qab, qap, qam = a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > 1e-300 else 1e-300)
    h = d
    for m in range(1, iters + 1):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1 + aa * d
            d = 1 / (d if abs(d) > 1e-300 else 1e-300)
            c = 1 + aa / c
            c = c if abs(c) > 1e-300 else 1e-300
            h *= d * c
        if abs(d * c - 1) < eps:
            break
    return h


def constrained_coef(X: np.ndarray, Y: np.ndarray, fixed: dict[int, float],
                     W: np.ndarray | None = None) -> np.ndarray:
    """Least squares (weights ``W`` (P,) or none) of Y (..., P) on X (P, k) with the
    coefficients at ``fixed`` (column -> value) held: the free columns fitted to Y minus
    the held terms; returns (..., k)."""
    free = [j for j in range(X.shape[1]) if j not in fixed]
    off = sum(v * X[:, j] for j, v in fixed.items()) if fixed else 0.0
    with np.errstate(invalid="ignore"):
        c_free = loglinear(X[:, free], np.asarray(Y, float) - off, W)
    out = np.empty(c_free.shape[:-1] + (X.shape[1],))
    out[..., free] = c_free
    for j, v in fixed.items():
        out[..., j] = np.where(np.isfinite(c_free[..., 0]), v, np.nan)
    return out


def constraint_test(X, ly, coef_free, boot_free, fixed: dict[int, float], names: dict[int, str],
                    level: float, W: np.ndarray | None = None) -> dict:
    """The test of exponents held at values: per exponent, its free estimate and interval
    against the value (``inside``: the interval contains it); the F-test of the constrained
    against the free law on the points (``f``, ``p_value``, ``df``; sums of squares
    weighted by ``W`` when the law is)."""
    coef_c = constrained_coef(X, ly[None, :], fixed, W)
    sse_c = float(_sse(X, ly[None, :], coef_c, W)[0][0])
    sse_f = float(_sse(X, ly[None, :], coef_free[None, :], W)[0][0])
    n, k = len(ly), X.shape[1]
    F, p = f_test(sse_c, sse_f, n, k, len(fixed))
    per = {}
    for j, v in fixed.items():
        ci = None
        if boot_free is not None and len(boot_free):
            lo, hi = percentile_ci(boot_free[:, j], level)
            ci = [float(lo), float(hi)] if np.isfinite(lo) and np.isfinite(hi) else None
        per[names[j]] = {"value": float(v), "free": float(coef_free[j]), "free_ci": ci,
                         "inside": None if ci is None else bool(ci[0] <= v <= ci[1])}
    return {"fixed": per, "f": None if not np.isfinite(F) else F,
            "p_value": None if not np.isfinite(p) else p, "df": [len(fixed), n - k]}


# ---------------------------------------------------------------- equivalence

INSIDE, OUTSIDE, NOT_RESOLVED = "inside +-margin", "outside", "not resolved"


def equivalence(ci, margin: float, value: float = 0.0) -> str:
    """Verdict of an interval ``ci`` = (lo, hi) against ``value +- margin``.

    "inside +-margin": the whole interval lies within the band (equivalent to ``value``
    at that margin: the two one-sided tests at the interval's level); "outside": the
    whole interval lies beyond it; "not resolved" otherwise, including an interval that
    contains ``value`` but reaches past the margin, and a missing interval. An interval
    that merely contains ``value`` is never a claim of equality.
    """
    if not (margin is not None and np.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be a finite number >= 0 (got {margin!r})")
    if ci is None or len(ci) != 2 or ci[0] is None or ci[1] is None:
        return NOT_RESOLVED
    lo, hi = float(ci[0]), float(ci[1])
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return NOT_RESOLVED
    if value - margin <= lo and hi <= value + margin:
        return INSIDE
    if lo > value + margin or hi < value - margin:
        return OUTSIDE
    return NOT_RESOLVED
