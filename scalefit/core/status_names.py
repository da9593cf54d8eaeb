"""The names of the LR-sweep status codes (``core.optimum``), indexed by code.

Imports nothing, so the command line can offer them in ``--help`` without numpy.
"""

STATUS_NAMES = ("ok", "edge", "too_few", "not_convex", "all_diverged", "bad_fit", "off_grid",
                "div_bracketed", "flat")
