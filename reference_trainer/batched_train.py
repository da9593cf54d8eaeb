"""Train K runs of one shape at once (`BatchedGPT`) and return one results row each.

Each model gets exactly what its single run (`train.train`) would get: its own init
(seed), its own data stream (the batches its single run draws, stacked along K), its
own LR, parameterization, schedule and horizon, weight decay, gradient clipping and
divergence test. The batch runs until its longest horizon; a model is taken out of the
batch as soon as it is finished, i.e.

* diverged (loss NaN/inf or above `diverge_factor` times its first loss): its row says
  ``diverged``, the others go on untouched (no operation mixes models);
* at its own horizon: it is evaluated there and its row is written then.

Rows are handed to `on_row` as each model finishes (the sweep appends them to the
results file at once), and are the rows the single runs would give (same run_id and
columns; losses equal to float tolerance), except that ``device`` says
``<device> batchK`` and ``wall_time_s`` / ``tokens_per_s`` are measured on the batch:
time from the batch's start to this model's row, this model's tokens over the
training time until its end.

Checkpoints (``ckpt_dir`` and ``ckpt_every``): the batch saves the state of the
models still training to ``ckpt_dir/batch-<hash>.pt``; a later batch whose runs are
all in such a file (the same batch, or part of it when some runs have finished since)
resumes from it; a file that cannot be resumed from, for any reason, is ignored with one
line on stderr and the batch trains from scratch.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from . import data, loop, schedule
from .batched import BatchedGPT, quiet_layout_note
from .batched_optim import BatchedAdamW
from .config import RunConfig
from .results import CURVE_KEY
from .runtime import (
    HostScalar,
    autocast,
    check_progress,
    error_line,
    ignore_checkpoint,
    load_checkpoint,
    log,
    save_atomic,
)
from .train import curve_vals as train_curve_vals


def train_step(model: BatchedGPT, opt: BatchedAdamW, forward, x, y, micro: int,
               dev: torch.device, dtype: str, factor: torch.Tensor) -> torch.Tensor:
    """One optimizer step of every model on its own batch x[k], y[k] (K, B, T): forward
    and backward in micro-batches of `micro` rows per model, per-model clipping, AdamW
    at each model's schedule `factor` (K,). Returns the K mean losses (on the device)."""
    if dev.type == "cuda":
        x, y = x.pin_memory(), y.pin_memory()
    x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
    accum = x.size(1) // micro
    model.zero_grad()
    loss_sum = torch.zeros(x.size(0), device=dev)
    for a in range(accum):
        sl = slice(a * micro, (a + 1) * micro)
        with autocast(dev, dtype):
            _, loss = forward(x[:, sl], y[:, sl])  # (K,)
        with quiet_layout_note():  # the models share no weights: each gets its own grads
            (loss.sum() / accum).backward()
        loss_sum += loss.detach() / accum
    if not model.grads_checked:  # once per model object: host-side pointer checks
        model.check_grads()
    opt.clip_grads()
    opt.step(factor)
    return loss_sum


@torch.no_grad()
def evaluate(model: BatchedGPT, forward, tokens, cfg: RunConfig, dev, batch_size: int
             ) -> list[float]:
    """Every model's mean cross-entropy over the first `eval_tokens` held-out tokens
    (the windows of `train.evaluate`, shown to all K models at once)."""
    K = model.K
    total = torch.zeros(K, dtype=torch.float64, device=dev)
    count = 0
    for x, y in data.eval_batches(tokens, cfg.seq_len, cfg.eval_tokens, batch_size):
        x, y = x.to(dev), y.to(dev)
        with autocast(dev, cfg.dtype):
            logits, _ = forward(x.expand(K, *x.shape))  # (K, B, T, V)
        ce = F.cross_entropy(logits.float().flatten(0, 2), y.expand(K, *y.shape).flatten(),
                             reduction="none")
        total += ce.view(K, -1).sum(1).double()
        count += y.numel()
    return (total / count).tolist()


# ------------------------------------------------------------------------ checkpoints
def ckpt_file(ckpt_dir, run_ids) -> Path:
    h = hashlib.sha256(",".join(sorted(run_ids)).encode()).hexdigest()[:12]
    return Path(ckpt_dir) / f"batch-{h}.pt"


def _load(path: Path) -> dict | None:
    """A batch checkpoint (mmap: reading the run ids does not read the weights), or None,
    with one line on stderr, when unreadable or not one of ours."""
    st = load_checkpoint(path, "cpu", mmap=True)
    if st is None:
        return None
    ids, step = st.get("run_ids"), st.get("step")
    if not (isinstance(ids, list) and ids and all(isinstance(i, str) for i in ids)
            and isinstance(step, int) and not isinstance(step, bool) and step >= 0):
        ignore_checkpoint(path, "not a batch checkpoint of this trainer (no list of run ids "
                          "and step)")
        return None
    return st


