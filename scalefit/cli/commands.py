"""The commands: each calls the library once and renders the result (--json, summary,
--report). Heavy modules (numpy, pandas, matplotlib) are imported inside them only.

A command writes its files (--json, --report, --figures) all or nothing and prints only
after they are written, so a command that fails leaves standard output empty and every
old output file as it was."""

from __future__ import annotations

import contextlib
import os
import shlex
import sys

from ..errors import ScalefitInputError
from .parser import UsageError


def _emit(args, result, text=None, draws=False, files=None) -> int:
    """Write --json and ``files()`` (the report, the figures) all or nothing, then print the
    summary, or the JSON when --json is '-' (standard output)."""
    from ..files import all_or_nothing, json_text, write_json

    if args.json == "-":
        text = json_text(result.to_dict(draws=draws), "standard output")
    text = str(result.summary() if text is None else text).rstrip("\n") + "\n"
    with all_or_nothing():
        if args.json and args.json != "-":
            write_json(args.json, result.to_dict(draws=draws))
            args.messages.append(f"wrote {args.json}")
        if files is not None:
            files()
    if args.json != "-":
        args.shown.update(getattr(result, "messages", list)())  # warnings shown in the text
    write_stdout(text)
    return 0


def write_stdout(text: str) -> None:
    """Print ``text``; a standard output that cannot take it (a full disk, /dev/full) is one
    line (exit 2), and what is left in its buffer is dropped, not reported again at exit."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as e:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise ScalefitInputError(f"cannot write to standard output: {e.strerror or e}"
                                 ) from None


def fit_options(args, require_optimum: bool = True):
    """The ``Columns`` and ``FitOptions`` of the fit flags (fit, compare, next, backtest):
    the value objects ``scalefit.fit`` builds from its keywords, built here once."""
    from ..options import Columns, FitOptions

    cols = Columns(scale=args.scale, horizon=args.horizon, lr=args.lr, loss=args.loss,
                   by=list(dict.fromkeys(args.by)), status=args.status,
                   status_ok=tuple(args.status_ok), extract=args.extract,
                   missing_loss=args.missing_loss, keep_duplicates=args.keep_duplicates,
                   branch_of=getattr(args, "branch_of", None))
    opts = FitOptions(n_boot=args.boot, ci=args.ci, seed=args.seed, window=args.window,
                      include=tuple(args.include_status), reference=args.reference,
                      diverged_above=args.diverged_above, blowup=args.blowup,
                      max_misfit=args.max_misfit, floor_gap=args.floor_gap, optima=args.optima,
                      optima_level=args.optima_level, joint=getattr(args, "joint", None),
                      fix=dict(getattr(args, "fix", ())), require_optimum=require_optimum)
    return cols, opts


def fit(args) -> int:
    """``fit`` and ``compare``: table -> FitResult -> summary, --json, --report."""
    from ..files import check_outputs
    from ..pipeline import fit_with

    by, progress = list(dict.fromkeys(args.by)), None if args.quiet else "auto"
    if args.reference is not None and not by:
        raise UsageError("--reference needs --by (the groups it refers to)")
    if args.show and not args.report:
        raise UsageError("--show needs --report (it chooses the groups the report's figures "
                         "draw)")
    if args.show and not by:
        raise UsageError("--show needs --by (it names --by groups)")
    check_outputs(args.json, args.report, [args.runs])
    result = fit_with(args.runs, *fit_options(args), fmt=args.format, progress=progress)
    if args.show:  # an unknown label: one line, exit 2, before any output
        from ..render.figure_kit import select_groups

        select_groups(result, args.show)
    args.late_warnings += result.warnings
    view = "compare" if args.command == "compare" else "fit"

    def report():
        cmd = " ".join(["scalefit", *(shlex.quote(a) for a in sys.argv[1:])])
        paths = result.report(args.report, command=cmd, progress=progress, show=args.show)
        n = sum(1 for k in paths if k.endswith(".png"))
        args.messages.append(f"wrote {paths['report.html']}, {paths['report.md']} and {n} "
                             f"figures (PNG + SVG) in {os.path.join(args.report, 'figures')}")

    text = result.summary(getattr(args, "all_laws", False), view)
    if getattr(args, "margin", None):
        from ..render.fit_text import equivalence_table
        from ..render.tables import Document, Text

        rows = result.equivalence(dict(args.margin))
        text = text + Document([Text([""]), equivalence_table(rows, result.level)])
    return _emit(args, result, text,
                 draws=True, files=report if args.report else None)


def _saved(args, scale=None, horizon=None):
    """The saved fit and the chosen group; checks the law's variables were given."""
    from ..files import check_outputs
    from ..results.load import load_fit

    check_outputs(args.json, None, [args.fit])
    fit, group = load_fit(args.fit), dict(args.group) or None
    if getattr(args, "bs", None) is not None and fit.joint is None:
        raise UsageError(f"--bs needs a fit made with --joint; {args.fit} has none")
    if args.command != "transfer":
        joint = fit.joint
        with from_file(args.fit):
            law = (joint.law("lr_opt", joint.groups(group)[0]) if joint is not None
                   else fit.law("lr_opt", fit.groups(group)[0]))
        if isinstance(law, list):  # a file can hold laws no fit writes
            raise ScalefitInputError(f"{args.fit}: {len(law)} lr_opt laws for one group; the "
                                     "file is damaged; refit")
        need = [v for v in law.variables if {"scale": scale, "horizon": horizon}[v] is None]
        if need:
            flags = " ".join(f"--{v} {'N' if v == 'scale' else 'D'}" for v in need)
            raise UsageError(f"the law {law.form} needs {flags}")
    return fit, group


