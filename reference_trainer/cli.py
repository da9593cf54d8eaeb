"""reference-trainer: train one configuration, run a sweep, check a parameterization.

Every RunConfig field is a flag (--width, --lr, --wd-mode ...) and a key of a TOML/YAML
file (--config FILE; flags override the file). In sweep every flag takes a
comma-separated list (a grid axis) or a geometric range START:STOP:xFACTOR; --widths,
--lrs, --seeds, --params, --depths are spelled in the plural too.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from .config import RunConfig, config_fields, parse_bool, parse_value

PLURAL = {"width": "widths", "lr": "lrs", "seed": "seeds", "param": "params", "depth": "depths"}
SWEEP_OPTIONS = ("out", "workers", "ckpt_dir", "batch", "max_batch", "tokens_per_param",
                 "branch_horizons")

TRAIN_EXAMPLES = """\
examples:
  reference-trainer train --param mup --width 256 --depth 4 --lr 3e-3 --tokens 4194304
  reference-trainer train --param sp_emb --width 512 --base-width 128 --out runs.csv
  reference-trainer train --config run.toml --ckpt run.pt --ckpt-every 200   # resumable
  torchrun --nproc_per_node 8 -m reference_trainer train --width 1024 --batch-size 256

The results row is printed as JSON on stdout; progress goes to stderr."""

SWEEP_EXAMPLES = """\
examples:
  reference-trainer sweep --param sp,mup --widths 64,128,256 --depth 4 \\
      --lrs 1e-3:3.2e-2:x2 --tokens 4194304 --seeds 0,1 --out runs.csv
  reference-trainer sweep --config grid.toml --device cuda        # every visible GPU
  reference-trainer sweep --config grid.yaml --device cpu --workers 2 --dry-run
  reference-trainer sweep --config grid.toml --max-batch 8       # or --no-batch
  reference-trainer sweep --config grid.toml --ray auto --ckpt-dir /shared/ckpt --ckpt-every 200
  reference-trainer sweep --config grid.toml --share             # beside a running sweep
  reference-trainer sweep --from-csv next.csv --out runs.csv     # the runs of scalefit next
  reference-trainer sweep --config grid.toml --adaptive 4 --budget 16 --until 1.3 \\
      --target-scale 1e9 --target-horizon 2e10                   # propose, train, repeat
  scalefit fit runs.csv

grid.toml: any field, a list is an axis:
  param = ["sp", "sp_emb", "mup"]
  widths = [128, 256, 512]
  lrs = [1e-3, 2e-3, 4e-3, 8e-3]
  depth = 4
  tokens = 8388608
  out = "runs.csv"

Runs of one shape (LRs, seeds, parameterizations, horizons may differ) train together,
up to --max-batch models at once on a device, each still writing its own row (on a CPU
only where a short probe per shape at the start measures it faster; --batch forces it,
--no-batch turns it off, REFERENCE_TRAINER_CPU_BATCH=auto|on|off|width pins the default).
--tokens-per-param 20 instead of --tokens: each width gets 20 tokens per parameter.
--schedule wsd --branch-horizons 1M,2M,4M: one stable phase per run, a cooldown branched
per horizon, a row each (branch_of: the stable run). --curves-every K: loss curves.
--from-csv FILE trains one run per row (its config JSON, or columns named like settings).
--adaptive ROUNDS --budget K trains the grid (or continues the file), then ROUNDS times fits
--out with scalefit, trains the K runs 'scalefit next' proposes, until the target's 95%
interval spans less than a factor --until (needs scalefit installed).
Kill it at any moment and run the same command again: finished runs are skipped.
A run that fails with an error gets no row; it is logged in <out>.failed."""

COORD_EXAMPLES = """\
examples:
  reference-trainer coord                          # sp and mup, widths 64..512
  reference-trainer coord --param mup-attn --widths 128,256,512,1024 --lr 3e-2
  reference-trainer coord --param mup --widths 16,32,64,128 --depth 1 --head-dim 16 \\
      --as-trained --steps 20 --set tokens=524288 --set warmup_tokens=32768 \\
      --set init_rel=0.5 --set attn_norm=base --expect-flat

