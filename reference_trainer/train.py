"""Train one configuration and return its results row.

On CUDA: bf16 autocast, TF32 matmuls, fused AdamW, optional torch.compile. On CPU:
plain fp32, bit-for-bit reproducible from the seed. Under torchrun every process
trains one DDP replica on its slice of each global batch (gloo on CPU, NCCL on CUDA).

Divergence: the run stops as soon as the training loss is NaN/inf or exceeds
``diverge_factor`` times the loss of the first step; the row says ``diverged``. The
loss of step i is copied to the host asynchronously and read once step i+1 is queued,
so the GPU never idles for the check (a diverged run does one extra step).
"""

from __future__ import annotations

import contextlib
import os
import time

import torch
import torch.nn.functional as F

from . import data, loop, optim, results, schedule
from .build import build_model
from .config import RunConfig
from .model import GPT
from .runtime import (
    Dist,
    HostScalar,
    all_mean,
    autocast,
    check_progress,
    error_line,
    ignore_checkpoint,
    load_checkpoint,
    log,
    save_atomic,
)


@torch.no_grad()
def evaluate(model: GPT, tokens, cfg: RunConfig, d: Dist, batch_size: int) -> float:
    """Mean cross-entropy (nats/token) over the first `eval_tokens` held-out tokens.
    Under DDP the windows are shared out and the sums reduced."""
    was_training = model.training
    model.eval()
    total = torch.zeros(2, dtype=torch.float64, device=d.device)  # (sum loss, count)
    for i, (x, y) in enumerate(data.eval_batches(tokens, cfg.seq_len, cfg.eval_tokens,
                                                 batch_size)):
        if i % d.world != d.rank:
            continue
        x, y = x.to(d.device), y.to(d.device)
        with autocast(d.device, cfg.dtype):
            logits, _ = model(x)  # (B, T, V)
        loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="sum")
        total += torch.stack([loss.double(), torch.tensor(y.numel(), device=d.device)])
    if d.world > 1:
        import torch.distributed as dist

        dist.all_reduce(total)
    model.train(was_training)
    return (total[0] / total[1]).item()


# -------------------------------------------------------------------------- training
def train_step(model, raw: GPT, opt, x, y, micro: int, cfg: RunConfig, d: Dist,
               factor: float) -> torch.Tensor:
    """One optimizer step on this process's share x, y (B/world, T) of the global batch:
    forward/backward in micro-batches of `micro` rows (DDP syncs gradients on the last),
    clip, scale the LRs by the schedule `factor`, AdamW. Returns the mean loss (0-dim,
    detached, still on the device: reading it is the caller's choice of sync point)."""
    if d.device.type == "cuda":
        x, y = x.pin_memory(), y.pin_memory()
    x, y = x.to(d.device, non_blocking=True), y.to(d.device, non_blocking=True)
    accum = x.size(0) // micro
    loss_sum = torch.zeros((), device=d.device)
    for k in range(accum):
        xs, ys = x[k * micro:(k + 1) * micro], y[k * micro:(k + 1) * micro]
        sync = d.world == 1 or k == accum - 1
        with (contextlib.nullcontext() if sync else model.no_sync()), \
                autocast(d.device, cfg.dtype):
            _, loss = model(xs, ys)
        (loss / accum).backward()
        loss_sum += loss.detach() / accum
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(raw.parameters(), cfg.grad_clip)
    optim.apply_schedule(opt, factor, cfg.wd_mode)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss_sum


def fresh(cfg: RunConfig, ds, d: Dist):
    """A new run's model (on the device), its table, optimizer and data stream."""
    raw, tbl = build_model(cfg, cfg.vocab_size or ds.vocab_size)
    raw.to(d.device)
    opt = optim.build(raw, tbl, cfg, fused=d.device.type == "cuda")
    batches = data.Batches(ds.train, cfg.seq_len, cfg.batch_size, seed=cfg.seed + 1,
                           rank=d.rank, world=d.world)
    return raw, tbl, opt, batches


def curve_vals(st: dict) -> dict:
    """The validation losses of the curve a checkpoint holds, {step: loss} ({} for a
    checkpoint without them); raises when they are not (step, loss) number pairs."""
    pairs = st.get("curve_val", [])
    if not isinstance(pairs, list) or not all(
            isinstance(p, list | tuple) and len(p) == 2 and isinstance(p[0], int)
            and isinstance(p[1], float) for p in pairs):
        raise ValueError("its curve's validation losses are not (step, loss) pairs")
    return {int(a): float(b) for a, b in pairs}


def resume(st: dict, cfg: RunConfig, raw: GPT, opt, batches) -> tuple:
    """Load checkpoint `st` into the model, optimizer and data stream of run `cfg`; returns
    (step, losses, init_loss, elapsed_s). Raises when it is another run's or does not fit
    (the objects may then be half-loaded: build them anew)."""
    if st.get("run_id") != cfg.run_id:
        raise ValueError(f"it holds run {st.get('run_id')!r}")
    step, losses, init_loss = st["step"], st["losses"], st["init_loss"]
    check_progress(step, losses, init_loss, cfg.steps)
    raw.load_state_dict(st["model"])
    opt.load_state_dict(st["opt"])
    optim.check_state(opt)
    batches.load_state_dict(st["batches"])
    return step, list(losses), init_loss, float(st["elapsed_s"])


