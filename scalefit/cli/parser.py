"""The ``scalefit`` command line: arguments, help texts with examples, argument types.

Imports nothing heavy (argparse only), so ``scalefit --help`` is instant.
"""

from __future__ import annotations

import argparse
import textwrap

from .._version import __version__
from ..core.status_names import STATUS_NAMES  # numpy-free, so --help stays instant
from ..errors import ScalefitInputError
from ..options import parse
from .backtest_args import add_backtest_args
from .curve_args import add_curve_args
from .help_texts import ABOUT, EPILOGS, MAIN_DESCRIPTION, MAIN_EPILOG, USAGES
from .law_options import add_law_options
from .usage import Parser, UsageError  # noqa: F401 (UsageError: re-exported)

PROG = "scalefit"
FORMATS = ("csv", "tsv", "parquet", "jsonl", "json")


def _fmt_class(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=30, width=100)


def option(key: str, flag: str):
    """An argparse type for ``flag``: the value ``options.parse`` reads from the text by the
    rule ``RULES[key]``; otherwise the one message of that rule, naming the flag."""
    def parse_text(text: str):
        try:
            return parse(key, text, flag)
        except ScalefitInputError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    parse_text.__name__ = key
    return parse_text


def _type(check, hint: str):
    """An argparse type: ``check(text)`` gives the value, or None / ValueError if invalid."""
    def parse_text(text: str):
        try:
            v = check(text)
        except ValueError:
            v = None
        if v is None:
            raise argparse.ArgumentTypeError(f"{text!r}: {hint}")
        return v
    return parse_text


pair = _type(lambda t: tuple(x.strip() for x in t.split("=", 1)) if "=" in t else None,
             "expected KEY=VALUE, e.g. parameterization=mup")

def _columns(p, lr=True):
    g = p.add_argument_group("columns")
    g.add_argument("--scale", metavar="COL", help="scale column (default: found by name)")
    g.add_argument("--horizon", metavar="COL", help="horizon (tokens) column")
    if lr:
        g.add_argument("--lr", metavar="COL", help="learning-rate column")
    g.add_argument("--loss", metavar="COL",
                   help="loss column; any name works, e.g. 'scaling/global_loss'")
    g.add_argument("--status", metavar="COL", help="status column (default: status/state if "
                   "present); diverged/nan/exploded mark diverged runs, statuses other than "
                   "finished ones (running, killed, crashed, ...) unfinished runs (left out)")
    g.add_argument("--status-ok", metavar="VALUE", nargs="+", action="extend", default=[],
                   help="status values that also mean a finished run (besides ok, finished, "
                        "completed, success, done)")
    g.add_argument("--missing-loss", choices=("skip", "diverged"), default="skip", help="an "
                   "empty loss cell (empty, NA, null): skip the run (default; counted, noted) or "
                   "count it as diverged; a NaN or inf loss is always diverged")
    g.add_argument("--keep-duplicates", action="store_true", help="keep copies of a row "
                   "(default: counted once) and run_ids given twice (default: refused)")
    g.add_argument("--branch-of", metavar="COL", help="column naming each run's stable run "
                   "(default: branch_of when present): its branches are resampled together")
    g.add_argument("--extract", metavar="COL:REGEX", action="append", default=[],
                   help="make columns from the named groups (?P<name>...) of REGEX searched in "
                        "COL; numbers are converted (repeatable)")
    g.add_argument("--format", choices=FORMATS,
                   help="input format (default: by extension; CSV for stdin and pipes "
                        "without one)")