def find_checkpoint(ckpt_dir, run_ids) -> tuple[Path, dict] | None:
    """The furthest batch checkpoint in `ckpt_dir` that holds all of `run_ids`."""
    best = None
    for f in sorted(Path(ckpt_dir).glob("batch-*.pt")):
        st = _load(f)
        if st and set(run_ids) <= set(st["run_ids"]):
            if best is None or st["step"] > best[1]["step"]:
                best = (f, st)
    return best


def remove_finished_checkpoints(ckpt_dir, done_ids: set) -> None:
    """Delete checkpoints (batch and single-run) whose runs all have rows, and the
    temporary files of killed saves of single-run ones."""
    d = Path(ckpt_dir)
    if not d.is_dir():
        return
    for f in d.glob("batch-*.pt"):
        st = _load(f)
        if st and set(st["run_ids"]) <= done_ids:
            f.unlink(missing_ok=True)
    for f in d.glob("*.pt"):
        if f.stem in done_ids:  # a single run's checkpoint, `worker.ckpt_path`
            f.unlink(missing_ok=True)
    for f in d.glob("*.pt.tmp*"):  # a killed save of a finished run's checkpoint
        if f.name.split(".pt.tmp")[0] in done_ids:
            f.unlink(missing_ok=True)


def resume(st: dict, cfgs: list[RunConfig], model: BatchedGPT, opt: BatchedAdamW,
           streams: dict) -> tuple:
    """Load the rows of `cfgs` from batch checkpoint `st` into the model, optimizer and
    data streams; returns (step, losses, init_loss, elapsed_s), per-run lists. Raises when
    anything does not fit (the objects may then be half-loaded: build them anew)."""
    step = st["step"]
    rows_of = [st["run_ids"].index(c.run_id) for c in cfgs]
    losses = [st["losses"][r] for r in rows_of]
    init_loss = [st["init_loss"][r] for r in rows_of]
    for c, ls, first in zip(cfgs, losses, init_loss, strict=True):
        check_progress(step, ls, first, c.steps)
    curve = st.get("curve_val")
    if curve is not None:  # the validation losses of each run's curve so far
        if not (isinstance(curve, list) and len(curve) == len(st["run_ids"])):
            raise ValueError("its curves' validation losses are not one list per run")
        curve = [train_curve_vals({"curve_val": curve[r]}) for r in rows_of]
    flat, m, v = (st[k][rows_of] for k in ("flat", "m", "v"))
    for name, t in (("flat", flat), ("m", m), ("v", v)):
        if t.shape != model.flat.shape:  # copy_ would broadcast a wrong shape silently
            raise ValueError(f"{name} has shape {tuple(t.shape)} for a batch of "
                             f"{tuple(model.flat.shape)}")
    if isinstance(st["t"], bool) or not isinstance(st["t"], int):
        raise ValueError(f"optimizer step count {st['t']!r} is not an integer")
    model.flat.copy_(flat)
    opt.load_state_dict({"m": m, "v": v, "t": st["t"]})
    for seed, gen_state in st["streams"].items():
        if seed in streams:
            streams[seed].load_state_dict(gen_state)
    vals = curve if curve is not None else [{} for _ in cfgs]
    return step, [list(ls) for ls in losses], init_loss, float(st["elapsed_s"]), vals


# ------------------------------------------------------------------------- training
def fresh(cfgs: list[RunConfig], vocab: int, dev: torch.device, ds) -> tuple:
    """A new batch: the model, its optimizer, and one data stream per seed (the batches
    each model's single run would draw)."""
    model = BatchedGPT(cfgs, vocab, dev)
    streams = {c.seed: data.Batches(ds.train, c.seq_len, c.batch_size, seed=c.seed + 1)
               for c in cfgs}
    return model, BatchedAdamW(model), streams