The last line of each table is the verdict per tensor type (emb, hidden, readout): flat
when the mean slope of log2 activation vs log2 width is below 0.25 in absolute value.
--as-trained runs the first steps as a training run of that configuration does
(warmup and schedule over its horizon, clipping, decay); --expect-flat exits 1 unless
every tensor type of every parameterization is flat."""

TABLE_EXAMPLES = """\
examples:
  reference-trainer table --param mup --width 1024 --base-width 128
  reference-trainer table --param sp+hidden_lr --width 512"""


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def load_file(path) -> dict:
    """A TOML (.toml) or YAML (.yaml/.yml) file -> {field: value}, plurals mapped."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config file {path} does not exist")
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ValueError(f"{path}: reading YAML needs PyYAML (pip install pyyaml); "
                             "or write the grid as TOML") from None
        spec = yaml.safe_load(path.read_text()) or {}
    else:
        try:
            import tomllib
        except ImportError:  # Python 3.10
            import tomli as tomllib
        spec = tomllib.loads(path.read_text())
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: expected a table of settings")
    singular = {v: k for k, v in PLURAL.items()}
    return {singular.get(k, k).replace("-", "_"): v for k, v in spec.items()}


def parse_list(f, text: str) -> list:
    """'1e-3,3e-3' -> [0.001, 0.003]; '1e-3:8e-3:x2' -> [0.001, 0.002, 0.004, 0.008]."""
    out = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        bits = part.split(":")
        numeric = f.type in ("int", "float", int, float)
        if numeric and len(bits) == 3 and bits[2].startswith("x"):
            lo, hi, factor = float(bits[0]), float(bits[1]), float(bits[2][1:])
            if not (lo > 0 and hi >= lo and factor > 1):
                raise ValueError(f"{_flag(f.name)} {part}: need 0 < START <= STOP and x > 1")
            n = int(math.floor(math.log(hi / lo) / math.log(factor) + 1e-9))
            out += [parse_value(f, float(f"{lo * factor ** k:.6g}")) for k in range(n + 1)]
        else:
            out.append(parse_value(f, part))
    if not out:
        raise ValueError(f"{_flag(f.name)}: empty list")
    return out


def _add_config_flags(p: argparse.ArgumentParser, lists: bool) -> None:
    g = p.add_argument_group("run settings" + (" (comma-separated lists)" if lists else ""))
    for f in config_fields():
        names = [_flag(f.name)]
        if lists and f.name in PLURAL:
            names.insert(0, _flag(PLURAL[f.name]))
        help_ = f"{f.metadata['help']} (default {f.default})"
        if f.name == "device" and lists:
            help_ = ("auto (every visible GPU, else cpu) | cpu | cuda | cuda:0,cuda:2; "
                     "one worker per device")
        if lists or f.type not in ("bool", bool):
            g.add_argument(*names, dest=f.name, default=None, metavar="V" if not lists else
                           "LIST", help=help_)
        else:
            g.add_argument(*names, dest=f.name, default=None,
                           action=argparse.BooleanOptionalAction, help=help_)