def train(cfg: RunConfig, ckpt_path: str | None = None, quiet: bool = False,
          losses_out: dict | None = None) -> dict:
    """Train `cfg` to its token horizon (or divergence), evaluate, return the results row.

    With `ckpt_path`, resumes from it when it holds this run (same run_id) and saves
    every `cfg.ckpt_every` steps; resuming gives the same losses as an unbroken run. A
    checkpoint that cannot be resumed from, for any reason, is ignored with one line on
    stderr and the run trains from scratch.
    With `losses_out` (a dict), the training loss of every step is stored there under
    the run_id. With `cfg.curves_every` K, the validation loss is measured every K steps
    and the row carries the run's curve lines under `results.CURVE_KEY`
    (`loop.curve_rows`).
    """
    t0 = time.perf_counter()
    d, ds = loop.start(cfg)
    say = (lambda m: None) if (quiet or not d.main) else log
    cuda = d.device.type == "cuda"
    per_rank = cfg.batch_size // d.world
    micro = min(cfg.micro_batch_size or per_rank, per_rank)
    if per_rank % micro:
        raise ValueError(f"batch_size/processes = {per_rank} is not a multiple of "
                         f"micro_batch_size {micro}")
    n_steps = cfg.steps
    if cfg.steps * cfg.tokens_per_step != cfg.tokens:
        say(f"note: horizon {cfg.tokens} tokens rounded to {n_steps} steps x "
            f"{cfg.tokens_per_step} = {n_steps * cfg.tokens_per_step} tokens")

    raw, tbl, opt, batches = fresh(cfg, ds, d)
    n_params, n_params_total = raw.n_params()
    step, losses, init_loss, elapsed_s = 0, [], None, 0.0
    vals: dict[int, float] = {}  # validation losses of the curve, by step
    st = load_checkpoint(ckpt_path, d.device) if ckpt_path and os.path.exists(ckpt_path) \
        else None
    if st is not None:
        try:
            vals = curve_vals(st)
            step, losses, init_loss, elapsed_s = resume(st, cfg, raw, opt, batches)
            say(f"resumed {cfg.run_id} at step {step}/{n_steps}")
        except Exception as e:  # noqa: BLE001 - any bad checkpoint: train from scratch
            if d.main:
                ignore_checkpoint(ckpt_path, f"cannot resume {cfg.run_id} from it "
                                  f"({error_line(e)}); training from scratch")
            step, losses, init_loss, elapsed_s, vals = 0, [], None, 0.0, {}
            raw, tbl, opt, batches = fresh(cfg, ds, d)  # nothing half-loaded

    if cfg.compile:
        torch._dynamo.reset()  # a sweep compiles many shapes: do not hit the cache limit
    model = torch.compile(raw) if cfg.compile else raw
    if d.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        model = DDP(model, device_ids=[d.device.index] if cuda else None)

    start_step = step
    log_every = loop.log_every(cfg, n_steps)
    status, pending = "ok", None  # pending: (step, loss tensor) not yet checked
    t_train = time.perf_counter()
    model.train()

    def check(i: int, loss: HostScalar) -> bool:
        """Record the loss of step i; True if the run has diverged."""
        nonlocal init_loss
        v = loss.get()
        losses.append(v)
        if init_loss is None:
            init_loss = v
        if i % log_every == 0 or i == n_steps - 1:
            say(f"step {i + 1}/{n_steps} loss {v:.4f}")
        return loop.diverged(v, init_loss, cfg.diverge_factor)

    while step < n_steps:
        x, y = batches.next()  # (B/world, T) each
        factor = schedule.factor(cfg, step)
        loss = train_step(model, raw, opt, x, y, micro, cfg, d, factor)
        step += 1
        if pending is not None and check(*pending):
            status = "diverged"
            break
        pending = (step - 1, HostScalar(all_mean(loss, d)))
        if loop.curve_due(cfg, step - 1) and step < n_steps:
            vals[step - 1] = evaluate(raw, ds.val, cfg, d, micro)
        if cfg.eval_every and step % cfg.eval_every == 0 and step < n_steps:
            v = vals[step - 1] if step - 1 in vals else evaluate(raw, ds.val, cfg, d, micro)
            say(f"step {step}/{n_steps} val_loss {v:.4f}")
        if ckpt_path and cfg.ckpt_every and step % cfg.ckpt_every == 0 and step < n_steps:
            if check(*pending):
                status = "diverged"
                break
            pending = None
            if d.main:
                save_atomic(ckpt_path, {"run_id": cfg.run_id, "step": step,
                                        "model": raw.state_dict(), "opt": opt.state_dict(),
                                        "batches": batches.state_dict(),
                                        "losses": losses, "init_loss": init_loss,
                                        "curve_val": [[k, v] for k, v in vals.items()],
                                        "elapsed_s": elapsed_s + time.perf_counter() - t0})
    if status == "ok" and pending is not None and check(*pending):
        status = "diverged"
    if cuda:
        torch.cuda.synchronize()
    train_s = time.perf_counter() - t_train
    trained_tokens = (step - start_step) * cfg.tokens_per_step  # in this process

    val_loss = None
    if status == "ok":
        val_loss = evaluate(raw, ds.val, cfg, d, micro)
        say(f"val_loss {val_loss:.4f} after {n_steps} steps")
    else:
        say(f"diverged at step {len(losses)} (loss {losses[-1]:.4g}, first {init_loss:.4g})")
    if losses_out is not None:
        losses_out[cfg.run_id] = list(losses)
    row = loop.finished_row(
        cfg, tbl, losses, val_loss, n_params=n_params, n_params_total=n_params_total,
        wall_time_s=elapsed_s + time.perf_counter() - t0,
        tokens_per_s=trained_tokens / max(train_s, 1e-9),
        device=str(d.device) + (f" x{d.world}" if d.world > 1 else ""), data_name=ds.name)
    if cfg.curves_every:
        if val_loss is not None:
            vals[n_steps - 1] = val_loss
        row[results.CURVE_KEY] = loop.curve_rows(cfg, losses, vals)
    return row
