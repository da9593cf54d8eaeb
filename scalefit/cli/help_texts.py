"""The help texts of the command line: examples per command, one-line summaries, usage
lines. Text only (no argparse), so the parser module holds the arguments alone."""

from .backtest_args import BACKTEST_ABOUT, BACKTEST_EPILOG
from .curve_args import CURVE_ABOUT, CURVE_EPILOG

EPILOGS = {
    "fit": r"""examples:
  scalefit fit runs.csv
  scalefit fit examples/data/synthetic_sweeps.csv --by parameterization --report report/
  scalefit fit runs.parquet --lr peak_lr --loss "eval/loss" --boot 2000 --json fit.json
  scalefit fit wandb_export.csv --loss scaling/global_loss \
      --extract 'Name:-(?P<width>\d+)x(?P<depth>\d+)_.*_lr(?P<lr>[0-9.e+-]+)_'
  cat runs.csv | scalefit fit - --json - > fit.json
  scalefit fit steplaw.csv --scale N --horizon D --loss "smooth loss" --joint bs
  scalefit fit optima.csv         # a table of optima: lr_opt (best_lr, lr*, ...) per row

Columns are found by name: scale (N, params, n_params, width, ...), horizon (D, tokens,
...), lr (learning_rate, peak_lr, ...), loss (val_loss, final_loss, ...); name them with
--scale/--horizon/--lr/--loss. Runs with a NaN/inf/empty loss, or a status saying
diverged (nan, exploded, ...), count as diverged; so does a run above its sweep's best LR
whose loss exceeds 1.3 x the best (--blowup). Runs whose status is neither finished (ok,
finished, completed, ...; --status-ok adds values) nor diverged (running, killed, crashed,
failed, ...) are left out as unfinished, and counted. Sweep statuses (docs/math.md): ok,
edge, too_few, not_convex, all_diverged, bad_fit (the parabola does not describe its
window), off_grid (vertex outside the LRs fitted), div_bracketed (bracketed by a diverged
run), flat (the valley is no deeper than the noise can resolve). Outputs are written
atomically, never over the input.
""",
    "compare": """examples:
  scalefit compare examples/data/synthetic_sweeps.csv --by parameterization --reference mup
  scalefit compare runs.csv --by parameterization weight_decay --report compare/
""",
    "predict": """examples:
  scalefit fit runs.csv --by parameterization --json fit.json
  scalefit predict fit.json --scale 7B --horizon 1T
  scalefit predict fit.json --scale 7e9 --horizon 1e12 --group parameterization=mup
  scalefit fit steplaw.csv --scale N --horizon D --loss "smooth loss" --joint bs --json j.json
  scalefit predict j.json --scale 7B --horizon 1T --bs 512

Intervals come from the bootstrap draws saved in FIT.json; a FIT.json is read as data
only (it never makes scalefit open another file).
""",
    "audit": """examples:
  scalefit audit fit.json --lr 3e-4 --scale 7B --horizon 1T
  scalefit audit fit.json --lr 3e-4 --scale 7e9 --horizon 1e12 --group parameterization=sp
  scalefit audit joint.json --lr 3e-4 --bs 2048 --scale 7B --horizon 1T   # a --joint fit

The penalty is curvature * (ln lr - ln lr_opt)^2 in loss units, with the curvature
extrapolated by its own law.
""",
    "transfer": """examples:
  scalefit transfer --lr 3e-3 --from 10B --to 1T --b -0.32
  scalefit transfer --lr 3e-3 --from 10B --to 1T --beta 0.32
  scalefit transfer --lr 3e-3 --from 10B --to 1T --fit fit.json --group parameterization=mup

lr(to) = lr(from) * (to / from)^b. Exponents are signed as in the formula: Bjorck et al.'s
beta = 0.32 is b = -0.32 (--beta 0.32 says the same).
""",
    "chinchilla": """examples:
  scalefit chinchilla runs.csv --boot 200
  scalefit chinchilla runs.csv --scale n_params --horizon tokens --loss val_loss --json law.json

Fits loss = E + A * N^-alpha + B * D^-beta (Huber loss on ln L, L-BFGS from a grid of
starts, as Hoffmann et al. and Besiroglu et al.). N is the scale column, D the horizon.
""",
    "isoflop": """examples:
  scalefit isoflop examples/data/synthetic_isoflop.csv
  scalefit isoflop isoflop_points.csv --by dataset hparams warmup decay param_count loss_split
  scalefit isoflop runs.csv --flops C --params n_params --budget-col budget --json iso.json

Each profile (one budget, one value of every --by column) is a sweep in ln N: its optimum
N* is the windowed parabola of 'scalefit fit', with the same statuses and run bootstrap.
Then N* = k C^a, D* = k C^b, D*/N* = k C^c and loss_opt = L_inf + A C^alpha per group.
Columns: flops (C, compute, budget, ...), N (params, n_params, ...), D (tokens, ...),
loss; C = 6 N D without a FLOP column. Budgets: --budget-col, else a FLOP column whose
values repeat, else C binned within --budget-tol (10%).
""",
    "allocate": """examples:
  scalefit chinchilla runs.csv --boot 1000 --json law.json
  scalefit allocate law.json --budget 5.88e23
  scalefit allocate law.json --budget 1e21 --budget 1e22 --budget 1e23 --ci 0.9

Minimises the fitted loss under C = 6 N D: N* = G (C/6)^a, D* = (C/6)^b / G with
a = beta / (alpha + beta). Intervals: every bootstrap draw saved in FIT.json, allocated.
Warns when a budget, N* or D* lies outside the data the law was fitted on.
""",
    "curve": CURVE_EPILOG,
    "backtest": BACKTEST_EPILOG,
    "next": r"""examples:
  scalefit next runs.csv --budget 16
  scalefit next runs.csv --budget 16 --target-scale 7B --target-horizon 1T --out next.csv
  reference-trainer sweep --from-csv next.csv --out runs.csv      # train them, then again
  scalefit next runs.csv --by parameterization --group parameterization=mup --budget 8 \
      --target-scale 1e9 --new-scale 2e9 --json next.json
  scalefit next steplaw.csv --scale N --horizon D --loss "smooth loss" --joint bs --budget 17

Proposes the runs (sweep and LR) expected to shrink the uncertainty of the target most
per unit cost: the optimal LR each group's law predicts at --target-scale/--target-horizon,
or without them the optimum of every sweep. Sweeps that are not ok get the runs their
status asks for (edge: LRs past the edge; too_few: the missing LRs; div_bracketed: inside
the bracket; ...). No LR at or above one where a run of the sweep diverged is proposed.
--out writes one row per run, copied from a run of its sweep with the new LR (and the
reference trainer's config JSON), for 'reference-trainer sweep --from-csv'.
With --joint COL (the batch size) each (scale, horizon) is one LR x COL surface and a run
names both its LR and its COL: the cells that most shrink the joint optimum's (ln lr*,
ln COL*) variance, or the cells its status asks for (past an LR or COL edge, around the
best cell).
""",
}