def _dry_run(runs, out, device: str, workers: int, batch, max_batch: int,
             no_probe: bool) -> int:
    """The runs with their state, a count, and (unless `no_probe`) a time estimate."""
    from . import sweep
    from .results import FailureLog, ResultsFile

    have = ResultsFile(out).run_ids()
    failed = FailureLog(ResultsFile(out)).run_ids()
    todo = []
    for cfg in runs:
        state = "done" if cfg.run_id in have else "todo"
        note = "  (failed before: see the .failed log)" if state == "todo" and \
            cfg.run_id in failed else ""
        print(f"{cfg.run_id}  {state}  {sweep.describe(cfg)}{note}")
        if state == "todo":
            todo.append(cfg)
    tokens = sum(c.steps * c.tokens_per_step for c in todo)
    head = (f"{len(runs)} runs: {len(runs) - len(todo)} done, {len(todo)} to train "
            f"({tokens:,} tokens)")
    if not todo:
        print(head)
        return 0
    devices = sweep.resolve_devices(device, workers)
    cpu_only = all(d == "cpu" for d in devices)
    undecided = no_probe and batch is None and cpu_only and sweep.cpu_batch_mode() == "auto"
    if undecided:  # no timing asked for: count batches as if every shape batched
        size, max_width, sizes = max_batch, None, None
    else:
        size, max_width, sizes = sweep.cpu_plan_args(todo, batch, max_batch, cpu_only)
    batches = sweep.plan(todo, size, len(devices), max_width, sizes)
    head += f" in {len(batches)} batch{'es' if len(batches) != 1 else ''}"
    if undecided:
        head += (" if every shape batches (on a CPU the sweep probes each shape first and "
                 "may train it one by one)")
    if no_probe:
        print(head)
        return 0
    from .estimate import estimate

    todo = [c.replace(device=devices[0]) for c in todo]
    seconds, lines = estimate(todo, batches, len(devices), batch is not False)
    for line in lines:
        print(line)
    took = f"{seconds / 60:.0f} min" if seconds >= 600 else f"{seconds:.0f} s"
    print(f"{head}; about {took} on {len(devices)} worker{'s' if len(devices) > 1 else ''} "
          "here (a probe of a few steps per shape; other load on the machine slows it)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(prog="reference-trainer", description=__doc__,
                                formatter_class=fmt,
                                epilog="commands: train, sweep, coord, table; "
                                "each has --help with examples")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train one configuration", epilog=TRAIN_EXAMPLES,
                       formatter_class=fmt, description="Train one configuration to its "
                       "token horizon, evaluate, print the results row.")
    t.add_argument("--config", help="TOML or YAML file of settings")
    t.add_argument("--out", help="also append the row to this CSV")
    t.add_argument("--ckpt", help="checkpoint file: resume from it, save every --ckpt-every")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    _add_config_flags(t, lists=False)

    s = sub.add_parser("sweep", help="train a grid of runs into a CSV", epilog=SWEEP_EXAMPLES,
                       formatter_class=fmt, description="Train every grid point not yet in "
                       "--out, one row each, resumable.")
    s.add_argument("--config", help="TOML or YAML grid file (lists are axes)")
    s.add_argument("--out", help="results CSV (required, here or in the file)")
    s.add_argument("--workers", type=int, help="CPU worker processes (default 1)")
    s.add_argument("--ckpt-dir", help="checkpoint runs here (with --ckpt-every) so a killed "
                   "sweep resumes runs mid-way")
    s.add_argument("--batch", action=argparse.BooleanOptionalAction, default=None,
                   help="train runs of one shape together on a device, K models at once; "
                   "--no-batch trains them one by one (default: where it pays: always on "
                   "a GPU, on a CPU where a probe per shape measures it faster)")
    s.add_argument("--max-batch", type=int, metavar="K",
                   help="at most K models in one batch (default 16)")
    s.add_argument("--tokens-per-param", metavar="LIST",
                   help="instead of --tokens: each run's horizon is this many tokens per "
                   "non-embedding parameter of its model (e.g. 20), in whole steps")
    s.add_argument("--branch-horizons", metavar="LIST",
                   help="with --schedule wsd: the horizons (tokens) of each run's branches "
                   "(its stable phase trains once, each cooldown branches from it)")
    s.add_argument("--ray", metavar="ADDRESS",
                   help="run the batches as tasks on a Ray cluster: auto (the one of "
                   "RAY_ADDRESS or running here), local (start one here) or host:port; "
                   "needs the cluster extra (see docs/trainer.md)")
    s.add_argument("--share", action="store_true",
                   help="work alongside other sweeps writing --out: train only runs no "
                   "other sweep has claimed (without it a second sweep on the file refuses)")
    s.add_argument("--from-csv", metavar="FILE",
                   help="train the runs listed in FILE, one per row (a results row's config "
                   "JSON, e.g. 'scalefit next --out FILE', or columns named like settings); "
                   "flags set one value for every run")
    a = s.add_argument_group("adaptive sweep (needs scalefit)")
    a.add_argument("--adaptive", metavar="ROUNDS", type=int,
                   help="after the grid, ROUNDS times: fit --out, train the --budget runs "
                   "'scalefit next' proposes")
    a.add_argument("--budget", metavar="K", type=int, help="runs per adaptive round")
    a.add_argument("--until", metavar="FACTOR", type=float,
                   help="stop once the target's 95%% interval spans less than this factor "
                   "(hi / lo, e.g. 1.3)")
    a.add_argument("--target-scale", metavar="N", type=float,
                   help="target scale (n_params): shrink the interval of the optimal LR the "
                   "law predicts there (default target: every sweep's optimum)")
    a.add_argument("--target-horizon", metavar="D", type=float, help="target horizon (tokens)")
    a.add_argument("--joint", metavar="SETTING", choices=["batch_size"],
                   help="batch_size: the grid sweeps it with the LR; each round proposes "
                   "(lr, batch size) cells of the joint optimum ('scalefit next --joint')")
    s.add_argument("--dry-run", action="store_true",
                   help="list the runs, count them and estimate the time from a short timing "
                   "probe of each batch shape on this machine, then exit")
    s.add_argument("--no-probe", action="store_true",
                   help="with --dry-run: count the runs but do not time them")
    s.add_argument("-v", "--verbose", action="store_true", help="log every run's steps")
    _add_config_flags(s, lists=True)

    c = sub.add_parser("coord", help="coordinate check of parameterizations",
                       epilog=COORD_EXAMPLES, formatter_class=fmt,
                       description="Activation scale per layer after a few steps at a high "
                       "LR, per width, and its slope in log2(width).")
    c.add_argument("--param", default="sp,mup", help="comma-separated (default sp,mup)")
    c.add_argument("--widths", default="64,128,256,512",
                   help="comma-separated widths (default 64,128,256,512)")
    c.add_argument("--steps", type=int, default=4,
                   help="optimizer steps before the activations are measured (default 4)")
    c.add_argument("--lr", type=float, default=1e-2,
                   help="the (high) LR of those steps (default 1e-2)")
    c.add_argument("--seeds", default="0,1,2",
                   help="comma-separated seeds, averaged (default 0,1,2)")
    c.add_argument("--depth", type=int, default=2, help="transformer blocks (default 2)")
    c.add_argument("--head-dim", type=int, default=32,
                   help="size of one attention head (default 32)")
    c.add_argument("--as-trained", action="store_true",
                   help="the steps of a training run: its warmup/schedule over its horizon, "
                   "clipping and decay (default: constant LR, no clipping, no decay)")
    c.add_argument("--set", metavar="FIELD=VALUE", action="append", default=[],
                   help="any other run setting, e.g. --set init_rel=0.5 (repeatable)")
    c.add_argument("--expect-flat", action="store_true",
                   help="exit 1 unless every tensor type is flat (a muP check)")

    tb = sub.add_parser("table", help="print a parameterization at a width",
                        epilog=TABLE_EXAMPLES, formatter_class=fmt,
                        description="Forward multiplier, init std and LR multiplier per "
                        "tensor type.")
    tb.add_argument("--param", default="mup")
    tb.add_argument("--width", type=int, default=512)
    tb.add_argument("--base-width", type=int, default=128)
    tb.add_argument("--head-dim", type=int, default=32)
    tb.add_argument("--init-std", type=float, default=0.02)
    return p