def _fit_options(p, by_required=False, joint=True):
    g = p.add_argument_group("fit")
    g.add_argument("--by", metavar="COL", nargs="+", action="extend", default=[],
                   required=by_required,
                   help="columns that split runs into groups, e.g. parameterization")
    g.add_argument("--reference", metavar="LABEL", help="reference group for the transfer "
                   "measures (default: the group with the lowest loss at the largest "
                   "scale all groups share)")
    g.add_argument("--boot", metavar="N", type=option("n_boot", "--boot"), default=1000,
                   help="bootstrap resamples, 0 for none (default 1000)")
    g.add_argument("--seed", metavar="S", type=option("seed", "--seed"), default=0,
                   help="seed of the resampling (default 0)")
    g.add_argument("--ci", metavar="LEVEL", type=option("ci", "--ci"), default=0.95,
                   help="interval level, 0.95 or 95 (default 0.95)")
    g.add_argument("--window", metavar="K", type=option("window", "--window"), default=2,
                   help="half-width of the quadratic fit in grid steps (default 2)")
    g.add_argument("--include-status", metavar="STATUS", nargs="+", choices=STATUS_NAMES,
                   default=["ok"], help="sweep statuses whose optima enter the laws (default: "
                   "ok); div_bracketed sweeps enter with their best LR and their bracket, "
                   "other statuses with their best LR (a grid point, not a fitted optimum; "
                   "never a single-LR sweep)")
    g.add_argument("--blowup", metavar="FACTOR|off", type=option("blowup", "--blowup"),
                   default="1.3",
                   help="count a run above its sweep's best LR whose loss exceeds FACTOR x the "
                        "best mean loss as diverged (default 1.3; 'off' keeps every finite "
                        "loss)")
    g.add_argument("--diverged-above", metavar="X",
                   type=option("diverged_above", "--diverged-above"), default=None,
                   help="count a run whose loss exceeds X times its sweep's lowest loss, at any "
                        "LR, as diverged (replaces --blowup)")
    g.add_argument("--max-misfit", metavar="R", type=option("max_misfit", "--max-misfit"),
                   default=0.25,
                   help="bad_fit when the level means' RMS around the parabola exceeds R x the "
                        "valley's depth in the fit window (default 0.25)")
    g.add_argument("--floor-gap", metavar="F", type=option("floor_gap", "--floor-gap"),
                   default=2.0,
                   help="bad_fit when the parabola dips below every mean loss of its window by "
                        "more than F x the variation at the valley's floor (default 2)")
    g.add_argument("--optima", action=argparse.BooleanOptionalAction, default=None,
                   help="the table is (--optima) or is not (--no-optima) a table of optima, "
                        "one optimal LR per row (default: detected: an lr_opt/best_lr/lr* "
                        "column and no loss column)")
    if joint:
        g.add_argument("--joint", metavar="COL", default=None,
                       help="a numeric column swept with the LR (the batch size, e.g. --joint "
                            "bs): LR sweeps per value of it, plus the joint optimum (lr*, bs*) "
                            "of every scale and horizon from a quadratic surface in (ln lr, ln "
                            "COL), laws of both, and lr_opt = C * scale^a * horizon^b * COL^c")
    g.add_argument("--optima-level", metavar="LEVEL",
                   type=option("optima_level", "--optima-level"), default=0.95,
                   help="level of a table of optima's lr_opt_lo/lr_opt_hi columns (default "
                        "0.95)")


def _outputs(p, report=True):
    g = p.add_argument_group("output")
    g.add_argument("--json", metavar="PATH",
                   help="write the result as JSON ('-' for standard output)")
    if report:
        g.add_argument("--report", metavar="DIR", help="write DIR/report.md, DIR/report.html "
                       "(self-contained) and DIR/figures/*.png|svg")
        g.add_argument("--show", metavar="LABEL", nargs="+", action="extend", default=None,
                       help="the --by groups the report's figures draw, e.g. --show sp mup "
                            "(default: all, at most 6 in a panel, with a note on the others)")
    g.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar and no 'wrote ...' messages on stderr")


