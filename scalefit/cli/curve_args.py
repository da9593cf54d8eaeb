"""Arguments of ``scalefit curve`` (whole loss curves; argparse only)."""

from __future__ import annotations

CURVE_ABOUT = ("fit a loss-curve law to whole training curves (Multi-Power Law, Tissue et al.)",
               "Fit the Multi-Power Law (Luo et al. 2025) or Tissue et al.'s annealing law to "
               "whole loss curves: a table of (run, step, lr, loss) rows, schedules logged at "
               "every step or rebuilt from a description; bootstrap intervals, prediction "
               "bands, and decisions: the curve of an unseen schedule, two schedules compared "
               "at their ends, the loss at every WSD branch point.")
CURVE_EPILOG = """examples:
  scalefit curve curves.csv --schedule '*=cosine:total=24000,warmup=2160,peak=3e-4,end=3e-5'
  scalefit curve curves.csv --schedule-col schedule --law tissue --json curves.json
  scalefit curve curves.csv --predict \\
      'wsd:total=48000,warmup=2160,peak=3e-4,end=3e-5,decay_start=40000,decay=linear'
  scalefit curve curves.csv --compare 'cosine:total=24000,peak=3e-4,end=3e-5' \\
      'wsd:total=24000,peak=3e-4,end=3e-5,decay_start=20000,decay=sqrt'
  scalefit curve curves.csv --branches 'constant:total=48000,warmup=2160,peak=3e-4' \\
      --cooldown 4000 --end-lr 3e-5
  scalefit curve curves.csv --predict 'cosine:total=48000,peak=3e-4,end=3e-5' --report rep

A schedule description is SHAPE:key=value,...: shapes constant, cosine, linear, wsd,
piecewise; keys total, warmup, peak, end, decay_start, decay (linear, exp, cosine, sqrt),
pieces (STEP@LR;STEP@LR), warmup_from (zero | step). Warmup: linear from 0 at step 0 to
the peak at step warmup-1; with warmup_from=step, peak*(s+1)/warmup at step s (the
reference trainer's warmup).
Columns are found by name: run (run, run_id, name, ...), step (step, iteration, ...), lr,
loss, schedule; name them with --run/--step/--lr/--loss/--schedule-col. Bootstrap: whole
runs with >= 6 runs in a group, else moving blocks of residuals within runs (said in the
output). Bands for unseen schedules add leave-one-run-out errors (>= 3 runs).
"""


def add_curve_args(p, option, pair) -> None:
    p.add_argument("runs", metavar="RUNS", nargs="?",
                   help="table of (run, step, lr, loss) rows: .csv .tsv .parquet .jsonl .json")
    g = p.add_argument_group("columns and schedules")
    for role in ("run", "step", "lr", "loss"):
        g.add_argument(f"--{role}", metavar="COL", help=f"{role} column (default: by name)")
    g.add_argument("--schedule-col", metavar="COL",
                   help="column holding each run's schedule description")
    g.add_argument("--schedule", metavar="RUN=SPEC", type=pair, action="append", default=[],
                   help="a run's schedule description ('*' for every run); repeatable")
    g.add_argument("--format", choices=("csv", "tsv", "parquet", "jsonl", "json"),
                   help="input format (default: by extension)")
    f = p.add_argument_group("fit")
    f.add_argument("--law", choices=("mpl", "tissue"), default="mpl",
                   help="mpl: Multi-Power Law (default); tissue: Tissue et al.'s annealing law")
    f.add_argument("--lambda", dest="lam", metavar="LAM",
                   type=option("curve_lambda", "--lambda"), default=0.999,
                   help="the annealing law's momentum decay (fixed; default 0.999)")
    f.add_argument("--by", metavar="COL", nargs="+", action="extend", default=[],
                   help="columns that split runs into groups (one fit per group)")
    f.add_argument("--boot", metavar="N", type=option("n_boot", "--boot"), default=200,
                   help="bootstrap resamples, 0 for none (default 200)")
    f.add_argument("--seed", metavar="S", type=option("seed", "--seed"), default=0,
                   help="resampling seed")
    f.add_argument("--ci", metavar="LEVEL", type=option("ci", "--ci"), default=0.95,
                   help="interval level")
    f.add_argument("--huber-delta", metavar="DELTA",
                   type=option("huber_delta", "--huber-delta"), default=1e-3,
                   help="Huber threshold on ln L residuals (default 1e-3)")
    d = p.add_argument_group("decisions")
    d.add_argument("--group", metavar="K=V", type=pair, action="append", default=[],
                   help="the by-group the decisions use")
    d.add_argument("--predict", metavar="SPEC", action="append", default=[],
                   help="predict the curve of this schedule, with bands (repeatable)")
    d.add_argument("--compare", metavar=("SPEC_A", "SPEC_B"), nargs=2,
                   help="loss at the end of schedule B minus A, with an interval")
    d.add_argument("--branches", metavar="SPEC", help="a warmup-stable run: the loss after a "
                   "cooldown branched at each of 20 points of it (--cooldown, --end-lr)")
    d.add_argument("--cooldown", metavar="STEPS", type=option("cooldown", "--cooldown"),
                   default=None,
                   help="cooldown length in steps for --branches")
    d.add_argument("--end-lr", metavar="LR", type=option("end_lr", "--end-lr"),
                   default=None,
                   help="LR at the end of the cooldown for --branches")
    d.add_argument("--decay", choices=("linear", "exp", "cosine", "sqrt"), default="linear",
                   help="cooldown shape for --branches (default linear)")
    o = p.add_argument_group("report and figures")
    o.add_argument("--report", metavar="DIR", help="write DIR/report.md, DIR/report.html "
                   "(self-contained) and DIR/figures/curves.png|svg: measured vs fitted "
                   "curves with the curve's band, residuals, and the --predict curves with "
                   "their bands; then the fit's tables and the decisions")
    o.add_argument("--figures", metavar="DIR", help="write only the figure, DIR/curves.png|svg")