def train_batch(cfgs: list[RunConfig], ckpt_dir=None, quiet: bool = False,
                on_row: Callable[[int, dict], None] | None = None,
                losses_out: dict | None = None) -> list[dict]:
    """Train the runs `cfgs` (one shape: `batched.batch_key`) together; return their
    rows in order. `on_row(k, row)` is called as soon as run k is finished; with
    `losses_out` (a dict) every run's training losses per step are stored there under
    its run_id, as `train.train` does."""
    t0 = time.perf_counter()
    say = (lambda m: None) if quiet else log
    c0 = cfgs[0]
    d, ds = loop.start(c0, batched=True)
    dev, vocab = d.device, c0.vocab_size or ds.vocab_size
    model, opt, streams = fresh(cfgs, vocab, dev, ds)
    K0 = len(cfgs)
    n_params, n_params_total = model.n_params
    micro = min(c0.micro_batch_size or c0.batch_size, c0.batch_size)
    if c0.batch_size % micro:
        raise ValueError(f"batch_size {c0.batch_size} is not a multiple of "
                         f"micro_batch_size {micro}")
    n_steps = [c.steps for c in cfgs]
    factors = torch.tensor([[schedule.factor(c, s) for s in range(max(n_steps))]
                            for c in cfgs], dtype=torch.float32).to(dev)  # (K, steps)
    ids = list(range(K0))  # run index of each model still in the batch
    losses: list[list[float]] = [[] for _ in cfgs]
    init_loss: list[float | None] = [None] * K0
    rows: list[dict | None] = [None] * K0
    step, elapsed_s = 0, 0.0
    curve_val: list[dict] = [{} for _ in cfgs]  # each run's curve: {step: validation loss}

    ckpt_every = c0.ckpt_every if ckpt_dir else 0
    ckpt_path = ckpt_file(ckpt_dir, [c.run_id for c in cfgs]) if ckpt_every else None
    found = None
    if ckpt_every:
        Path(ckpt_dir).mkdir(parents=True, exist_ok=True)
        found = find_checkpoint(ckpt_dir, [c.run_id for c in cfgs])
    if found:
        try:
            step, losses, init_loss, elapsed_s, curve_val = resume(found[1], cfgs, model, opt,
                                                                   streams)
            say(f"batch of {K0}: resumed at step {step} from {found[0].name}")
        except Exception as e:  # noqa: BLE001 - any bad checkpoint: train from scratch
            ignore_checkpoint(found[0], f"cannot resume this batch from it ({error_line(e)});"
                              " training from scratch")
            model, opt, streams = fresh(cfgs, vocab, dev, ds)  # nothing half-loaded

    compile_ = c0.compile
    if compile_:
        torch._dynamo.reset()

    def compiled(m: BatchedGPT):
        return torch.compile(m.forward) if compile_ else m.forward

    forward = compiled(model)
    t_train = time.perf_counter()

    def record(vals: list[float], at: list[int], i_step: int) -> set:
        """Record the losses of step i_step for runs `at`; the runs that diverged."""
        bad = set()
        for v, i in zip(vals, at, strict=True):
            if rows[i] is not None:
                continue
            losses[i].append(v)
            if init_loss[i] is None:
                init_loss[i] = v
            if i_step % loop.log_every(cfgs[i], n_steps[i]) == 0 or i_step == n_steps[i] - 1:
                say(f"{cfgs[i].run_id} step {i_step + 1}/{n_steps[i]} loss {v:.4f}")
            if loop.diverged(v, init_loss[i], cfgs[i].diverge_factor):
                bad.add(i)
        return bad

    def finish(i: int, val_loss: float | None) -> None:
        c = cfgs[i]
        if val_loss is not None:
            say(f"{c.run_id} val_loss {val_loss:.4f} after {n_steps[i]} steps")
        else:
            say(f"{c.run_id} diverged at step {len(losses[i])} (loss {losses[i][-1]:.4g}, "
                f"first {init_loss[i]:.4g})")
        train_s = time.perf_counter() - t_train
        row = loop.finished_row(
            c, model_tables[i], losses[i], val_loss, n_params=n_params,
            n_params_total=n_params_total, wall_time_s=elapsed_s + time.perf_counter() - t0,
            # the batch's throughput while this run trained: every model's tokens
            tokens_per_s=progress.model_steps * c.tokens_per_step / max(train_s, 1e-9),
            device=f"{dev} batch{K0}", data_name=ds.name)
        if c.curves_every:
            if val_loss is not None:
                curve_val[i][n_steps[i] - 1] = val_loss
            row[CURVE_KEY] = loop.curve_rows(c, losses[i], curve_val[i])
        rows[i] = row
        if losses_out is not None:
            losses_out[c.run_id] = list(losses[i])
        if on_row is not None:
            on_row(i, row)

    model_tables = list(model.tables)
    progress = Heartbeat(cfgs, n_steps, log)
    pending = None  # (losses of the last step on the device, runs, step) not yet read
    while ids:
        x, y = _next_batches(streams, [cfgs[i].seed for i in ids])
        loss = train_step(model, opt, forward, x, y, micro, dev, c0.dtype,
                          factors[:, step])
        step += 1
        progress.step(step, ids)
        out = set()  # runs leaving the batch now: diverged, or at their horizon
        if pending is not None:
            diverged = record(pending[0].tolist(), pending[1], pending[2])
            for i in diverged:
                finish(i, None)
            out |= diverged
        pending = (HostScalar(loss), list(ids), step - 1)
        at_end = [i for i in ids if n_steps[i] == step and i not in out]
        save_now = ckpt_every and step % ckpt_every == 0 and any(n_steps[i] > step
                                                                for i in ids)
        if at_end or save_now:  # read this step's losses now
            diverged = record(pending[0].tolist(), pending[1], pending[2])
            pending = None
            for i in diverged:
                finish(i, None)
            out |= diverged
            at_end = [i for i in at_end if i not in diverged]
        if loop.curve_due(c0, step - 1) and any(step < n_steps[i] for i in ids
                                                  if i not in out):
            vals = evaluate(model, forward, ds.val, c0, dev, micro)
            for i, v in zip(ids, vals, strict=True):
                if i not in out and step < n_steps[i]:
                    curve_val[i][step - 1] = v
        if c0.eval_every and step % c0.eval_every == 0:
            vals = evaluate(model, forward, ds.val, c0, dev, micro)
            for i, v in zip(ids, vals, strict=True):
                if i not in out and step < n_steps[i]:
                    say(f"{cfgs[i].run_id} step {step}/{n_steps[i]} val_loss {v:.4f}")
        if at_end:
            pos = [ids.index(i) for i in at_end]
            sub = model if len(pos) == model.K else model.select(pos)
            vals = evaluate(sub, forward if sub is model else sub.forward, ds.val, c0, dev,
                            micro)
            for i, v in zip(at_end, vals, strict=True):
                finish(i, v)
            out |= set(at_end)
        if out:
            keep = [r for r, i in enumerate(ids) if i not in out]
            ids = [ids[r] for r in keep]
            if not ids:
                break
            model = model.select(keep)
            opt.select(keep, model)
            factors = factors[torch.tensor(keep, device=dev)]
            forward = compiled(model)
        if save_now and ids:
            save_atomic(ckpt_path, {
                "run_ids": [cfgs[i].run_id for i in ids], "step": step,
                "flat": model.flat.cpu(), "m": opt.m.cpu(), "v": opt.v.cpu(), "t": opt.t,
                "streams": {s: b.state_dict() for s, b in streams.items()},
                "losses": [losses[i] for i in ids], "init_loss": [init_loss[i] for i in ids],
                "curve_val": [[[k, v] for k, v in curve_val[i].items()] for i in ids],
                "elapsed_s": elapsed_s + time.perf_counter() - t0})
    if ckpt_path is not None and ckpt_path.exists():
        ckpt_path.unlink(missing_ok=True)
    return rows


