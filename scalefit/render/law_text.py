"""The text of one fitted law (``Law.summary``, the fit summary's laws, an IsoFLOP fit's
laws): its form, parameters with intervals, fit statistics, shape test, constraint test
and leave-largest-out error. Takes any object with the fields of ``core.laws.LawFit``."""

from __future__ import annotations

import numpy as np

from ..core.bootstrap import percentile_ci
from .format import fmt, fmt_ci, group_text
from .tables import Text


def law_text(law) -> Text:
    """A law (``results.Law`` or a numeric ``core.laws.LawFit``) as the fit summary prints
    it: form, parameters with intervals, fit statistics, shape, constraint, leave-largest-out."""
    grp = group_text(law.group)
    tag = "" if (law.primary or law.target == "loss_opt") else "  (conditional)"
    head = f"  {law.form}" + (f"   [{grp}]" if grp else "") + tag
    parts = [param_text(law, n) for n in law.param_names]
    loss = law.target == "loss_opt"
    stats = (f"{'R2' if loss else 'R2_log'} {fmt(law.r2_log)}, "
             f"{'RMSE' if loss else 'RMSE_log'} {fmt(law.rmse_log)}, n = {law.n_points}")
    lines = [head, "      " + "; ".join(parts), "      " + stats]
    if law.shape:
        lines.append("      " + shape_text(law.shape))
        for other in law.shape.get("others") or ():
            lines.append("      " + shape_text(other, used=law.shape))
    if law.constraint:
        lines += ["      " + t for t in constraint_text(law.constraint, law.level)]
    ex = law.extrapolation
    if ex:
        cost = f", loss cost {fmt(ex['loss_cost'])}" if ex.get("loss_cost") is not None else ""
        what = law.target if law.param_names[:1] == ("s0",) else f"ln {law.target}"
        lines.append(f"      leave-largest-out ({ex['left_out']} = {fmt(ex['value'])}): error "
                     f"in {what} {fmt(ex['error_log'])} "
                     f"{fmt_ci(ex.get('error_log_ci'))}{cost}")
    lines += [f"      note: {n}" for n in law.notes]
    return Text(lines, pre=True)


def param_text(law, name: str) -> str:
    """``name = value [lo, hi]``; a C that under- or overflows as ``exp(ln C)``."""
    v = law.params.get(name)
    if law.constraint and name in law.constraint["fixed"]:
        return f"{name} = {fmt(v)} (fixed)"
    if law.asymptote and not law.asymptote.get("identified", True):
        if name == "L_inf":
            return "L_inf not identified"
        return f"{name} = {fmt(v)} (no interval)"
    if name == "C" and law.target != "loss_opt":
        lc = float(law.coef()[0])
        if np.isfinite(lc) and not -690 < lc < 690:
            lo_hi = ""
            if law.boot is not None and len(law.boot):
                q = percentile_ci(law.boot[:, 0], law.level)
                lo_hi = f" [exp({q[0]:.4g}), exp({q[1]:.4g})]"
            return f"C = exp({lc:.4g}){lo_hi}"
    return f"{name} = {fmt(v)} {fmt_ci(law.ci.get(name))}".rstrip()


def shape_text(shape, used=None) -> str:
    """One line: the law's curvature term in log space and what it says; ``used``: the
    test the predictions use when ``shape`` is another variable's (None: this one)."""
    var = shape["variable"]
    if not shape.get("testable"):
        return f"shape: {shape.get('reason') or 'not testable'}"
    q = f"shape: q = {fmt(shape['q'])} {fmt_ci(shape.get('q_ci'))}".rstrip()
    q += f" per (ln {var} - mean)^2"
    if shape.get("resolved"):
        way = "concave" if shape["q"] < 0 else "convex"
        if used is not None:
            return (f"{q}: the law bends here too ({way} in log-log; BIC weight of the bent "
                    f"law {shape['weight']:.2f}); predictions average the straight law with "
                    f"the stronger bend, in {used['variable']}")
        return (f"{q}: the law bends ({way} in log-log; BIC weight of the bent law "
                f"{shape['weight']:.2f}); predictions beyond the data average both laws")
    return f"{q}: {shape.get('reason') or 'not resolved'}"


def constraint_text(c, level: float) -> list[str]:
    """The test of exponents held at values: the free interval against the value, and the
    F-test of constrained vs free."""
    out = []
    for name, t in c["fixed"].items():
        if t.get("free_ci") is None:
            verdict = "no interval to test against"
        else:
            verdict = ("contains it" if t["inside"] else "excludes it: the data reject "
                       f"{name} = {fmt(t['value'])}")
        out.append(f"constraint {name} = {fmt(t['value'])}: free {name} = {fmt(t['free'])} "
                   f"{fmt_ci(t.get('free_ci'))} ({level * 100:g}% CI) {verdict}")
    if c.get("p_value") is not None:
        df = c["df"]
        out[-1] += f"; F-test constrained vs free F({df[0]}, {df[1]}) = {fmt(c['f'])}, " \
                   f"p = {fmt(c['p_value'])}"
    return out
