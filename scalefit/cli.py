"""``scalefit``: the command line, a thin layer over the library.

    scalefit fit RUNS            optimal LR per sweep, power laws, transfer quality
    scalefit compare RUNS --by   fit + the transfer-quality table of the groups
    scalefit predict FIT.json    optimal LR at a new (scale, horizon)
    scalefit audit FIT.json      loss cost of training at a given LR
    scalefit transfer            carry a tuned LR to another token horizon
    scalefit chinchilla RUNS     the Chinchilla loss law L(N, D)

Exit status: 0 success; 2 bad input or usage (one line on stderr naming the file, the
column and the row); 1 a fit that failed, or an internal error. Tracebacks only with
``--debug``. This module imports nothing heavy at import time (numpy, pandas,
matplotlib are imported inside the commands) so that ``scalefit --help`` is instant.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from ._version import __version__
from .errors import ScalefitFitError, ScalefitInputError

PROG = "scalefit"
EXIT_OK, EXIT_FIT, EXIT_INPUT = 0, 1, 2
# Same as scalefit.optimum.STATUS_NAMES (kept here so that --help imports no numpy).
STATUS_NAMES = ("ok", "edge", "too_few", "not_convex", "all_diverged")
STATUS_WHY = {
    "all_diverged": "every run diverged",
    "too_few": "each sweep needs >= 3 distinct LRs with a finite loss",
    "edge": "the best LR is the smallest or largest tried; extend the LR grid past it, or "
            "pass --include-status ok edge",
    "not_convex": "the loss is not convex in ln lr around the best LR",
}
FORMATS = ("csv", "tsv", "parquet", "jsonl", "json")


class UsageError(Exception):
    """Bad command line: exit 2 with one line."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``scalefit: error: ...``) instead of usage dumps."""

    def error(self, message: str):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _fmt_class(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=30, width=100)


def _wrap(text: str) -> str:
    import textwrap

    return textwrap.fill(" ".join(text.split()), width=88)


# ---------------------------------------------------------------- argument types


def _level(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; e.g. 0.95 or 95") from None
    if 50 <= v < 100:  # a percentage
        v /= 100
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give the level as a fraction in (0, 1) "
                                         "or a percentage in [50, 100), e.g. 0.95 or 95")
    return v


def _count(minimum: int):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"{text!r}: must be >= {minimum}")
        return v

    return parse


_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}


def _amount(text: str) -> float:
    """A positive number; counts may carry a suffix: 125M, 7B, 1.4T, 300K."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMbBgGtT]?)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number (e.g. 7e9 or 7B)")
    v = float(m.group(1)) * _SUFFIX[m.group(2).lower()]
    if not (v > 0 and v != float("inf")):
        raise argparse.ArgumentTypeError(f"{text!r}: must be a finite number > 0")
    return v


def _real(text: str) -> float:
    """A finite number."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text!r}: must be finite")
    return v


def _positive(text: str) -> float:
    """A finite number > 0."""
    v = _real(text)
    if not v > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a finite number > 0")
    return v


