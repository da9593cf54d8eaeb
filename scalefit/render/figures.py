"""The figures of a fit, by name: ``sweeps`` (loss vs LR per sweep), ``lr_law`` and
``curvature`` (the optimum and the curvature against scale and horizon, with the laws),
``compare`` (the groups side by side), ``joint`` (a joint fit: the runs over (lr, bs) with
the fitted surface and optimum per group). Each draws only what the result holds, for the
groups ``show`` names (labels as ``--show`` takes them) or, without it, for all of them up
to a readable number (``MAX_OVERLAID`` in one panel, ``MAX_GROUP_PANELS`` panels), with a
note in the figure saying how many were left out and how to choose.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from .figure_kit import save_figure, select_groups
from .joint_figures import joint_figure
from .law_figures import compare_figure, law_figure
from .sweep_figure import sweeps_figure

__all__ = ["fit_figures", "sweeps_figure", "law_figure", "compare_figure", "save_figure"]


def fit_figures(result, which=None, show=None) -> dict[str, Figure]:
    """Every figure that applies to ``result`` (or those of it named in ``which``):
    name -> Figure (the name is the file stem). ``show``: the labels of the groups to draw
    (a label that is not a group: ``ScalefitInputError`` naming the groups)."""
    want = None if which is None else set(which)
    if show is not None:
        select_groups(result, show)  # an unknown label fails before any drawing

    def on(name):
        return want is None or name in want

    sweeps = on("sweeps") and result.input.get("kind") != "optima"  # a table of optima: no runs
    figs = {"sweeps": sweeps_figure(result, show=show)} if sweeps else {}
    opt = result.optima
    has_ok = bool((opt["status"] == "ok").any())
    varies = any(v in opt and opt[v].nunique() >= 2 for v in ("scale", "horizon"))
    if has_ok and varies:
        if on("lr_law"):
            figs["lr_law"] = law_figure(result, "lr_opt", show=show)
        if on("curvature") and "scale" in opt and opt["scale"].nunique() >= 2:
            figs["curvature"] = law_figure(result, "curvature", variables=("scale",),
                                           show=show)
    if on("compare") and result.by and result.quality is not None and "scale" in opt:
        figs["compare"] = compare_figure(result, show=show)
    if on("joint") and getattr(result, "joint", None) is not None:
        figs["joint"] = joint_figure(result.joint)
    return figs
