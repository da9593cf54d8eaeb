"""The commands: each parses nothing more, calls the library once, and renders the result.

Heavy modules (numpy, pandas, matplotlib) are imported inside the commands only.
"""

from __future__ import annotations

import os
import shlex
import sys

from .parser import UsageError


def _out(text) -> None:
    sys.stdout.write(str(text).rstrip("\n") + "\n")
    sys.stdout.flush()


def _emit(args, result, text=None, draws=False) -> int:
    """--json (atomically; '-' is standard output), then the summary unless JSON went there."""
    from ..files import write_json

    if args.json == "-":
        _out(__import__("json").dumps(result.to_dict(draws=draws), indent=2, allow_nan=False))
        return 0
    if args.json:
        write_json(args.json, result.to_dict(draws=draws))
        args.messages.append(f"wrote {args.json}")
    _out(text if text is not None else result.summary())
    args.shown.update(getattr(result, "messages", lambda: [])())
    return 0


def _progress(args):
    return None if args.quiet else "auto"


def fit(args) -> int:
    """``fit`` and ``compare``: the table -> FitResult -> summary, --json, --report."""
    from .. import pipeline
    from ..files import check_outputs

    by = list(dict.fromkeys(args.by))
    if args.reference is not None and not by:
        raise UsageError("--reference needs --by (the groups it refers to)")
    check_outputs(args.json, args.report, [args.runs])
    result = pipeline.fit(args.runs, scale=args.scale, horizon=args.horizon, lr=args.lr,
                          loss=args.loss, by=by, n_boot=args.boot, ci=args.ci, seed=args.seed,
                          window=args.window, include=tuple(args.include_status),
                          reference=args.reference, status=args.status,
                          diverged_above=args.diverged_above, extract=args.extract,
                          fmt=args.format, progress=_progress(args), require_optimum=True)
    args.late_warnings += result.warnings
    view = "compare" if args.command == "compare" else "fit"
    _emit(args, result, result.summary(getattr(args, "all_laws", False), view), draws=True)
    if args.report:
        cmd = " ".join(["scalefit", *(shlex.quote(a) for a in sys.argv[1:])])
        paths = result.report(args.report, command=cmd, progress=_progress(args))
        n = sum(1 for k in paths if k.endswith(".png"))
        args.messages.append(f"wrote {paths['report.html']}, {paths['report.md']} and {n} "
                             f"figures (PNG + SVG) in {os.path.join(args.report, 'figures')}")
    return 0


def _saved(args):
    from ..files import check_outputs
    from ..results.load import load_fit

    check_outputs(args.json, None, [args.fit])
    return load_fit(args.fit), dict(args.group) or None


def _check_values(fit, group, scale, horizon) -> None:
    law = fit.law("lr_opt", fit.groups(group)[0])
    need = [v for v in law.variables if {"scale": scale, "horizon": horizon}[v] is None]
    if need:
        flags = " ".join(f"--{v} {'N' if v == 'scale' else 'D'}" for v in need)
        raise UsageError(f"the law {law.form} needs {flags}")


def predict(args) -> int:
    fit, group = _saved(args)
    _check_values(fit, group, args.scale, args.horizon)
    return _emit(args, fit.predict(args.scale, args.horizon, group=group))


def audit(args) -> int:
    fit, group = _saved(args)
    _check_values(fit, group, args.scale, args.horizon)
    return _emit(args, fit.audit(args.lr, args.scale, args.horizon, group=group))


def transfer(args) -> int:
    from ..results.decisions import transfer

    if args.fit is None:
        res = transfer(args.lr, args.horizon_ref, args.horizon_target, b=args.b, beta=args.beta)
    else:
        fit, group = _saved(args)
        res = fit.transfer(args.lr, args.horizon_ref, args.horizon_target, group=group)
    return _emit(args, res)


def chinchilla(args) -> int:
    from ..chinchilla import fit_chinchilla_table
    from ..files import check_outputs

    if args.boot == 1:
        raise UsageError("--boot must be 0 (no intervals) or at least 2; try 200")
    check_outputs(args.json, None, [args.runs])
    res = fit_chinchilla_table(args.runs, scale=args.scale, horizon=args.horizon, loss=args.loss,
                               status=args.status, fmt=args.format, extract=args.extract,
                               huber_delta=args.huber_delta, n_boot=args.boot, seed=args.seed,
                               ci=args.ci, progress=_progress(args))
    return _emit(args, res, draws=True)


COMMANDS = {"fit": fit, "compare": fit, "predict": predict, "audit": audit,
            "transfer": transfer, "chinchilla": chinchilla}