class Heartbeat:
    """Progress of a batch between finished runs: counts model-steps, and every
    `every_s` seconds prints one line (even when the batch is quiet): the step, the runs
    left, the batch's tokens/s over the last interval, and the time the batch has left
    at that rate (the remaining model-steps of the runs still in it)."""

    def __init__(self, cfgs: list[RunConfig], n_steps: list[int], say, every_s: float = 60.0):
        self.cfgs, self.n_steps, self.say, self.every_s = cfgs, n_steps, say, every_s
        self.model_steps = 0          # model-steps trained since the batch (re)started
        self.t_last = time.perf_counter()
        self.steps_last = 0

    def step(self, step: int, ids: list[int]) -> None:
        self.model_steps += len(ids)
        now = time.perf_counter()
        if now - self.t_last < self.every_s:
            return
        rate = (self.model_steps - self.steps_last) / (now - self.t_last)  # model-steps/s
        self.t_last, self.steps_last = now, self.model_steps
        left = sum(max(0, self.n_steps[i] - step) for i in ids)
        eta = left / max(rate, 1e-9)
        eta_s = f"{eta / 60:.0f} min" if eta >= 600 else f"{eta:.0f} s"
        c = self.cfgs[0]
        self.say(f"batch of {len(self.cfgs)} ({c.param} w={c.width} d={c.depth} "
                 f"bs={c.batch_size}): step {step}/{max(self.n_steps[i] for i in ids)}, "
                 f"{len(ids)} of {len(self.cfgs)} runs left, "
                 f"{rate * c.tokens_per_step:,.0f} tokens/s, about {eta_s} left")


def _next_batches(streams: dict, seeds: list[int]):
    """The next batch of each seed's stream, stacked for the given models: x, y (K, B, T)."""
    drawn = {s: streams[s].next() for s in dict.fromkeys(seeds)}
    x = torch.stack([drawn[s][0] for s in seeds])
    y = torch.stack([drawn[s][1] for s in seeds])
    return x, y