def _pair(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY=VALUE, e.g. parameterization=mup")
    k, v = text.split("=", 1)
    return k.strip(), v.strip()


# ---------------------------------------------------------------- parser

EPILOG_FIT = r"""examples:
  scalefit fit runs.csv
  scalefit fit examples/data/synthetic_sweeps.csv --by parameterization --report report/
  scalefit fit runs.parquet --lr peak_lr --loss "eval/loss" --boot 2000 --json fit.json
  scalefit fit wandb_export.csv --loss scaling/global_loss \
      --extract 'Name:-(?P<width>\d+)x(?P<depth>\d+)_.*_lr(?P<lr>[0-9.e+-]+)_'
  cat runs.csv | scalefit fit - --json - > fit.json

Columns are found by name: scale (N, params, n_params, width, ...), horizon (D, tokens,
...), lr (learning_rate, peak_lr, ...), loss (val_loss, final_loss, ...); name them with
--scale/--horizon/--lr/--loss. Runs with a NaN/inf/empty loss, or a status column saying
diverged/failed, count as diverged.
"""

EPILOG_COMPARE = r"""examples:
  scalefit compare examples/data/synthetic_sweeps.csv --by parameterization --reference mup
  scalefit compare runs.csv --by parameterization weight_decay --report compare/
"""

EPILOG_PREDICT = r"""examples:
  scalefit fit runs.csv --by parameterization --json fit.json
  scalefit predict fit.json --scale 7B --horizon 1T
  scalefit predict fit.json --scale 7e9 --horizon 1e12 --group parameterization=mup

Intervals need the bootstrap, which FIT.json does not store: when the runs file named in
FIT.json (input.source) still exists, the fit is redone with the saved settings to get
them; otherwise the point estimate is printed and the command says so.
"""

EPILOG_AUDIT = r"""examples:
  scalefit audit fit.json --lr 3e-4 --scale 7B --horizon 1T
  scalefit audit fit.json --lr 3e-4 --scale 7e9 --horizon 1e12 --group parameterization=sp

The penalty is curvature * (ln lr - ln lr_opt)^2 in loss units, with the curvature
extrapolated by its own law.
"""

EPILOG_TRANSFER = r"""examples:
  scalefit transfer --lr 3e-3 --from 10B --to 1T --b -0.32
  scalefit transfer --lr 3e-3 --from 10B --to 1T --beta 0.32
  scalefit transfer --lr 3e-3 --from 10B --to 1T --fit fit.json --group parameterization=mup

lr(to) = lr(from) * (to / from)^b. Exponents are signed as in the formula: Bjorck et al.'s
beta = 0.32 is b = -0.32 (--beta 0.32 says the same).
"""

EPILOG_CHINCHILLA = r"""examples:
  scalefit chinchilla runs.csv --boot 200
  scalefit chinchilla runs.csv --scale n_params --horizon tokens --loss val_loss --json law.json

Fits loss = E + A * N^-alpha + B * D^-beta (Huber loss on ln L, L-BFGS from a grid of
starts, as Hoffmann et al. and Besiroglu et al.). N is the scale column, D the horizon.
"""

MAIN_DESCRIPTION = """\
Hyperparameter transfer for LLM training: optimal learning rates per sweep, power
laws of the optimum across scale and token horizon, transfer quality, with bootstrap
intervals, from any table of runs (CSV, Parquet, JSON Lines; '-' for stdin)."""

MAIN_EPILOG = """examples:
  scalefit fit examples/data/synthetic_sweeps.csv --by parameterization
  scalefit fit runs.csv --json fit.json --report report/
  scalefit predict fit.json --scale 7B --horizon 1T
  scalefit audit fit.json --lr 3e-4 --scale 7B --horizon 1T
  scalefit transfer --lr 3e-3 --from 10B --to 1T --b -0.32
  scalefit compare runs.csv --by parameterization --reference mup
  scalefit chinchilla runs.csv --boot 200

exit status: 0 success, 2 bad input or usage, 1 the fit failed.
'scalefit COMMAND --help' shows every option, with examples.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=MAIN_DESCRIPTION, epilog=MAIN_EPILOG,
                     formatter_class=_fmt_class)
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error")

    def columns(p, lr=True):
        g = p.add_argument_group("columns")
        g.add_argument("--scale", metavar="COL", help="scale column (default: found by name)")
        g.add_argument("--horizon", metavar="COL", help="horizon (tokens) column")
        if lr:
            g.add_argument("--lr", metavar="COL", help="learning-rate column")
        g.add_argument("--loss", metavar="COL",
                       help="loss column; any name works, e.g. 'scaling/global_loss'")
        g.add_argument("--status", metavar="COL",
                       help="status column (default: status/state if present); values "
                            "like diverged/failed mark diverged runs")
        g.add_argument("--extract", metavar="COL:REGEX", action="append", default=[],
                       help="make columns from the named groups (?P<name>...) of REGEX "
                            "searched in COL; numbers are converted (repeatable)")
        g.add_argument("--format", choices=FORMATS,
                       help="input format (default: by extension; CSV for stdin)")
        return g

    def fit_options(p, by_required=False):
        g = p.add_argument_group("fit")
        g.add_argument("--by", metavar="COL", nargs="+", action="extend", default=[],
                       required=by_required,
                       help="columns that split runs into groups, e.g. parameterization")
        g.add_argument("--reference", metavar="LABEL",
                       help="reference group for the transfer measures (default: the group "
                            "with the lowest asymptotic loss)")
        g.add_argument("--boot", metavar="N", type=_count(0), default=1000,
                       help="bootstrap resamples, 0 for none (default 1000)")
        g.add_argument("--seed", metavar="S", type=int, default=0,
                       help="seed of the resampling (default 0)")
        g.add_argument("--ci", metavar="LEVEL", type=_level, default=0.95,
                       help="interval level, 0.95 or 95 (default 0.95)")
        g.add_argument("--window", metavar="K", type=_count(1), default=2,
                       help="half-width of the quadratic fit in grid steps (default 2)")
        g.add_argument("--include-status", metavar="STATUS", nargs="+", choices=STATUS_NAMES,
                       default=["ok"],
                       help="sweep statuses whose optima enter the laws (default: ok)")
        g.add_argument("--diverged-above", metavar="X", type=float, default=None,
                       help="count a run whose loss exceeds X times its sweep's best loss as "
                            "diverged (for exports that log exploded runs with a finite loss)")

    def outputs(p, report=True):
        g = p.add_argument_group("output")
        g.add_argument("--json", metavar="PATH",
                       help="write the result as JSON ('-' for standard output)")
        if report:
            g.add_argument("--report", metavar="DIR",
                           help="write DIR/report.md, DIR/report.html (self-contained) and "
                                "DIR/figures/*.png|svg")
        g.add_argument("-q", "--quiet", action="store_true",
                       help="no progress bar and no 'wrote ...' messages on stderr")

    p = sub.add_parser("fit", parents=[common], formatter_class=_fmt_class, epilog=EPILOG_FIT,
                       help="optimal LR per sweep, power laws and transfer quality",
                       description=_wrap("Fit the optimal learning rate of every LR sweep (a "
                                   "quadratic in ln lr), power laws of the optimum in scale "
                                   "and horizon, and the transfer measures of --by groups."),
                       usage="%(prog)s RUNS [options]")
    p.add_argument("runs", metavar="RUNS", nargs="?",
                   help="table of runs: .csv .tsv .parquet .jsonl .json, or - for stdin")
    columns(p)
    fit_options(p)
    outputs(p)
    p.add_argument("--all-laws", action="store_true",
                   help="also list the conditional laws (at one fixed horizon or scale) in "
                        "the summary; they are always in --json")
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("compare", parents=[common], formatter_class=_fmt_class,
                       epilog=EPILOG_COMPARE, help="fit and compare groups (parameterizations)",
                       description=_wrap("Fit, then print each group's LR law and the transfer-"
                                   "quality table: E (scatter of ln lr_opt around its law), "
                                   "the leave-largest-out extrapolation error, kappa "
                                   "(curvature exponent), R_inf (asymptotic loss ratio to the "
                                   "reference)."),
                       usage="%(prog)s RUNS --by COL [COL ...] [options]")
    p.add_argument("runs", metavar="RUNS", nargs="?", help="table of runs, or - for stdin")
    columns(p)
    fit_options(p, by_required=True)
    outputs(p)
    p.set_defaults(func=cmd_compare)

    def from_fit(p):
        p.add_argument("fit", metavar="FIT.json", help="output of 'scalefit fit --json'")
        p.add_argument("--group", metavar="K=V", type=_pair, action="append", default=[],
                       help="the by-group to use, e.g. parameterization=mup (default: all)")
        p.add_argument("--boot", metavar="N", type=_count(0),
                       help="resamples when refitting for intervals (default: as saved)")

    p = sub.add_parser("predict", parents=[common], formatter_class=_fmt_class,
                       epilog=EPILOG_PREDICT, help="optimal LR at a new scale and horizon",
                       description=_wrap("Predict the optimal LR at (scale, horizon) from the laws "
                                   "of a saved fit, with the interval of the law (CI) and a "
                                   "prediction interval that adds the scatter of the optima."))
    from_fit(p)
    p.add_argument("--scale", metavar="N", type=_amount, help="target scale, e.g. 7e9 or 7B")
    p.add_argument("--horizon", metavar="D", type=_amount, help="target tokens, e.g. 1T")
    outputs(p, report=False)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("audit", parents=[common], formatter_class=_fmt_class,
                       epilog=EPILOG_AUDIT, help="loss cost of training at a given LR",
                       description=_wrap("How far is LR from the predicted optimum at (scale, "
                                   "horizon), and how much loss does it cost?"))
    from_fit(p)
    p.add_argument("--lr", metavar="X", type=_positive, required=True, help="the LR used")
    p.add_argument("--scale", metavar="N", type=_amount, help="scale, e.g. 7B")
    p.add_argument("--horizon", metavar="D", type=_amount, help="tokens, e.g. 1T")
    outputs(p, report=False)
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("transfer", parents=[common], formatter_class=_fmt_class,
                       epilog=EPILOG_TRANSFER, help="carry an LR to another token horizon",
                       description=_wrap("Carry an LR tuned at one token horizon to another: "
                                   "lr * (to / from)^b, with b given or from a fit."))
    p.add_argument("--lr", metavar="X", type=_positive, required=True,
                   help="LR tuned at the --from horizon")
    p.add_argument("--from", dest="horizon_ref", metavar="D1", type=_amount, required=True,
                   help="horizon (tokens) the LR was tuned at, e.g. 10B")
    p.add_argument("--to", dest="horizon_target", metavar="D2", type=_amount, required=True,
                   help="target horizon (tokens), e.g. 1T")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--b", metavar="B", type=_real, help="horizon exponent, signed (-0.32)")
    src.add_argument("--beta", metavar="BETA", type=_real,
                     help="Bjorck et al.'s beta, positive (0.32 means b = -0.32)")
    src.add_argument("--fit", metavar="FIT.json", help="take b and its interval from a fit")
    p.add_argument("--group", metavar="K=V", type=_pair, action="append", default=[],
                   help="with --fit: the by-group, e.g. parameterization=mup (default: all)")
    outputs(p, report=False)
    p.set_defaults(func=cmd_transfer)

    p = sub.add_parser("chinchilla", parents=[common], formatter_class=_fmt_class,
                       epilog=EPILOG_CHINCHILLA, help="fit the Chinchilla loss law L(N, D)",
                       description=_wrap("Fit loss = E + A * N^-alpha + B * D^-beta to every "
                                   "non-diverged run."),
                       usage="%(prog)s RUNS [options]")
    p.add_argument("runs", metavar="RUNS", nargs="?", help="table of runs, or - for stdin")
    columns(p, lr=False)
    g = p.add_argument_group("fit")
    g.add_argument("--boot", metavar="N", type=_count(0), default=0,
                   help="bootstrap resamples over runs (default 0; 0 or >= 2)")
    g.add_argument("--seed", metavar="S", type=int, default=0, help="resampling seed")
    g.add_argument("--ci", metavar="LEVEL", type=_level, default=0.95, help="interval level")
    g.add_argument("--huber-delta", metavar="DELTA", type=_positive, default=1e-3,
                   help="Huber threshold on ln L residuals (default 1e-3)")
    outputs(p, report=False)
    p.set_defaults(func=cmd_chinchilla)
    return parser


# ---------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input, 1 fit failed)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    # Every matrix here is small: one BLAS thread is faster, and multithreaded OpenBLAS
    # makes scipy's L-BFGS-B (the Chinchilla fit) several times slower on a busy machine.
    # Set before numpy is first imported; an explicit setting by the user wins.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        parser = build_parser()
        if not argv:
            parser.print_help(sys.stderr)
            return EXIT_INPUT
        args = parser.parse_args(argv)
        if args.command is None:
            raise UsageError("choose a command: fit, compare, predict, audit, transfer, "
                             "chinchilla (see 'scalefit --help')")
        _fix_runs_after_by(args)
        return _run(args)
    except SystemExit as e:  # --help / --version
        return e.code if isinstance(e.code, int) else EXIT_OK
    except UsageError as e:
        return _fail(str(e), EXIT_INPUT, debug)
    except ScalefitInputError as e:
        return _fail(str(e), EXIT_INPUT, debug)
    except ScalefitFitError as e:
        return _fail(f"the fit failed: {e}", EXIT_FIT, debug)
    except KeyboardInterrupt:
        return _fail("interrupted", 130, debug)
    except BrokenPipeError:  # e.g. `scalefit fit runs.csv | head`
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return EXIT_OK
    except MemoryError:
        return _fail("out of memory; try fewer bootstrap resamples (--boot)", EXIT_FIT, debug)
    except Exception as e:  # a bug: one line, the traceback with --debug
        return _fail(f"internal error: {type(e).__name__}: {_one_line(str(e))} (rerun with "
                     "--debug for the traceback, and please report it)", EXIT_FIT, debug)


def _run(args) -> int:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = args.func(args)
    sys.stdout.flush()
    for message in getattr(args, "_late_warnings", []):
        _warn(message)
    for message in getattr(args, "_messages", []):
        sys.stderr.write(f"{PROG}: {message}\n")
    shown = getattr(args, "_shown_warnings", set())
    for w in caught:
        if issubclass(w.category, (RuntimeWarning, DeprecationWarning, FutureWarning)):
            if args.debug:
                _warn(f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})")
            continue
        msg = _one_line(str(w.message))
        if msg not in shown:
            shown.add(msg)
            _warn(msg)
    return status


def _fail(message: str, code: int, debug: bool) -> int:
    if debug and sys.exc_info()[0] is not None:
        import traceback

        traceback.print_exc()
    sys.stderr.write(f"{PROG}: error: {_one_line(message)}\n")
    sys.stderr.flush()
    return code


def _warn(message: str) -> None:
    sys.stderr.write(f"{PROG}: warning: {message}\n")


def _info(args, message: str) -> None:
    """A status message for stderr, shown after the command's output (not with --quiet)."""
    if not getattr(args, "quiet", False):
        args._messages = getattr(args, "_messages", []) + [message]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _fix_runs_after_by(args) -> None:
    """`scalefit fit --by parameterization runs.csv`: the file was swallowed by --by."""
    if not hasattr(args, "runs"):
        return
    by = getattr(args, "by", None) or []
    if args.runs is None and by and (by[-1] == "-" or os.path.isfile(by[-1])):
        args.runs = by.pop()
    if args.runs is None:
        raise UsageError(f"{args.command}: give the table of runs (RUNS), e.g. "
                         f"'scalefit {args.command} runs.csv' (see 'scalefit {args.command} "
                         "--help')")


# ---------------------------------------------------------------- reading runs


def read_runs_frame(args):
    """The table of runs as a DataFrame, with --extract applied; also its display name."""
    from .io import read_table

    src = "<stdin>" if args.runs == "-" else args.runs
    df = read_table(args.runs, args.format)
    if args.extract:
        df = apply_extract(df, args.extract, src)
    return df, src


def apply_extract(df, specs: list[str], src: str):
    """Add the named groups of each ``COL:REGEX`` as columns (numbers converted).

    The regex is searched (``re.search``) in the text of COL; every row must match.
    """
    import pandas as pd

    df = df.copy()
    for spec in specs:
        col, pattern = _split_extract(spec, [str(c) for c in df.columns], src)
        try:
            rx = re.compile(pattern)
        except re.error as e:
            raise ScalefitInputError(f"--extract {spec!r}: bad regular expression: {e}") from None
        names = list(rx.groupindex)
        if not names:
            raise ScalefitInputError(f"--extract {spec!r}: the regex has no named group; write "
                                     "(?P<name>...) around each value to extract")
        clash = [n for n in names if n in df.columns]
        if clash:
            raise ScalefitInputError(f"--extract {spec!r}: {src} already has a column "
                                     f"{clash[0]!r}; rename the group")
        values = df[col]
        found = {n: [] for n in names}
        misses = []
        for i, v in enumerate(values.tolist()):
            m = None if v is None or (isinstance(v, float) and v != v) else rx.search(str(v))
            if m is None:
                misses.append(i)
                continue
            for n in names:
                found[n].append(m.group(n))
        if misses:
            i = misses[0]
            more = f" ({len(misses)} of {len(values)} rows do not match)" if len(misses) > 1 else ""
            raise ScalefitInputError(f"{src}: column {col!r}, row {i + 1}: {values.iloc[i]!r} "
                                     f"does not match --extract regex {pattern!r}{more}")
        for n in names:
            raw = pd.Series(found[n], index=df.index, dtype=object)
            num = pd.to_numeric(raw, errors="coerce")
            df[n] = num if num.notna().sum() == raw.notna().sum() else raw
    return df


def _split_extract(spec: str, columns: list[str], src: str) -> tuple[str, str]:
    if ":" not in spec:
        raise ScalefitInputError(f"--extract {spec!r}: expected COL:REGEX, e.g. "
                                 "'Name:_lr(?P<lr>[0-9.e+-]+)_'")
    # The column name may itself hold ':'; take the shortest prefix that is a column.
    for m in re.finditer(":", spec):
        if spec[: m.start()] in columns:
            return spec[: m.start()], spec[m.end():]
    col = spec.split(":", 1)[0]
    raise ScalefitInputError(f"{src}: column {col!r} (given to --extract) not found; columns "
                             f"are: {', '.join(columns)}")


def _fix_source(e: ScalefitInputError, src: str) -> ScalefitInputError:
    """Library messages about a DataFrame name '<DataFrame>'; name the file instead."""
    msg = str(e)
    if msg.startswith("<DataFrame>"):
        msg = src + msg[len("<DataFrame>"):]
    return ScalefitInputError(msg.replace("<DataFrame>", src))


def _progress(args, label: str, after: str | None = None):
    from .progress import ProgressBar

    return ProgressBar(label, enabled=False if args.quiet else None, after=after)


def run_fit(args, settings: dict | None = None):
    """Read the runs, fit, and check that some sweep has an optimum. Returns (result, df)."""
    from .api import fit

    df, src = read_runs_frame(args)
    by = list(dict.fromkeys(args.by))
    if args.reference is not None and not by:
        raise UsageError("--reference needs --by (the groups it refers to)")
    with _progress(args, "bootstrap", after="fitting laws") as bar:
        try:
            result = fit(df, scale=args.scale, horizon=args.horizon, lr=args.lr, loss=args.loss,
                         by=by, n_boot=args.boot, ci=args.ci, seed=args.seed, window=args.window,
                         include=tuple(args.include_status), reference=args.reference,
                         status=args.status, progress=bar,
                         diverged_above=args.diverged_above, source=src)
        except ScalefitInputError as e:
            raise _fix_source(e, src) from e
    result.input["source"] = src
    if args.extract:
        result.input["extract"] = list(args.extract)
    if args.format:
        result.input["format"] = args.format
    _check_optimum(result, src, args.include_status)
    for hint in pooling_hints(df, result):
        _later_warning(args, hint)
    return result, df


# Where-and-with-what columns of the reference trainer's rows: they may differ within a
# sweep (a sweep extended later, on another machine) without being experimental factors.
PROVENANCE = {"git_rev": "code revisions", "torch_version": "torch versions",
              "device": "devices"}


def pooling_hints(df, result) -> list[str]:
    """Text columns that vary within a sweep but are not --by columns (likely a forgotten --by).

    Runs that differ in such a column (e.g. parameterization) are pooled into one sweep.
    Columns with a value per run (run names) and the status column are ignored.
    """
    import pandas as pd

    used = {c for c in result.input["columns"].values() if c} | set(result.by)
    keys = [result.input["columns"][r] for r in ("scale", "horizon")
            if result.input["columns"].get(r)] + list(result.by)
    hints = []
    for col in df.columns:
        if col in used or str(col).startswith("_"):
            continue
        values = df[col]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            continue
        n = values.nunique(dropna=True)
        if not 2 <= n <= 20 or n > len(df) / 2:
            continue
        varies = (values.nunique() > 1 if not keys
                  else bool((df.groupby(keys, dropna=False)[col].nunique() > 1).any()))
        if varies:
            shown = ", ".join(map(str, sorted(values.dropna().unique(), key=str)[:5]))
            what = f"column {col!r} ({n} values: {shown}{', ...' if n > 5 else ''})"
            if col in PROVENANCE:
                hints.append(f"{what} differs within sweeps: runs from different "
                             f"{PROVENANCE[col]} are pooled (as when a sweep was extended "
                             "later); check that nothing that changes results differs")
            else:
                hints.append(f"{what} varies within sweeps but is not a --by column, so its "
                             f"runs are pooled; add --by {col} if they are different sweeps")
    return hints


def _later_warning(args, message: str) -> None:
    """A warning for stderr, shown after the command's output (also with --quiet)."""
    args._late_warnings = getattr(args, "_late_warnings", []) + [message]


def _check_optimum(result, src: str, include) -> None:
    counts = result.optima["status"].value_counts()
    if any(s in counts.index for s in include):
        return
    parts = [f"{n} {s} ({STATUS_WHY.get(s, s)})" for s, n in counts.items()]
    raise ScalefitInputError(f"{src}: no sweep has an optimum: {'; '.join(parts)}")


def _runs_table(args, df, result):
    from .io import load_runs

    c = result.input["columns"]
    return load_runs(df, scale=c.get("scale"), horizon=c.get("horizon"), lr=c.get("lr"),
                     loss=c.get("loss"), by=tuple(result.by), status=c.get("status"))


# ---------------------------------------------------------------- outputs


def _write_json(args, obj) -> None:
    import json

    text = json.dumps(obj, indent=2, allow_nan=False)
    if args.json == "-":
        sys.stdout.write(text + "\n")
        return
    try:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    except OSError as e:
        raise ScalefitInputError(f"{args.json}: cannot write the JSON: {e.strerror}") from None
    _info(args, f"wrote {args.json}")


def _write_report(args, result, df, argv_text: str | None = None) -> None:
    from .report import write_report

    runs = _runs_table(args, df, result)
    try:
        os.makedirs(args.report, exist_ok=True)
    except OSError as e:
        raise ScalefitInputError(f"{args.report}: cannot create the report folder: "
                                 f"{e.strerror}") from None
    with _progress(args, "report"):
        paths = write_report(result, runs, args.report, command=argv_text)
    _info(args, f"wrote {paths['report.html']}, {paths['report.md']} and "
                f"{sum(1 for k in paths if k.endswith('.png'))} figures (PNG + SVG) in "
                f"{os.path.join(args.report, 'figures')}")


def _print(text: str) -> None:
    sys.stdout.write(text.rstrip("\n") + "\n")
    sys.stdout.flush()


def _command_line() -> str:
    import shlex

    return " ".join(["scalefit", *(shlex.quote(a) for a in sys.argv[1:])])


# ---------------------------------------------------------------- commands


def _check_outputs(args) -> None:
    """Fail before the (slow) fit when an output cannot be written."""
    path = getattr(args, "json", None)
    if path and path != "-":
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise ScalefitInputError(f"{path}: cannot write the JSON: the folder {parent} "
                                     "does not exist")
        if os.path.isdir(path):
            raise ScalefitInputError(f"{path}: is a directory; --json needs a file name")
    report = getattr(args, "report", None)
    if report and os.path.exists(report) and not os.path.isdir(report):
        raise ScalefitInputError(f"{report}: exists and is not a folder; --report needs a "
                                 "folder (it is created if missing)")
    if (report and not os.path.isdir(report)
            and os.path.splitext(report)[1].lower() in (".html", ".htm", ".md", ".pdf")):
        raise ScalefitInputError(f"{report}: --report takes a folder (it writes report.html, "
                                 "report.md and figures/ into it), not a file name")


def cmd_fit(args) -> int:
    _check_outputs(args)
    result, df = run_fit(args)
    if args.json:
        _write_json(args, result.to_dict(draws=True))
    if args.json != "-":
        _print(result.summary(conditional=args.all_laws))
    if args.report:
        _write_report(args, result, df, _command_line())
    return EXIT_OK


def cmd_compare(args) -> int:
    _check_outputs(args)
    result, df = run_fit(args)
    if args.json:
        _write_json(args, result.to_dict(draws=True))
    if args.json != "-":
        _print(compare_text(result))
    if args.report:
        _write_report(args, result, df, _command_line())
    return EXIT_OK


def compare_text(result) -> str:
    """Each group's primary LR law and the transfer-quality table."""
    from .result import _table, fmt, fmt_ci

    inp = result.input
    counts = result.optima["status"].value_counts()
    lvl = f"{result.settings['ci'] * 100:g}%"
    lines = [f"scalefit {__version__}: {inp['source']}: {inp['rows']} runs ({inp['diverged']} "
             f"diverged), {inp['groups']} sweeps ("
             + ", ".join(f"{counts[s]} {s}" for s in counts.index) + f"); {lvl} intervals, "
             f"{result.settings['n_boot']} resamples", ""]
    rows = []
    for law in result.laws:
        if law.target != "lr_opt" or not law.primary:
            continue
        label = "/".join(str(v) for v in law.group.values()) or "all"
        cells = [label, law.form.replace("lr_opt = ", "")]
        for name in ("a", "b"):
            cells.append(f"{fmt(law.params.get(name))} {fmt_ci(law.ci.get(name))}".strip()
                         if name in law.params else "")
        cells += [fmt(law.rmse_log), str(law.n_points)]
        rows.append(cells)
    if rows:
        lines.append(f"Optimal LR laws per group (lr_opt = C * ...; {lvl} CI)")
        lines += _table(["group", "law", "a (scale)", "b (horizon)", "RMSE_log", "n"], rows)
        lines.append("")
    if result.transfer is not None:
        lines += result.transfer.summary_lines()
    if result.notes:
        lines += ["", "Notes:"] + [f"  - {n}" for n in result.notes]
    return "\n".join(lines)


# ------------------------------------------------- saved fits (predict / audit / transfer)


def load_fit(path: str, args=None, need_draws: bool = True):
    """A FitResult for predict/audit/transfer from a saved ``scalefit fit --json`` file.

    ``scalefit fit --json`` saves the bootstrap draws of the primary laws, which is all a
    joint interval of a prediction needs: the laws are rebuilt from the JSON. An older
    or hand-made FIT.json without draws falls back to a refit: when ``input.source``
    names a runs file that still exists, the fit is redone with the saved settings
    (bootstrap included) and checked against the saved parameters; otherwise the laws
    are rebuilt without draws (point estimates only). Returns ``(result, note)``, where
    ``note`` says where the intervals come from. ``need_draws=False`` skips the refit
    (for intervals that the saved marginal intervals give exactly). Swap this function
    out once the JSON carries what is needed (a ``FitResult.from_dict`` or compact draws).
    """
    d = _read_fit_json(path)
    if not need_draws:
        return _rebuild(d), f"intervals from the saved interval of b in {path}"
    primary = [ld for ld in d["laws"] if ld.get("primary") and ld["target"] != "loss_opt"]
    if primary and all(ld.get("draws") for ld in primary):
        s = d["settings"]
        return _rebuild(d), (f"intervals: the bootstrap draws saved in {path} "
                             f"({s.get('n_boot')} resamples, seed {s.get('seed')})")
    src = d["input"].get("source")
    runs_path = _find_runs(src, path)
    if runs_path is not None:
        result = _refit(d, runs_path, args)
        if result is not None:
            if _same_laws(d, result):
                s = result.settings
                return result, (f"intervals: bootstrap refit of {src} with the saved settings "
                                f"({s['n_boot']} resamples, seed {s['seed']})")
            return _rebuild(d), (f"point estimates only: {src} has changed since {path} was "
                                 "written, so no intervals (refit it to get them)")
    if src in (None, "<stdin>", "<DataFrame>"):
        why = "the runs came from standard input"
    else:
        why = f"the runs file {src!r} was not found"
    return _rebuild(d), (f"point estimates only: intervals need the bootstrap, which {path} "
                         f"does not store, and {why}; run this next to the runs file, or refit")


def _read_fit_json(path: str) -> dict:
    import json

    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except FileNotFoundError:
        raise ScalefitInputError(f"{path}: no such file; write one with "
                                 "'scalefit fit RUNS --json FIT.json'") from None
    except IsADirectoryError:
        raise ScalefitInputError(f"{path}: is a directory, not a FIT.json") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        where = f" (line {e.lineno})" if hasattr(e, "lineno") else ""
        raise ScalefitInputError(f"{path}: not valid JSON{where}; give the output of "
                                 "'scalefit fit --json'") from None
    if not isinstance(d, dict) or not {"laws", "settings", "input", "optima"} <= set(d):
        raise ScalefitInputError(f"{path}: not a scalefit fit result (no laws/settings/input/"
                                 "optima); give the output of 'scalefit fit --json'")
    return d


def _find_runs(src, json_path: str):
    if not src or src in ("<stdin>", "<DataFrame>", "-"):
        return None
    for cand in (src, os.path.join(os.path.dirname(os.path.abspath(json_path)), src)):
        if os.path.isfile(cand):
            return cand
    return None


def _refit(d: dict, runs_path: str, args):
    """Redo the fit of FIT.json on its runs file; None if that no longer works."""
    from .api import fit
    from .io import read_table

    inp, s = d["input"], d["settings"]
    cols = inp.get("columns", {})
    n_boot = s.get("n_boot", 1000)
    if args is not None and getattr(args, "boot", None) is not None:
        n_boot = args.boot
    try:
        df = read_table(runs_path, inp.get("format"))
        if inp.get("extract"):
            df = apply_extract(df, inp["extract"], runs_path)
        ref = (d.get("transfer") or {}).get("reference")
        quiet = bool(getattr(args, "quiet", False))
        from .progress import ProgressBar

        with ProgressBar("refit for intervals", enabled=False if quiet else None,
                         after="fitting laws") as bar:
            result = fit(df, scale=cols.get("scale"), horizon=cols.get("horizon"),
                         lr=cols.get("lr"), loss=cols.get("loss"), by=inp.get("by", []),
                         n_boot=n_boot, ci=s.get("ci", 0.95), seed=s.get("seed", 0),
                         window=s.get("window", 2), include=tuple(s.get("include", ["ok"])),
                         reference=ref if not isinstance(ref, dict) else None,
                         status=cols.get("status"), progress=bar,
                         diverged_above=s.get("diverged_above"))
    except (ScalefitInputError, ScalefitFitError):
        return None
    result.input["source"] = inp.get("source")
    return result


def _same_laws(d: dict, result) -> bool:
    import math

    saved = [law for law in d["laws"] if law.get("primary")]
    new = [law.to_dict() for law in result.laws if law.primary]
    if len(saved) != len(new):
        return False
    for a, b in zip(saved, new):
        if a["target"] != b["target"] or a["form"] != b["form"]:
            return False
        for k, v in a["params"].items():
            w = b["params"].get(k)
            if (v is None) != (w is None):
                return False
            if v is not None and not math.isclose(v, w, rel_tol=1e-6, abs_tol=1e-12):
                return False
    return True


def _rebuild(d: dict):
    """A FitResult holding the JSON's optima and laws, without bootstrap draws."""
    import numpy as np
    import pandas as pd

    from .laws import Law
    from .result import FitResult

    by = list(d["input"].get("by", []))
    rows = []
    for o in d["optima"]:
        r = {**o["group"], **{k: v for k, v in o.items() if not isinstance(v, (dict, list))}}
        for k in ("lr_opt", "loss_opt", "curvature"):
            ci = o.get(f"{k}_ci") or [None, None]
            r[f"{k}_lo"], r[f"{k}_hi"] = ci
        rows.append(r)
    optima = pd.DataFrame(rows)
    for c in optima.columns:
        if c not in by and c != "status":
            optima[c] = pd.to_numeric(optima[c], errors="coerce")
    include = set(d["settings"].get("include", ["ok"]))
    laws = []
    names = {"a": "scale", "b": "horizon"}
    for ld in d["laws"]:
        params = ld["params"]
        if ld["target"] == "loss_opt":
            variables = ("scale",)
        else:
            variables = tuple(names[p] for p in params if p in names)
        pts = optima[optima["status"].isin(include)] if len(optima) else optima
        for k, v in ld["group"].items():
            if k in pts:
                pts = pts[pts[k] == v] if k in by else pts[np.isclose(pts[k].astype(float), v)]
        if ld.get("range"):  # the law's own data range, saved with it
            points = {v: np.array(ld["range"][v], float) for v in variables}
        else:
            points = {v: (pts[v].to_numpy(float) if v in pts and len(pts)
                          else np.array([np.nan])) for v in variables}
        draws = ld.get("draws")
        boot = np.array(draws, float) if draws else None
        laws.append(Law(
            target=ld["target"], form=ld["form"], variables=variables, group=dict(ld["group"]),
            params={k: (np.nan if v is None else v) for k, v in params.items()},
            ci=ld.get("ci", {}), r2_log=ld.get("r2_log", ld.get("r2")),
            rmse_log=ld.get("rmse_log", ld.get("rmse")), n_points=ld["n_points"],
            param_names=tuple(params), primary=bool(ld.get("primary")),
            extrapolation=ld.get("extrapolation"), notes=list(ld.get("notes", [])),
            boot=boot, points=points))
    return FitResult(optima=optima, laws=laws, input=dict(d["input"]),
                     settings=dict(d["settings"]), notes=list(d.get("notes", [])))


def _groups_for(result, pairs: list[tuple[str, str]], target: str = "lr_opt") -> list[dict]:
    """The by-groups to report: those matching --group K=V, or every group with a law."""
    by = result.by
    groups = []
    for law in result.laws:
        if law.target == target and law.primary:
            g = {b: law.group.get(b) for b in by}
            if g not in groups:
                groups.append(g)
    for k, v in pairs:
        if k not in by:
            raise ScalefitInputError(f"--group {k}={v}: the fit has no group column {k!r}"
                                     + (f"; its groups are by {', '.join(by)}" if by else
                                        " (it was fitted without --by)"))
        values = [g[k] for g in groups]
        hit = [g for g in groups if str(g[k]) == v or _num_eq(g[k], v)]
        if not hit:
            raise ScalefitInputError(f"--group {k}={v}: no law for that group; groups with a "
                                     f"law: {', '.join(map(str, dict.fromkeys(values)))}")
        groups = hit
    if not groups:
        raise ScalefitInputError(f"the fit has no law of {target}; it needs ok optima at 3 or "
                                 "more scales or horizons")
    return groups


def _num_eq(a, text: str) -> bool:
    try:
        return float(a) == float(text)
    except (TypeError, ValueError):
        return False


def _label(group: dict) -> str:
    return "/".join(str(v) for v in group.values()) if group else "all"


def _check_vars(result, groups, scale, horizon) -> None:
    law = result.law("lr_opt", groups[0])
    need = [v for v in law.variables if {"scale": scale, "horizon": horizon}[v] is None]
    if need:
        flags = " ".join(f"--{v} {'N' if v == 'scale' else 'D'}" for v in need)
        raise UsageError(f"the law {law.form} needs {flags}")


def cmd_predict(args) -> int:
    from .result import _table, fmt, fmt_ci

    result, note = load_fit(args.fit, args)
    groups = _groups_for(result, args.group)
    _check_vars(result, groups, args.scale, args.horizon)
    preds = []
    for g in groups:
        p = result.predict(scale=args.scale, horizon=args.horizon, group=g or None)
        preds.append(p)
    out = {"scale": args.scale, "horizon": args.horizon, "interval_source": note,
           "ci_level": result.settings.get("ci"), "predictions": preds}
    if args.json:
        _write_json(args, out)
    if args.json == "-":
        return EXIT_OK
    lvl = f"{result.settings.get('ci', 0.95) * 100:g}%"
    at = ", ".join(f"{k} {fmt(v)}" for k, v in (("scale", args.scale),
                                                 ("horizon", args.horizon)) if v is not None)
    lines = [f"Predicted optimal LR at {at}"]
    rows = [[_label(p["group"]), fmt(p["lr"]), fmt_ci(p["lr_ci"]) or "-",
             fmt_ci(p["lr_pi"]) or "-", p["law"]] for p in preds]
    lines += _table(["group", "lr_opt", f"{lvl} CI", f"{lvl} PI", "law"], rows)
    lines += _extrapolation_lines(preds, args)
    lines.append("  (CI: interval of the law's mean; PI: adds the scatter of the optima around it)")
    lines.append(f"  ({note})")
    _print("\n".join(lines))
    return EXIT_OK


def _extrapolation_lines(items, args) -> list[str]:
    seen: dict[str, list[str]] = {}
    for p in items:
        for e in p.get("extrapolation") or []:
            seen.setdefault(e, []).append(_label(p["group"]))
    shown = getattr(args, "_shown_warnings", set())
    args._shown_warnings = shown
    lines = []
    for e, labs in seen.items():
        shown.add(e)
        who = f" ({', '.join(labs)})" if len(items) > 1 and len(labs) < len(items) else ""
        lines.append(f"  warning: extrapolating: {e}{who}")
    return lines


def cmd_audit(args) -> int:
    from .result import _table, fmt, fmt_ci

    result, note = load_fit(args.fit, args)
    groups = _groups_for(result, args.group)
    _check_vars(result, groups, args.scale, args.horizon)
    audits = [result.audit(args.lr, scale=args.scale, horizon=args.horizon, group=g or None)
              for g in groups]
    out = {"lr": args.lr, "scale": args.scale, "horizon": args.horizon,
           "interval_source": note, "ci_level": result.settings.get("ci"), "audits": audits}
    if args.json:
        _write_json(args, out)
    if args.json == "-":
        return EXIT_OK
    lvl = f"{result.settings.get('ci', 0.95) * 100:g}%"
    at = ", ".join(f"{k} {fmt(v)}" for k, v in (("scale", args.scale),
                                                 ("horizon", args.horizon)) if v is not None)
    lines = [f"LR audit: lr {fmt(args.lr)} at {at}"]
    rows = []
    for a in audits:
        rows.append([_label(a["group"]), fmt(a["lr"]), fmt_ci(a["lr_ci"]) or "-",
                     f"x{a['ratio']:.3g}", fmt(a["penalty"]), fmt_ci(a["penalty_ci"]) or "-",
                     fmt(a["curvature"]), fmt(a["expected_penalty_at_optimum"])])
    lines += _table(["group", "lr_opt", f"{lvl} CI", "lr/lr_opt", "loss penalty",
                     f"{lvl} CI", "curvature", "penalty at lr_opt"], rows)
    lines += _extrapolation_lines(audits, args)
    lines.append("  (loss penalty = curvature * (ln lr - ln lr_opt)^2; 'penalty at lr_opt': "
                 "what the law's own uncertainty costs on average)")
    lines.append(f"  ({note})")
    _print("\n".join(lines))
    return EXIT_OK


def cmd_transfer(args) -> int:
    from .result import fmt, fmt_ci
    from .transfer import transfer

    if args.fit is None:
        b = args.b if args.b is not None else -args.beta
        t = transfer(args.lr, args.horizon_ref, args.horizon_target, b=b)
        items, note = [(None, t)], None
    else:
        # lr(to) is monotone in b, so the saved interval of b gives the LR's interval exactly.
        result, note = load_fit(args.fit, args, need_draws=False)
        groups = _groups_for(result, args.group)
        items, errors = [], []
        for g in groups:
            try:
                t = transfer(args.lr, args.horizon_ref, args.horizon_target, fit=result,
                             group=g or None)
                _b_interval(result, g, t)
                items.append((g, t))
            except ScalefitInputError as e:
                errors.append(f"{_label(g)}: {e}")
        if not items:
            raise ScalefitInputError(f"{args.fit}: {errors[0]}")
    out = {"lr_ref": args.lr, "horizon_ref": args.horizon_ref,
           "horizon_target": args.horizon_target, "interval_source": note,
           "transfers": [{"group": g, **t.to_dict()} for g, t in items]}
    if args.json:
        _write_json(args, out)
    if args.json == "-":
        return EXIT_OK
    ratio = args.horizon_target / args.horizon_ref
    lines = [f"LR transfer from {fmt(args.horizon_ref)} to {fmt(args.horizon_target)} tokens "
             f"(x{ratio:.3g}): lr * (to/from)^b"]
    for g, t in items:
        who = f"{_label(g)}: " if g else ""
        src = "given" if t.b_source == "given" else "fitted"
        if t.b_source == "given" and args.beta is not None:
            src = f"given as beta = {fmt(args.beta)}"
        lines.append(f"  {who}lr {fmt(t.lr)} {fmt_ci(t.lr_ci)}".rstrip()
                     + f"   (from {fmt(args.lr)}; b = {fmt(t.b)} {fmt_ci(t.b_ci)}".rstrip()
                     + f", {src})")
    lines += _extrapolation_lines([{"group": g, "extrapolation": t.warnings} for g, t in items],
                                  args)
    if note:
        lines.append(f"  ({note})")
    _print("\n".join(lines))
    return EXIT_OK


def _b_interval(result, group, t) -> None:
    """Without draws, the saved interval of b still gives the exact interval of the LR.

    lr = lr_ref * (to/from)^b is monotone in b, so percentiles of b map to percentiles of
    the transferred LR; no joint distribution is needed.
    """
    if t.lr_ci is not None or t.b_source != "fitted":
        return
    law = result.law("lr_opt", group or None)
    ci = (law.ci or {}).get("b") if law is not None else None
    if ci and None not in ci:
        ratio = t.horizon_target / t.horizon_ref
        t.b_ci = list(ci)
        t.lr_ci = sorted([t.lr_ref * ratio ** ci[0], t.lr_ref * ratio ** ci[1]])


# ---------------------------------------------------------------- chinchilla


def cmd_chinchilla(args) -> int:
    from .chinchilla import fit_chinchilla
    from .io import load_runs

    df, src = read_runs_frame(args)
    dummy = "__scalefit_lr__"
    df = df.assign(**{dummy: 1.0})
    try:
        runs = load_runs(df, scale=args.scale, horizon=args.horizon, lr=dummy, loss=args.loss,
                         status=args.status)
    except ScalefitInputError as e:
        raise _fix_source(e, src) from e
    for role, what, flag in (("scale", "N (parameters)", "--scale"),
                             ("horizon", "D (tokens)", "--horizon")):
        if runs.columns.get(role) is None:
            raise ScalefitInputError(f"{src}: no {what} column found (looked for {role}, "
                                     + ("N, params, n_params" if role == "scale" else
                                        "D, tokens, horizon_tokens")
                                     + f", ...); name it with {flag} COL")
    data = runs.data[~runs.data["diverged"]]
    if args.boot == 1:
        raise UsageError("--boot must be 0 (no intervals) or at least 2; try 200")
    with _progress(args, "chinchilla") as bar:
        try:
            res = fit_chinchilla(data["scale"].to_numpy(), data["horizon"].to_numpy(),
                                 data["loss"].to_numpy(), huber_delta=args.huber_delta,
                                 n_boot=args.boot, seed=args.seed, ci=args.ci, progress=bar)
        except ScalefitInputError as e:
            raise ScalefitInputError(f"{src}: {e}") from e
    cols = {k: v for k, v in runs.columns.items() if k != "lr"}
    out = {"version": __version__,
           "input": {"source": src, "rows": runs.n_rows, "used": int(len(data)),
                     "diverged": runs.n_diverged, "columns": cols},
           **res.to_dict()}
    if args.json:
        _write_json(args, out)
    if args.json != "-":
        head = (f"scalefit {__version__}: {src}: {len(data)} runs used of {runs.n_rows} "
                f"({runs.n_diverged} diverged); N = {cols['scale']}, D = {cols['horizon']}, "
                f"loss = {cols['loss']}")
        _print(head + "\n\n" + res.summary())
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
