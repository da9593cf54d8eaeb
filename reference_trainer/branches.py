"""WSD branches: train the stable phase of a family of WSD runs once, branch each cooldown.

WSD runs (``schedule = "wsd"``) that differ only in their horizon (``tokens``, and the
cooldown settings) share every step before their decay start: the warmup and the peak LR
do not depend on the horizon, nor do the init and the data order (both follow the seed).
Their ``RunConfig.stable_id`` is equal: they are branches of one stable run.
`train_family` trains that stable run once, up to the last decay start it needs; at each
branch's decay start it copies the model, optimizer and data stream in memory, trains the
branch's cooldown to its horizon, evaluates it, hands its row on, and puts the copy back to
go on with the stable run. Each branch's row (and curve) is the row its run trained alone
would have (`train.train`): on a CPU bit for bit (tested), so ``run_id`` is that run's,
and ``branch_of`` names the stable run.

A family trains in one process, one model at a time (not in a `BatchedGPT` batch), and
without checkpoints: a sweep killed mid-family trains the family's missing branches again,
the stable phase from step 0 up to the last decay start they need.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

from . import loop, schedule
from .config import RunConfig
from .results import CURVE_KEY
from .runtime import log


def check_family(cfgs: list[RunConfig]) -> None:
    """Raise ValueError unless `cfgs` are WSD runs of one stable run."""
    if any(c.schedule != "wsd" for c in cfgs):
        raise ValueError("a branch family holds only wsd runs")
    if len({c.stable_id for c in cfgs}) != 1:
        raise ValueError("the runs of a branch family must share their stable run "
                         "(equal settings except tokens and the cooldown)")


def horizon_axis(spec: dict, horizons, parse_list) -> list[int]:
    """The tokens axis of a sweep from ``--branch-horizons`` (a list or text;
    `parse_list(field, text)` reads a list as the CLI does); refuses it without
    ``--schedule wsd`` or beside ``--tokens`` / ``--tokens-per-param``."""
    if spec.get("schedule") != ["wsd"]:
        raise ValueError("--branch-horizons goes with --schedule wsd (one schedule)")
    if "tokens" in spec or "tokens_per_param" in spec:
        raise ValueError("give --branch-horizons or --tokens / --tokens-per-param, not both "
                         "(the branch horizons are the tokens axis)")
    from .config import config_fields, parse_value

    f = {f.name: f for f in config_fields()}["tokens"]
    items = horizons if isinstance(horizons, list) else [horizons]
    return [t for x in items
            for t in (parse_list(f, x) if isinstance(x, str) else [parse_value(f, x)])]


def train_family(cfgs: list[RunConfig], quiet: bool = False,
                 on_row: Callable[[int, dict], None] | None = None) -> list[dict]:
    """Train the WSD runs `cfgs` (one `stable_id`) as branches of one stable run (module
    doc); returns their rows in order, each also handed to `on_row(k, row)` as it ends."""
    from .train import evaluate, fresh, train_step

    check_family(cfgs)
    t0 = time.perf_counter()
    say = (lambda m: None) if quiet else log
    order = sorted(range(len(cfgs)), key=lambda k: (cfgs[k].decay_start, cfgs[k].steps))
    stem_cfg = cfgs[order[-1]]  # the latest decay start: its schedule covers every stem step
    d, ds = loop.start(stem_cfg, batched=True)
    raw, tbl, opt, batches = fresh(stem_cfg, ds, d)
    n_params, n_params_total = raw.n_params()
    micro = min(stem_cfg.micro_batch_size or stem_cfg.batch_size, stem_cfg.batch_size)
    if stem_cfg.batch_size % micro:
        raise ValueError(f"batch_size {stem_cfg.batch_size} is not a multiple of "
                         f"micro_batch_size {micro}")
    raw.train()
    losses: list[float] = []
    vals: dict[int, float] = {}  # the stable run's validation losses for the curves
    first: list[float] = []  # the first loss (the divergence rule's reference)
    rows: list[dict | None] = [None] * len(cfgs)
    branch_s = 0.0  # time spent in cooldowns (not part of another branch's wall time)

    def one_step(cfg: RunConfig, i: int, into: list[float]) -> bool:
        """Train step i of run `cfg` on the live objects; True if it diverged."""
        x, y = batches.next()
        loss = train_step(raw, raw, opt, x, y, micro, cfg, d, schedule.factor(cfg, i))
        v = loss.item()
        into.append(v)
        if not first:
            first.append(v)
        return loop.diverged(v, first[0], cfg.diverge_factor)

    step, stem_diverged = 0, False
    for k in order:
        c = cfgs[k]
        while not stem_diverged and step < c.decay_start:
            stem_diverged = one_step(stem_cfg, step, losses)
            step += 1
            if not stem_diverged and loop.curve_due(c, step - 1):
                vals[step - 1] = evaluate(raw, ds.val, c, d, micro)
        t_branch = time.perf_counter()
        if stem_diverged:  # the run trained alone diverges here too, before its cooldown
            b_losses, b_vals, val_loss = list(losses), dict(vals), None
        else:
            saved = (copy.deepcopy(raw.state_dict()), copy.deepcopy(opt.state_dict()),
                     batches.state_dict())
            b_losses, b_vals, ok = list(losses), dict(vals), True
            for i in range(step, c.steps):
                if one_step(c, i, b_losses):
                    ok = False
                    break
                if loop.curve_due(c, i) and i + 1 < c.steps:
                    b_vals[i] = evaluate(raw, ds.val, c, d, micro)
            val_loss = evaluate(raw, ds.val, c, d, micro) if ok else None
            raw.load_state_dict(saved[0])
            opt.load_state_dict(saved[1])
            batches.load_state_dict(saved[2])
        now = time.perf_counter()
        wall = now - t0 - branch_s
        branch_s += now - t_branch
        if val_loss is not None:
            say(f"{c.run_id} val_loss {val_loss:.4f} after {c.steps} steps (branch at step "
                f"{c.decay_start} of stable run {c.stable_id})")
        else:
            say(f"{c.run_id} diverged at step {len(b_losses)}")
        row = loop.finished_row(
            c, tbl, b_losses, val_loss, n_params=n_params, n_params_total=n_params_total,
            wall_time_s=wall, tokens_per_s=len(b_losses) * c.tokens_per_step / max(wall, 1e-9),
            device=f"{d.device} branch", data_name=ds.name)
        if c.curves_every:
            if val_loss is not None:
                b_vals[c.steps - 1] = val_loss
            row[CURVE_KEY] = loop.curve_rows(c, b_losses, b_vals)
        rows[k] = row
        if on_row is not None:
            on_row(k, row)
    return rows