def _settings(args, lists: bool) -> dict:
    spec = load_file(args.config) if args.config else {}
    extra = {k: spec.pop(k) for k in list(spec) if k in SWEEP_OPTIONS}
    fields = {f.name: f for f in config_fields()}
    for k, v in list(spec.items()):
        if k not in fields:
            raise ValueError(f"{args.config}: unknown setting {k!r}")
        if lists:
            vals = v if isinstance(v, list) else [v]
            spec[k] = [y for x in vals for y in (parse_list(fields[k], x) if isinstance(x, str)
                                                 else [parse_value(fields[k], x)])]
        else:
            if isinstance(v, list):
                raise ValueError(f"{args.config}: {k} is a list; lists are for `sweep`")
            spec[k] = parse_value(fields[k], v)
    for name, f in fields.items():
        v = getattr(args, name)
        if v is not None:
            spec[name] = parse_list(f, v) if lists else parse_value(f, v)
    return spec | {"_extra": extra}


def cmd_train(args) -> int:
    spec = _settings(args, lists=False)
    spec.pop("_extra")
    cfg = RunConfig(**spec)
    from .train import train

    row = train(cfg, ckpt_path=args.ckpt, quiet=args.quiet)
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():  # under torchrun
        rank = dist.get_rank()
        dist.barrier()  # every rank done with its collectives before any tears gloo down
        dist.destroy_process_group()
        if rank != 0:
            return 0
    from .results import CURVE_KEY, ResultsFile

    curve = row.pop(CURVE_KEY, None)  # kept in the curves file beside --out, if given
    if args.out and not ResultsFile(args.out).append(row, curve):
        print(f"run {row['run_id']} already in {args.out}; not appended", file=sys.stderr)
    print(json.dumps(row))
    return 0


