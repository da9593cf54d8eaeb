"""How long a sweep will take here: a short timing probe per batch shape (`--dry-run`).

For every batch the sweep would train (`sweep.plan`), one probe per shape times a few
optimizer steps of min(K, 8) models trained together (or one model on the one-by-one
path, `train.train_step`, where the sweep trains one by one) on this machine, after
warm-up steps; a batch then costs its runs' tokens (plus their evaluation tokens, at a
third of a training token's cost) over the probe's model-tokens per second, and the
batches are dealt to the workers longest first.
The estimate ignores other load on the machine and the speed-up of larger batches past 8.

`probe_ks` is the timing a CPU sweep decides its batching by (`sweep.cpu_batch_sizes`):
one model on the one-by-one path against K models together, alternated.
"""

from __future__ import annotations

import time

from .config import RunConfig

WARMUP_STEPS, TIMED_STEPS = 2, 4
EVAL_COST = 1 / 3  # a forward pass is about a third of a training step's work


def _batched_stepper(cfgs: list[RunConfig], k: int):
    """(step, model-tokens per step): one optimizer step of k models of the shape of
    `cfgs[0]` trained together (`batched_train`), each reading its own data stream."""
    import torch

    from . import batched_train as bt
    from . import data, runtime
    from .batched import BatchedGPT
    from .batched_optim import BatchedAdamW

    c0 = cfgs[0]
    cfgs = [c.replace(seed=i) for i, c in enumerate(cfgs[:1] * k)]
    dev = runtime.resolve_device(c0.device)
    ds = data.load(c0.data, c0.val_frac)
    model = BatchedGPT(cfgs, c0.vocab_size or ds.vocab_size, dev)
    opt = BatchedAdamW(model)
    streams = {c.seed: data.Batches(ds.train, c.seq_len, c.batch_size, seed=c.seed + 1)
               for c in cfgs}
    seeds = [c.seed for c in cfgs]
    factor = torch.full((k,), 0.1, device=dev)
    micro = min(c0.micro_batch_size or c0.batch_size, c0.batch_size)

    def step() -> None:
        x, y = bt._next_batches(streams, seeds)
        bt.train_step(model, opt, model.forward, x, y, micro, dev, c0.dtype, factor).sum().item()

    return step, k * c0.tokens_per_step


def _single_stepper(cfg: RunConfig):
    """(step, tokens per step): one optimizer step of one model on the path a run trained
    alone takes (`train.train_step` on its own GPT, as `--no-batch` and batches of one)."""
    from . import data, runtime, train

    d = runtime.Dist(0, 1, runtime.resolve_device(cfg.device))
    ds = data.load(cfg.data, cfg.val_frac)
    raw, _tbl, opt, batches = train.fresh(cfg, ds, d)
    micro = min(cfg.micro_batch_size or cfg.batch_size, cfg.batch_size)

    def step() -> None:
        x, y = batches.next()
        train.train_step(raw, raw, opt, x, y, micro, cfg, d, 0.1).item()

    return step, cfg.tokens_per_step


def _sync(device: str) -> None:
    import torch

    from . import runtime

    if runtime.resolve_device(device).type == "cuda":
        torch.cuda.synchronize()


def probe_rate(cfgs: list[RunConfig], batched: bool) -> float:
    """Model-tokens per second of one batch of `cfgs` (one shape) on their device:
    min(len(cfgs), 8) models trained together, or with `batched` False one model on the
    one-by-one path."""
    c0 = cfgs[0]
    step, tokens = (_batched_stepper(cfgs, min(len(cfgs), 8)) if batched
                    else _single_stepper(c0))
    t0 = 0.0
    for i in range(WARMUP_STEPS + TIMED_STEPS):
        if i == WARMUP_STEPS:
            _sync(c0.device)
            t0 = time.perf_counter()
        step()
    return TIMED_STEPS * tokens / (time.perf_counter() - t0)


def probe_ks(cfg: RunConfig, ks, rounds: int = 4, min_s: float = 0.1, steps: int = 2,
             warmup: int = WARMUP_STEPS) -> dict[int, float]:
    """{K: model-tokens per second} of the shape of `cfg` on its device, for K = 1 (one
    model on the one-by-one path) and each K > 1 (K models trained together). Every K's
    model is built and warmed up first (`warmup` steps); then each of `rounds` rounds
    times every K, in alternating order, over at least `steps` steps and `min_s`
    seconds, and a K's rate is its best round: other load on a busy machine only slows
    a round down, so the fastest one is the least disturbed. About a second per K for
    the widths of a small study."""
    steppers = {k: (_single_stepper(cfg) if k == 1 else _batched_stepper([cfg], k))
                for k in sorted(set(ks))}
    for step, _ in steppers.values():
        for _ in range(warmup):
            step()
    best = dict.fromkeys(steppers, 0.0)
    order = list(steppers)
    for r in range(rounds):
        for k in (order if r % 2 == 0 else order[::-1]):
            step, tok = steppers[k]
            _sync(cfg.device)
            n, t0 = 0, time.perf_counter()
            while n < steps or time.perf_counter() - t0 < min_s:
                step()
                n += 1
            best[k] = max(best[k], n * tok / max(time.perf_counter() - t0, 1e-9))
    return best


def estimate(todo: list[RunConfig], batches: list[list[int]], n_workers: int,
             batched: bool) -> tuple[float, list[str]]:
    """(seconds, one line per probed shape) for training `batches` of `todo`."""
    from .batched import batch_key

    rates: dict = {}
    lines = []
    costs = []
    for b in batches:
        cfgs = [todo[i] for i in b]
        key = (batch_key(cfgs[0]), batched and len(b) > 1)
        if key not in rates:
            rates[key] = probe_rate(cfgs, key[1])
            c = cfgs[0]
            lines.append(f"probe: {c.param} w={c.width} d={c.depth} bs={c.batch_size} "
                         f"{'batched x' + str(min(len(b), 8)) if key[1] else 'one model'}: "
                         f"{rates[key]:,.0f} tokens/s")
        work = sum(c.steps * c.tokens_per_step + EVAL_COST * c.eval_tokens for c in cfgs)
        costs.append(work / rates[key])
    loads = [0.0] * max(1, n_workers)
    for c in sorted(costs, reverse=True):  # longest first, to the least loaded worker
        loads[loads.index(min(loads))] += c
    return max(loads), lines
