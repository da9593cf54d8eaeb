"""The default values and limits of the fit and planning options (numpy-free: the command
line's ``--help`` and ``scalefit.options`` read them without importing numpy)."""

DEFAULT_WINDOW = 2  # half-width of a sweep's quadratic fit, in grid steps
MAX_WINDOW = 1000
# bad_fit: the RMS of the level means around the parabola exceeds this share of the
# valley's depth in the window (max fitted loss there - loss_opt) ...
MAX_MISFIT = 0.25
# ... or, at the tried LR nearest its vertex, the parabola lies below the lowest mean loss
# observed in the window by more than this many times the variation the data show at the
# valley's floor (the spread of its three lowest level means, or the replicate s.d.).
GAP_SD = 2.0
FLAT_Z = 3.0  # flat: curvature below this many standard errors of its yardstick
BLOWUP = 1.3  # default factor of the blow-up rule (docs/math.md section 1)
MAX_BOOT = 100_000  # resamples; more cost memory in proportion and narrow nothing
MAX_BUDGET = 1000  # runs per planning call: each is a greedy step; rounds refit in between
