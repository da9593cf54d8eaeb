"""What each LR-sweep status means, one line each, for the fit's notes and errors (the
rules are in docs/math.md section 1)."""

STATUS_WHY = {
    "all_diverged": "every run diverged",
    "too_few": "each sweep needs >= 3 distinct LRs with a finite loss",
    "edge": "the best LR is the smallest or largest tried; extend the LR grid past it, or "
            "pass --include-status ok edge",
    "not_convex": "the loss is not convex in ln lr around the best LR",
    "bad_fit": "the parabola does not describe the runs in its window",
    "off_grid": "the parabola's vertex lies outside the LRs it was fitted on",
    "div_bracketed": "the optimum is bracketed by a diverged run; pass --include-status ok "
                     "div_bracketed to use it",
    "flat": "the valley is no deeper than its noise can resolve; add seeds or widen the LR "
            "grid, or pass --include-status ok flat",
}
# One line per status a fit shows.
STATUS_NOTES = {
    "edge": "the best LR is the smallest or largest tried, so the optimum is not bracketed; "
            "extend the LR grid past it",
    "too_few": "fewer than 3 distinct LRs with a finite loss: no parabola",
    "not_convex": "the loss is not convex in ln lr around the best LR",
    "all_diverged": "every run diverged",
    "bad_fit": "the parabola does not describe the runs in its window (its level means are "
               "off it by more than {pct} of the valley's depth, or it dips below every loss "
               "observed there by more than {gap} x the variation at the valley's floor); see "
               "docs/math.md",
    "off_grid": "the parabola's vertex lies outside the LRs it was fitted on (an "
                "extrapolation, not an estimate); see best_lr",
    "div_bracketed": "the best LR lies between a finite lower LR and a diverged higher one, "
                     "with no parabola to fit: the optimum is the best LR, its interval the "
                     "bracket [lower LR, diverged LR] from the grid, its curvature unknown",
    "flat": "the valley's curvature, over all the LRs tried and over the fit window, is "
            "within {z:g} standard errors (at the group's noise) of 0: the valley is no deeper "
            "than the noise can resolve (add seeds, or LRs further out)",
}
