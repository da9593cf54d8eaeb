"""``scalefit``'s entry point. Exit status: 0 success; 2 bad input or usage (one line on
stderr naming the file, the column and the row); 1 a fit that failed, or an internal
error. Tracebacks only with ``--debug``. Warnings go to stderr after the output."""

from __future__ import annotations

import os
import sys

from ..errors import ScalefitFitError, ScalefitInputError
from ..interrupt import as_exception, end_command, was_interrupted
from ..render.format import safe_text
from .parser import PROG, UsageError, build_parser

EXIT_OK, EXIT_FIT, EXIT_INPUT = 0, 1, 2
LINE = 1000  # characters of one message line at most: a huge cell is cut in the middle
COMMAND_NAMES = ("fit", "compare", "predict", "audit", "transfer", "next", "chinchilla", "isoflop",
                 "allocate", "curve")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input, 1 fit failed,
    130 interrupted)."""
    try:
        with as_exception():
            status = _main(argv)
    except KeyboardInterrupt:  # between the handler's switch and the command's own
        status = _fail("interrupted", 130, False)
    if status == 130:  # reported and rolled back: in the command, end here (exit 130)
        end_command(status)
    return status


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    # Every matrix here is small: one BLAS thread is faster (the library also limits BLAS
    # where it matters). Set before numpy is first imported; the user's setting wins.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        parser = build_parser()
        if not argv:
            parser.print_help(sys.stderr)
            return EXIT_INPUT
        first = next((a for a in argv if a != "--debug"), "")
        if first.startswith("-") and first not in ("-h", "--help", "--version"):
            raise UsageError(f"{first}: options come after the command: scalefit COMMAND "
                             f"... {first} ...; the commands are {', '.join(COMMAND_NAMES)}")
        args = parser.parse_args(argv)
        if args.command is None:
            raise UsageError(f"choose a command: {', '.join(COMMAND_NAMES)} (see 'scalefit "
                             "--help')")
        _runs_after_by(args)
        return _run(args)
    except SystemExit as e:  # --help / --version
        return e.code if isinstance(e.code, int) else EXIT_OK
    except (UsageError, ScalefitInputError, ScalefitFitError) as e:
        if was_interrupted():  # Ctrl-C that a reader or solver turned into its own error
            return _fail("interrupted", 130, debug)
        if isinstance(e, ScalefitFitError):
            return _fail(f"the fit failed: {e}", EXIT_FIT, debug)
        return _fail(str(e), EXIT_INPUT, debug)
    except KeyboardInterrupt:
        return _fail("interrupted", 130, debug)
    except BrokenPipeError:  # e.g. `scalefit fit runs.csv | head`
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass
        return EXIT_OK
    except MemoryError:  # the input asked for more than this machine has
        return _fail("out of memory; try fewer bootstrap resamples (--boot) or a smaller table",
                     EXIT_INPUT, debug)
    except Exception as e:  # a bug: one line, the traceback with --debug
        if was_interrupted():  # Ctrl-C that a library turned into another error (an import)
            return _fail("interrupted", 130, debug)
        return _fail(f"internal error: {type(e).__name__}: {e} (rerun with --debug for the "
                     "traceback, and please report it)", EXIT_FIT, debug)


def _run(args) -> int:
    import warnings

    from .commands import COMMANDS

    args.late_warnings, args.messages, args.shown = [], [], set()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = COMMANDS[args.command](args)
    sys.stdout.flush()
    for message in args.late_warnings:
        _warn(message)
    for message in [] if args.quiet else args.messages:
        sys.stderr.write(f"{PROG}: {one_line(message)}\n")
    for w in caught:
        if issubclass(w.category, (RuntimeWarning, DeprecationWarning, FutureWarning)):
            if args.debug:
                _warn(f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})")
            continue
        msg = " ".join(str(w.message).split())
        if msg not in args.shown:
            args.shown.add(msg)
            _warn(msg)
    return status


def _fail(message: str, code: int, debug: bool) -> int:
    if debug and sys.exc_info()[0] is not None:
        import traceback

        traceback.print_exc()
    _warn(message, "error")
    sys.stderr.flush()
    return code


def _warn(message: str, kind: str = "warning") -> None:
    """One line on stderr, data-derived text made safe (control characters escaped)."""
    sys.stderr.write(f"{PROG}: {kind}: {one_line(message)}\n")


def one_line(message) -> str:
    """A message as one safe line of at most about ``LINE`` characters: whitespace folded,
    control characters escaped, the middle of an overlong message (a huge cell) cut."""
    raw = " ".join(str(message).split())
    if len(raw) > 4 * LINE:  # escape only what can be shown
        raw = raw[:LINE] + raw[-LINE:]
    text = safe_text(raw)
    if len(text) <= LINE:
        return text
    return f"{text[: LINE * 2 // 3]} [...] {text[-(LINE // 4):]}"


def _runs_after_by(args) -> None:
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