def cmd_sweep(args) -> int:
    from . import sweep

    spec = _settings(args, lists=True)
    extra = spec.pop("_extra")
    out = args.out or extra.get("out")
    if not out:
        raise ValueError("--out is required (the results CSV)")
    device = ",".join(spec.pop("device", ["auto"]))
    workers = args.workers or int(extra.get("workers", 1))
    tpp = args.tokens_per_param if args.tokens_per_param is not None else \
        extra.get("tokens_per_param")
    if tpp is not None:
        vals = tpp if isinstance(tpp, list) else str(tpp).split(",")
        try:
            spec["tokens_per_param"] = [float(v) for v in vals]
        except ValueError:
            raise ValueError(f"--tokens-per-param: expected numbers, got {tpp!r}") from None
    if (horizons := args.branch_horizons or extra.get("branch_horizons")) is not None:
        from .branches import horizon_axis

        spec["tokens"] = horizon_axis(spec, horizons, parse_list)
    runs = _sweep_runs(args, spec)
    batch = args.batch if args.batch is not None else (
        parse_bool(extra["batch"], "batch") if "batch" in extra else None)
    max_batch = args.max_batch if args.max_batch is not None else int(extra.get("max_batch", 16))
    if max_batch < 1:
        raise ValueError(f"--max-batch must be at least 1, got {max_batch}")
    if args.dry_run:
        return _dry_run(runs, out, device, workers, batch, max_batch, args.no_probe)
    devices = [device] if args.ray else sweep.resolve_devices(device, workers)
    options = dict(ckpt_dir=args.ckpt_dir or extra.get("ckpt_dir"), verbose=args.verbose,
                   batch=batch, max_batch=max_batch, share=args.share, ray=args.ray)
    try:
        if args.adaptive is not None:
            from .adaptive import run_adaptive

            res = run_adaptive(runs, out, devices, args.adaptive, args.budget, args.until,
                               args.target_scale, args.target_horizon, joint=args.joint,
                               **options)
            print(f"adaptive sweep: {res['rounds']} round(s), {res['trained']} run(s) trained, "
                  f"target interval x{res['factor']:.3g} ({res['stopped']}); results in {out}",
                  file=sys.stderr)
            return 0
        counts = sweep.run(runs, out, devices, **options)
    except (sweep.SweepBusy, sweep.StopSweep) as e:
        print(f"reference-trainer sweep: {e}", file=sys.stderr)
        return 2
    elsewhere = f", {counts['elsewhere']} left to other sweeps" if counts["elsewhere"] else ""
    print(f"sweep: {counts['ok']} ok, {counts['diverged']} diverged, {counts['failed']} failed,"
          f" {counts['skipped']} skipped{elsewhere}; results in {out}", file=sys.stderr)
    return 1 if counts["failed"] else 0