def _saved_fit(p):
    p.add_argument("fit", metavar="FIT.json", help="output of 'scalefit fit --json'")
    p.add_argument("--group", metavar="K=V", type=pair, action="append", default=[],
                   help="the by-group to use, e.g. parameterization=mup (default: all)")
    p.add_argument("--boot", metavar="N", type=option("n_boot", "--boot"),
                   help=argparse.SUPPRESS)  # old no-op


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog=PROG, description=MAIN_DESCRIPTION, epilog=MAIN_EPILOG,
                    formatter_class=_fmt_class)
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    common = Parser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    p = {name: sub.add_parser(name, parents=[common], formatter_class=_fmt_class,
                              epilog=EPILOGS[name], help=ABOUT[name][0], usage=USAGES.get(name),
                              description=textwrap.fill(ABOUT[name][1], width=88))
         for name in EPILOGS}
    for name in ("fit", "compare", "chinchilla", "next", "backtest"):
        p[name].add_argument("runs", metavar="RUNS", nargs="?", help="table of runs: .csv .tsv "
                             ".parquet .jsonl .json, or - for stdin")
        _columns(p[name], lr=name != "chinchilla")
    _fit_options(p["fit"])
    _fit_options(p["next"])
    _next_args(p["next"])
    _fit_options(p["compare"], by_required=True, joint=False)
    add_law_options(p)
    _fit_options(p["backtest"], joint=True)
    add_backtest_args(p["backtest"], option)
    p["fit"].add_argument("--all-laws", action="store_true", help="also list the conditional "
                          "laws (at one fixed horizon or scale) in the summary; they are always "
                          "in --json")
    for name in ("predict", "audit"):
        _saved_fit(p[name])
    p["audit"].add_argument("--lr", metavar="X", type=option("lr", "--lr"), required=True,
                            help="the LR used")
    for name, what, eg in (("predict", "target ", "7e9 or 7B"), ("audit", "", "7B")):
        p[name].add_argument("--scale", metavar="N", type=option("scale", "--scale"),
                             help=f"{what}scale, e.g. {eg}")
        p[name].add_argument("--horizon", metavar="D", type=option("horizon", "--horizon"),
                             help=f"{what}tokens, e.g. 1T")
        p[name].add_argument("--bs", metavar="B", type=option("bs", "--bs"),
                             help="batch size (a fit made with --joint; in that column's units): "
                                  + ("also the best LR at this batch size" if name == "predict"
                                     else "the batch size used (default: the predicted "
                                          "optimum)"))
    t = p["transfer"]
    t.add_argument("--lr", metavar="X", type=option("lr", "--lr"), required=True,
                   help="LR tuned at the --from horizon")
    t.add_argument("--from", dest="horizon_ref", metavar="D1",
                   type=option("horizon_ref", "--from"), required=True,
                   help="horizon (tokens) the LR was tuned at, e.g. 10B")
    t.add_argument("--to", dest="horizon_target", metavar="D2",
                   type=option("horizon_target", "--to"), required=True,
                   help="target horizon (tokens), e.g. 1T")
    src = t.add_mutually_exclusive_group(required=True)
    src.add_argument("--b", metavar="B", type=option("b", "--b"),
                     help="horizon exponent, signed (-0.32)")
    src.add_argument("--beta", metavar="BETA", type=option("beta", "--beta"),
                     help="Bjorck et al.'s beta, positive (0.32 means b = -0.32)")
    src.add_argument("--fit", metavar="FIT.json", help="take b and its interval from a fit")
    t.add_argument("--group", metavar="K=V", type=pair, action="append", default=[],
                   help="with --fit: the by-group, e.g. parameterization=mup (default: all)")
    g = p["chinchilla"].add_argument_group("fit")
    g.add_argument("--boot", metavar="N", type=option("chinchilla_n_boot", "--boot"), default=0,
                   help="bootstrap resamples over runs (default 0; 0 or >= 2)")
    g.add_argument("--seed", metavar="S", type=option("seed", "--seed"), default=0,
                   help="resampling seed")
    g.add_argument("--ci", metavar="LEVEL", type=option("ci", "--ci"), default=0.95,
                   help="interval level")
    g.add_argument("--huber-delta", metavar="DELTA", type=option("huber_delta", "--huber-delta"),
                   default=1e-3,
                   help="Huber threshold on ln L residuals (default 1e-3)")
    _isoflop_args(p["isoflop"])
    add_curve_args(p["curve"], option, pair)
    _allocate_args(p["allocate"])
    for name in EPILOGS:
        _outputs(p[name], report=name in ("fit", "compare"))
    p["next"].add_argument_group("runs to do").add_argument(
        "--out", metavar="PATH", help="write the proposed runs as a table (CSV) of runs to do: "
        "each copied from a run of its sweep, with the new LR; 'reference-trainer sweep "
        "--from-csv PATH' trains it")
    p["isoflop"].add_argument_group("figures").add_argument(
        "--figures", metavar="DIR", help="write DIR/isoflop_profiles.png|svg (loss vs N with "
        "the parabolas and optima) and DIR/isoflop_law.png|svg (N* and D* vs C with the laws)")
    return parser