MAIN_DESCRIPTION = """\
Hyperparameter transfer for LLM training: optimal learning rates per sweep, power
laws of the optimum across scale and token horizon, transfer quality, with bootstrap
intervals, from any table of runs (CSV, Parquet, JSON Lines; '-' for stdin)."""

# command -> (one-line help, description)
ABOUT = {
    "fit": ("optimal LR per sweep, power laws and transfer quality",
            "Fit the optimal learning rate of every LR sweep (a quadratic in ln lr), power laws "
            "of the optimum in scale and horizon, and the transfer measures of --by groups."),
    "compare": ("fit and compare groups (parameterizations)",
                "Fit, then print each group's LR law and the transfer-quality table: E "
                "(scatter of ln lr_opt around its law), the leave-largest-out extrapolation "
                "error, kappa (curvature exponent), R_inf (asymptotic loss ratio to the "
                "reference)."),
    "predict": ("optimal LR at a new scale and horizon",
                "Predict the optimal LR at (scale, horizon) from the laws of a saved fit, with "
                "the interval of the law (CI) and a prediction interval that adds the scatter "
                "of the optima."),
    "audit": ("loss cost of training at a given LR", "How far is LR from the predicted "
              "optimum at (scale, horizon), and how much loss does it cost?"),
    "transfer": ("carry an LR to another token horizon", "Carry an LR tuned at one token "
                 "horizon to another: lr * (to / from)^b, with b given or from a fit."),
    "chinchilla": ("fit the Chinchilla loss law L(N, D)",
                   "Fit loss = E + A * N^-alpha + B * D^-beta to every non-diverged run."),
    "isoflop": ("IsoFLOP profiles: optimal N per budget and N*(C), D*(C)",
                "Chinchilla Approach 2: the optimal model size of every IsoFLOP profile (a "
                "quadratic in ln N around the best N, with the run bootstrap of LR sweeps), "
                "then N*, D*, tokens per parameter and the loss at the optimum as laws of the "
                "FLOP budget C, with intervals."),
    "next": ("which runs to train next (adaptive sweeps)",
             "Propose the next runs of a study: the runs that reduce the uncertainty of the "
             "predicted optimal LR at a target scale and horizon (or of every sweep's optimum) "
             "the most per unit cost, each with its reason in one line (docs/math.md section "
             "11)."),
    "backtest": BACKTEST_ABOUT,
    "curve": CURVE_ABOUT,
    "allocate": ("compute-optimal N and D for a budget, from a Chinchilla fit",
                 "For budgets of C FLOPs: the model size N* and tokens D* that minimise a saved "
                 "Chinchilla law (scalefit chinchilla --json) at C = 6 N D, the tokens per "
                 "parameter and the predicted loss, each with an interval from the fit's "
                 "bootstrap draws; and the exponent a = beta / (alpha + beta)."),
}
MAIN_EPILOG = """examples:
  scalefit fit examples/data/synthetic_sweeps.csv --by parameterization
  scalefit fit runs.csv --json fit.json --report report/
  scalefit predict fit.json --scale 7B --horizon 1T
  scalefit audit fit.json --lr 3e-4 --scale 7B --horizon 1T
  scalefit transfer --lr 3e-3 --from 10B --to 1T --b -0.32
  scalefit compare runs.csv --by parameterization --reference mup
  scalefit chinchilla runs.csv --boot 200 --json law.json
  scalefit allocate law.json --budget 5.88e23
  scalefit isoflop isoflops.csv --by dataset
  scalefit curve curves.csv --schedule '*=cosine:total=24000,warmup=2160,peak=3e-4,end=3e-5'
  scalefit next runs.csv --budget 16 --target-scale 7B --target-horizon 1T --out next.csv

exit status: 0 success, 2 bad input or usage, 1 the fit failed.
'scalefit COMMAND --help' shows every option, with examples.
"""
USAGES = {"fit": "%(prog)s RUNS [options]", "chinchilla": "%(prog)s RUNS [options]",
          "isoflop": "%(prog)s RUNS [options]", "curve": "%(prog)s RUNS [options]",
          "allocate": "%(prog)s FIT.json --budget C [--budget C2 ...] [options]",
          "compare": "%(prog)s RUNS --by COL [COL ...] [options]",
          "next": "%(prog)s RUNS --budget K [options]",
          "backtest": "%(prog)s RUNS --axis scale|horizon|COL [--levels K] [options]"}