def _sweep_runs(args, spec: dict) -> list[RunConfig]:
    """The runs of a sweep: the grid of ``spec``, or the rows of --from-csv (with the flags
    given applied to each); none for --adaptive with neither (it continues --out)."""
    from . import sweep

    if args.adaptive is not None:
        if args.adaptive < 1 or args.budget is None or args.budget < 1:
            raise ValueError("--adaptive ROUNDS needs ROUNDS >= 1 and --budget K >= 1")
        if args.until is not None and not args.until > 1:
            raise ValueError(f"--until must be a factor > 1 (hi / lo), got {args.until:g}")
        for flag in ("target_scale", "target_horizon"):
            v = getattr(args, flag)
            if v is not None and not (math.isfinite(v) and v > 0):
                raise ValueError(f"--{flag.replace('_', '-')} must be a number > 0")
    elif any(getattr(args, f) is not None for f in ("budget", "until", "target_scale",
                                                    "target_horizon", "joint")):
        raise ValueError("--budget, --until, --target-scale, --target-horizon and --joint go "
                         "with --adaptive ROUNDS")
    if args.from_csv:
        many = [k for k, v in spec.items() if isinstance(v, list) and len(v) > 1]
        if many or "tokens_per_param" in spec:
            raise ValueError(f"--from-csv: {', '.join(many) or 'tokens_per_param'} takes one "
                             "value here (it applies to every run of the file)")
        from .runlist import read_runs

        return read_runs(args.from_csv, {k: v[0] for k, v in spec.items()})
    if args.adaptive is not None and not spec:
        return []  # continue the runs already in --out
    return sweep.expand(spec)


def cmd_coord(args) -> int:
    from .coord import coord_check

    widths = [int(w) for w in args.widths.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    fields = {f.name: f for f in config_fields()}
    extra = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in fields:
            raise ValueError(f"--set {item!r}: expected FIELD=VALUE with a run setting, "
                             "e.g. init_rel=0.5")
        extra[key] = parse_value(fields[key], value.strip())
    flat = True
    for name in args.param.split(","):
        res = coord_check(name.strip(), widths=widths, steps=args.steps, lr=args.lr,
                          seeds=seeds, depth=args.depth, head_dim=args.head_dim,
                          progress=True, as_trained=args.as_trained, **extra)
        how = "as trained" if args.as_trained else f"at constant lr {args.lr:g}"
        print(f"# {name}: mean |activation| after {args.steps} steps {how}")
        print(res.summary())
        print()
        flat &= all(v == "flat" for _, v in res.verdicts().values())
    return 1 if args.expect_flat and not flat else 0


def cmd_table(args) -> int:
    from . import param

    tbl = param.table(args.param, args.width, args.base_width, args.init_std)
    print(f"{tbl.name} at width {args.width} (m = {tbl.m:g})")
    print(f"{'tensor':<10}{'forward mult':>14}{'init std':>12}{'lr mult':>10}")
    for t, r in tbl.rules.items():
        std = "1 / 0" if t == "norm" else f"{r.init_std:.4g}"
        print(f"{t:<10}{r.mult:>14.4g}{std:>12}{r.lr_mult:>10.4g}")
    print(f"attention scale {tbl.attn_rule} = {tbl.attn_scale(args.head_dim):.4g} "
          f"(d_head {args.head_dim})")
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return {"train": cmd_train, "sweep": cmd_sweep, "coord": cmd_coord,
                "table": cmd_table}[args.command](args)
    except ValueError as e:
        print(f"reference-trainer {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