def _next_args(p) -> None:
    g = p.add_argument_group("next runs")
    g.add_argument("--budget", metavar="K", type=option("budget", "--budget"), required=True,
                   help="how many runs to propose (1 to 1000 per call)")
    g.add_argument("--target-scale", metavar="N", type=option("target_scale", "--target-scale"),
                   help="target scale, e.g. 7B: reduce the uncertainty of the optimal LR the "
                   "law predicts there")
    g.add_argument("--target-horizon", metavar="D",
                   type=option("target_horizon", "--target-horizon"),
                   help="target horizon in tokens, e.g. 1T")
    g.add_argument("--group", metavar="K=V", type=pair, action="append", default=[],
                   help="only this by-group's sweeps, e.g. parameterization=mup (repeatable)")
    g.add_argument("--per-group", action="store_true",
                   help="propose --budget runs for each by-group (default: in all)")
    g.add_argument("--cost", choices=("flops", "runs"), default="flops",
                   help="cost of a run: flops (scale x horizon, default) or runs (all equal)")
    g.add_argument("--objective", choices=("variance", "loss"), default="variance",
                   help="reduce the variance of ln lr_opt (default) or its expected loss "
                   "cost (curvature x variance)")
    g.add_argument("--new-scale", metavar="N", type=option("new_scales", "--new-scale"),
                   action="append", default=[],
                   help="a scale at which a new sweep may be proposed (repeatable; besides "
                   "the next scale of the data's own ladder)")
    g.add_argument("--new-horizon", metavar="D", type=option("new_horizons", "--new-horizon"),
                   action="append", default=[],
                   help="a horizon at which a new sweep may be proposed (repeatable)")
    g.add_argument("--no-new-sweeps", action="store_true",
                   help="propose runs in the existing sweeps only")
    g.add_argument("--new-sweep-lrs", metavar="N", type=option("new_sweep_lrs", "--new-sweep-lrs"),
                   default=5,
                   help="runs of a new sweep (default 5)")
    g.add_argument("--candidates", metavar="PATH",
                   help="a table of the only runs allowed (the columns of RUNS that define a "
                   "sweep, and the LR), e.g. the points of a grid not trained yet")


def _isoflop_args(p) -> None:
    p.add_argument("runs", metavar="RUNS", nargs="?", help="table of runs: .csv .tsv .parquet "
                   ".jsonl .json, or - for stdin")
    g = p.add_argument_group("columns")
    g.add_argument("--flops", metavar="COL", help="FLOP column (default: flops, C, compute, "
                   "budget, ... if present; else C = 6 N D)")
    g.add_argument("--params", "--scale", dest="params", metavar="COL",
                   help="model-size column N (default: N, params, n_params, ...)")
    g.add_argument("--tokens", "--horizon", dest="tokens", metavar="COL",
                   help="tokens column D (default: D, tokens, ...; else D = C / (6 N))")
    g.add_argument("--loss", metavar="COL", help="loss column")
    g.add_argument("--status", metavar="COL", help="status column (diverged/failed runs)")
    g.add_argument("--missing-loss", choices=("skip", "diverged"), default="skip", help="an "
                   "empty loss cell (empty, NA, null): skip the run (default; counted, noted) or "
                   "count it as diverged; a NaN or inf loss is always diverged")
    g.add_argument("--keep-duplicates", action="store_true", help="keep copies of a row "
                   "(default: counted once) and run_ids given twice (default: refused)")
    g.add_argument("--extract", metavar="COL:REGEX", action="append", default=[],
                   help="make columns from the named groups of REGEX searched in COL")
    g.add_argument("--format", choices=FORMATS, help="input format (default: by extension)")
    g = p.add_argument_group("fit")
    g.add_argument("--by", metavar="COL", nargs="+", action="extend", default=[],
                   help="columns that split profiles into groups (a law per group)")
    g.add_argument("--budget-col", metavar="COL", help="each run's budget (exact groups); "
                   "default: a FLOP column whose values repeat, else C binned")
    g.add_argument("--budget-tol", metavar="X", type=option("budget_tol", "--budget-tol"),
                   default=0.1, help="bin C into budgets where neighbours differ by less than "
                   "this fraction (default 0.1)")
    g.add_argument("--boot", metavar="N", type=option("n_boot", "--boot"), default=1000,
                   help="bootstrap resamples, 0 for none (default 1000)")
    g.add_argument("--seed", metavar="S", type=option("seed", "--seed"), default=0,
                   help="resampling seed")
    g.add_argument("--ci", metavar="LEVEL", type=option("ci", "--ci"), default=0.95,
                   help="interval level")
    g.add_argument("--window", metavar="K", type=option("window", "--window"), default=2,
                   help="half-width of the quadratic fit in steps of the N grid (default 2)")
    g.add_argument("--include-status", metavar="STATUS", nargs="+", choices=STATUS_NAMES,
                   default=["ok"], help="profile statuses whose optima enter the laws")


def _allocate_args(p) -> None:
    p.add_argument("fit", metavar="FIT.json", help="output of 'scalefit chinchilla --json'")
    p.add_argument("--budget", metavar="C", type=option("budgets", "--budget"), action="append",
                   required=True,
                   help="compute budget in FLOPs, e.g. 5.88e23 (repeatable)")
    p.add_argument("--ci", metavar="LEVEL", type=option("level", "--ci"), default=None,
                   help="interval level (default: the fit's), from the saved draws")