@contextlib.contextmanager
def from_file(path):
    """Name ``path`` in an input error raised inside that does not name it yet."""
    try:
        yield
    except ScalefitInputError as e:
        if str(path) in str(e):
            raise
        raise ScalefitInputError(f"{path}: {e}") from None


def _finite(args, result, key: str):
    """The result, or one line when a saved law gives a value beyond floating point."""
    import math

    from ..render.format import group_label

    for row in result.rows:
        v = row.get(key)
        if v is not None and not (math.isfinite(v) and v > 0):
            who = f" for {group_label(row['group'])}" if row.get("group") else ""
            raise ScalefitInputError(
                f"{args.fit}: the law gives {key} = {v:g}{who} (beyond floating point): the "
                "file is damaged, or this point lies too far outside the fit")
    return result


def predict(args) -> int:
    fit, group = _saved(args, args.scale, args.horizon)
    with from_file(args.fit):
        res = fit.predict(args.scale, args.horizon, group=group, bs=args.bs)
    return _emit(args, _finite(args, res, "lr"))


def audit(args) -> int:
    fit, group = _saved(args, args.scale, args.horizon)
    with from_file(args.fit):
        res = fit.audit(args.lr, args.scale, args.horizon, group=group, bs=args.bs)
    return _emit(args, _finite(args, res, "lr"))


def transfer(args) -> int:
    from ..results.decisions import transfer

    if args.fit is None:
        if args.group:
            raise UsageError("--group needs --fit (it chooses a group of the fit's laws)")
        return _emit(args, transfer(args.lr, args.horizon_ref, args.horizon_target, b=args.b,
                                    beta=args.beta))
    fit, group = _saved(args)
    with from_file(args.fit):
        res = fit.transfer(args.lr, args.horizon_ref, args.horizon_target, group=group)
    return _emit(args, res)


def chinchilla(args) -> int:
    from ..chinchilla import fit_chinchilla_table
    from ..files import check_outputs

    check_outputs(args.json, None, [args.runs])
    res = fit_chinchilla_table(args.runs, scale=args.scale, horizon=args.horizon, loss=args.loss,
                               status=args.status, fmt=args.format, extract=args.extract,
                               status_ok=tuple(args.status_ok),
                               missing_loss=args.missing_loss,
                               keep_duplicates=args.keep_duplicates,
                               huber_delta=args.huber_delta, n_boot=args.boot, seed=args.seed,
                               ci=args.ci, progress=None if args.quiet else "auto")
    return _emit(args, res, draws=True)


def isoflop(args) -> int:
    """``isoflop``: table -> IsoflopResult -> summary, --json, --figures."""
    from ..files import check_outputs
    from ..isoflop import fit_isoflop

    progress = None if args.quiet else "auto"
    check_outputs(args.json, None, [args.runs], figures_dir=args.figures)
    res = fit_isoflop(args.runs, flops=args.flops, params=args.params, tokens=args.tokens,
                      loss=args.loss, by=list(dict.fromkeys(args.by)), budget_col=args.budget_col,
                      budget_tol=args.budget_tol, n_boot=args.boot, ci=args.ci, seed=args.seed,
                      window=args.window, include=tuple(args.include_status), status=args.status,
                      extract=args.extract, fmt=args.format, progress=progress,
                      require_optimum=True, missing_loss=args.missing_loss,
                      keep_duplicates=args.keep_duplicates)
    args.late_warnings += res.warnings

    def figures():
        paths = res.save_figures(args.figures)
        args.messages.append(f"wrote {len(paths)} figure files (PNG + SVG) in {args.figures}")

    return _emit(args, res, draws=True, files=figures if args.figures else None)


def allocate(args) -> int:
    """``allocate``: a saved Chinchilla fit -> Allocation at each --budget."""
    from ..files import check_outputs
    from ..results.chinchilla_file import load_chinchilla

    check_outputs(args.json, None, [args.fit])
    law = load_chinchilla(args.fit)
    if args.ci is not None and law.boot_params is None:
        raise UsageError(f"{args.fit} holds no bootstrap draws, so there are no intervals at "
                         "any level; refit with 'scalefit chinchilla RUNS --boot 1000 --json "
                         "FIT.json'")
    with from_file(args.fit):
        res = law.allocate(args.budget, level=args.ci)
    for key in ("N_opt", "D_opt"):
        _finite(args, res, key)
    return _emit(args, res)


