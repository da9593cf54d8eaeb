"""The options and help of ``scalefit backtest`` (kept apart from parser.py)."""

from __future__ import annotations

BACKTEST_EPILOG = r"""examples:
  scalefit backtest runs.csv --axis scale
  scalefit backtest steplaw.csv --scale N --horizon D --loss "smooth loss" --by bs --axis scale
  scalefit backtest token_horizon.csv --axis horizon --levels 2 --json backtest.json
  scalefit backtest steplaw.csv --scale N --horizon D --loss "smooth loss" --joint bs --axis scale
  scalefit backtest width_sweeps.csv --by parameterization --axis scale --fix a=0

Rolling origin: for each of the largest levels of --axis in turn (default every level from
the 4th smallest up, at most 3; --levels K: the K largest), fit the law of lr_opt on the
smaller levels only, predict every ok optimum measured at that level, and compare: ln
error, whether the prediction interval covers it, and the loss cost curvature x error^2.
Baselines: keep the LR of the largest fitted level (same other coordinates, else the
nearest); the law without its last fitted level. The optima are those the full data give.
With --joint COL the held-out points are the joint optima (lr*, COL*) of each scale and
horizon: the law of lr* and the law of COL* predict both, each scored the same way.
With --fix (e.g. a=0, muP's width transfer) every law, the short baseline's too, is
fitted with that exponent held, as `scalefit fit --fix` fits it.
"""

BACKTEST_ABOUT = ("how often the LR law's forecasts are right (held-out levels)",
                  "Rolling-origin backtest of the power laws of lr_opt along an ordered axis "
                  "(scale, horizon or a numeric --by column): fit the smaller levels, predict "
                  "each held-out level's optima, report the prediction intervals' coverage, "
                  "the median |ln error| and the loss cost against two baselines.")


def add_backtest_args(p, option) -> None:
    g = p.add_argument_group("backtest")
    g.add_argument("--axis", metavar="scale|horizon|COL", required=True,
                   help="the ordered axis to hold levels out along: scale, horizon (or their "
                        "column names) or a numeric --by column")
    g.add_argument("--report", metavar="DIR", help="write DIR/report.md, DIR/report.html "
                   "(self-contained) and DIR/figures/backtest.png|svg")
    g.add_argument("--levels", metavar="K", type=option("levels", "--levels"), default=None,
                   help="hold out the K largest levels, each in turn (default: every level "
                        "from the 4th smallest up, at most 3)")