def next_(args) -> int:
    """``next``: table -> fit -> Proposals -> summary, --json, --out (runs to do)."""
    from ..files import check_outputs
    from ..options import PlanOptions
    from ..planning.next import candidates_table, plan_next, write_to_do

    check_outputs(args.json, None, [args.runs, args.candidates], out=args.out)
    if args.out:
        write_to_do(None, args.out, [args.runs, args.candidates], check_only=True)
    cand = None
    if args.candidates:
        cand = candidates_table(args.candidates, scale=args.scale, horizon=args.horizon,
                                lr=args.lr, by=list(dict.fromkeys(args.by)), joint=args.joint)
    plan = PlanOptions(args.budget, target_scale=args.target_scale,
                       target_horizon=args.target_horizon, group=dict(args.group) or None,
                       cost=args.cost, objective=args.objective, new_scales=args.new_scale,
                       new_horizons=args.new_horizon, new_sweeps=not args.no_new_sweeps,
                       new_sweep_lrs=args.new_sweep_lrs, per_group=args.per_group)
    res, props, todo = plan_next(args.runs, *fit_options(args, require_optimum=False), plan,
                                 cand, fmt=args.format,
                                 progress=None if args.quiet else "auto")
    args.late_warnings += res.warnings

    def to_do():  # with --json, all or nothing, before anything is printed
        write_to_do(todo, args.out, [args.runs, args.candidates])
        args.messages.append(f"wrote {len(todo)} run(s) to do in {args.out}")

    return _emit(args, props, files=to_do if args.out else None)


def backtest(args) -> int:
    """``backtest``: table -> fit -> BacktestResult -> summary, --json."""
    from ..backtests import backtest_fit
    from ..files import check_outputs
    from ..pipeline import fit_with

    check_outputs(args.json, args.report, [args.runs])
    result = fit_with(args.runs, *fit_options(args), fmt=args.format,
                      progress=None if args.quiet else "auto")
    args.late_warnings += result.warnings
    res = backtest_fit(result, axis=args.axis, levels=args.levels, joint=bool(args.joint))

    def report():
        cmd = " ".join(["scalefit", *(shlex.quote(a) for a in sys.argv[1:])])
        paths = res.report(args.report, command=cmd)
        args.messages.append(f"wrote {paths['report.html']}, {paths['report.md']} and the "
                             f"figure in {os.path.join(args.report, 'figures')}")

    return _emit(args, res, files=report if args.report else None)


def curve(args) -> int:
    """``curve``: table -> CurveFit -> summary (+ decisions), --json."""
    from ..curves import fit_curves
    from ..files import check_outputs
    from ..render.tables import Document, Text

    check_outputs(args.json, args.report, [args.runs], figures_dir=args.figures)
    if args.branches and (args.cooldown is None or args.end_lr is None):
        raise UsageError("--branches needs --cooldown STEPS and --end-lr LR")
    res = fit_curves(args.runs, run=args.run, step=args.step, lr=args.lr, loss=args.loss,
                     schedule_col=args.schedule_col, schedules=dict(args.schedule),
                     by=list(dict.fromkeys(args.by)), law=args.law, lam=args.lam,
                     n_boot=args.boot, ci=args.ci, seed=args.seed,
                     huber_delta=args.huber_delta, fmt=args.format,
                     progress=None if args.quiet else "auto")
    group = dict(args.group) or None
    decisions = [res.predict(s, group=group) for s in args.predict]
    if args.compare:
        decisions.append(res.compare(*args.compare, group=group))
    if args.branches:
        decisions.append(res.branches(args.branches, args.cooldown, args.end_lr, args.decay,
                                      group=group))

    def files():
        if args.report:
            cmd = " ".join(["scalefit", *(shlex.quote(a) for a in sys.argv[1:])])
            paths = res.report(args.report, decisions, command=cmd)
            args.messages.append(f"wrote {paths['report.html']}, {paths['report.md']} and the "
                                 f"figure in {os.path.join(args.report, 'figures')}")
        if args.figures:
            from ..files import make_folder

            preds = [d for d in decisions if type(d).__name__ == "CurvePrediction"]
            res.plot(make_folder(args.figures, "--figures") / "curves", preds)
            args.messages.append(f"wrote curves.png and curves.svg in {args.figures}")

    files_ = files if args.report or args.figures else None
    if not decisions:
        return _emit(args, res, draws=True, files=files_)
    text = Document([res.summary(), *[b for d in decisions
                                      for b in (Text([""]), d.summary())]])
    out = _Bundle(res, decisions)
    return _emit(args, out, text, draws=True, files=files_)


class _Bundle:
    """A fit and its decisions as one JSON document (``decisions``: their to_dict())."""

    def __init__(self, fit, decisions):
        self.fit, self.decisions = fit, decisions

    def summary(self):
        return self.fit.summary()

    def messages(self):
        return [m for d in self.decisions for m in d.messages()]

    def to_dict(self, draws=True):
        return {**self.fit.to_dict(draws=draws),
                "decisions": [d.to_dict() for d in self.decisions]}


COMMANDS = {"next": next_, "fit": fit, "compare": fit, "predict": predict, "audit": audit,
            "transfer": transfer, "chinchilla": chinchilla, "isoflop": isoflop,
            "allocate": allocate, "backtest": backtest, "curve": curve}
