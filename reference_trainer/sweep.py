"""Sweeps: expand a grid into runs, train the missing ones, append one row each.

Resumable by construction: a run is identified by `RunConfig.run_id`; runs whose id
is already in the CSV are skipped, rows are appended atomically (`results`), so a
sweep can be killed at any instant and restarted with the same command, losing at
most the runs in progress (and with ``--ckpt-dir``, not even those).

The sweep's process is the driver: it holds the sweep lock (`sweeplock`), claims each
batch before it starts it, and is the only writer of the results file; batches run in
a pool (`pools`: this process, or one worker process per device; `cluster`: Ray tasks
on any number of machines) that hands back each run's row or error. A run that fails
with an error gets no row; it is logged in ``<file>.failed`` (`results.FailureLog`).

Batching (default where it pays: always on GPUs; on CPUs where a short probe at the
start of the sweep measures it faster, `cpu_batch_sizes`, or as
$REFERENCE_TRAINER_CPU_BATCH says): the runs still to train that share a shape (`batched.batch_key`:
width, depth, data, batch size, ...; LRs, seeds, parameterizations and horizons may
differ) are trained together, up to `max_batch` at a time, by `batched_train`; each
still gets its own row, appended as soon as it finishes. ``batch=False`` trains them
one by one (`train.train`).
"""

from __future__ import annotations

import itertools
import os
import time
from collections import deque

from .config import RunConfig, config_fields
from .pools import ProcessPool, SerialPool
from .results import FailureLog, ResultsFile
from .runtime import log
from .sweeplock import Claims, SweepBusy, SweepLock
from .worker import StopSweep, ckpt_path

__all__ = ["ResultsFile", "StopSweep", "SweepBusy", "choose_k", "cpu_batch_sizes", "expand",
           "plan", "run"]

# axes iterate in this order (outermost first); other fields follow in field order
AXIS_ORDER = ("param", "tokens", "width", "depth")
INNER = ("seed", "lr")


def expand(spec: dict) -> list[RunConfig]:
    """{field: value or list of values} -> one RunConfig per grid point (deduplicated).

    ``tokens_per_param`` (value or list; instead of ``tokens``) sets each run's horizon
    to that many tokens per non-embedding parameter of its model, rounded to whole
    optimizer steps: a fixed tokens-per-parameter study across widths."""
    spec = dict(spec)
    tpp = spec.pop("tokens_per_param", None)
    if tpp is not None:
        if "tokens" in spec:
            raise ValueError("give tokens or tokens_per_param, not both")
        tpps = tpp if isinstance(tpp, list | tuple) else [tpp]
        if not all(isinstance(t, int | float) and t > 0 for t in tpps):
            raise ValueError(f"tokens_per_param must be positive numbers, got {tpp!r}")
        from .build import non_embedding_params

        runs, seen = [], set()
        for t in tpps:
            for cfg in expand(spec):
                steps = max(1, round(t * non_embedding_params(cfg) / cfg.tokens_per_step))
                cfg = cfg.replace(tokens=steps * cfg.tokens_per_step)
                if cfg.run_id not in seen:
                    seen.add(cfg.run_id)
                    runs.append(cfg)
        return runs
    names = [f.name for f in config_fields()]
    unknown = [k for k in spec if k not in names]
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(unknown)}; see --help")
    axes = {k: (v if isinstance(v, list | tuple) else [v]) for k, v in spec.items()}
    order = [k for k in AXIS_ORDER if k in axes]
    order += [k for k in names if k in axes and k not in order and k not in INNER]
    order += [k for k in INNER if k in axes]
    runs, seen = [], set()
    for values in itertools.product(*(axes[k] for k in order)):
        cfg = RunConfig(**dict(zip(order, values, strict=True)))
        if cfg.run_id not in seen:
            seen.add(cfg.run_id)
            runs.append(cfg)
    return runs


def resolve_devices(device: str, workers: int = 1) -> list[str]:
    """'auto' / 'cuda' -> every visible GPU (or cpu); 'cuda:0,cuda:1' as given;
    'cpu' -> `workers` CPU workers."""
    import torch

    if device in ("auto", "cuda"):
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            if device == "cuda":
                raise ValueError("--device cuda: no GPU is visible")
            return ["cpu"] * max(1, workers)
        return [f"cuda:{i}" for i in range(n)]
    devs = [d.strip() for d in device.split(",") if d.strip()]
    if devs == ["cpu"]:
        return ["cpu"] * max(1, workers)
    return devs


def describe(cfg: RunConfig) -> str:
    return (f"{cfg.param} w={cfg.width} d={cfg.depth} lr={cfg.lr:g} tokens={cfg.tokens} "
            f"seed={cfg.seed}")


def _outcome(row: dict) -> str:
    if row.get("status") == "ok":
        return (f"ok val_loss={float(row['val_loss']):.4f} ({row['wall_time_s']:.1f} s, "
                f"{row['tokens_per_s']:.0f} tok/s)")
    return f"diverged at step {row['steps']} ({row['wall_time_s']:.1f} s)"


# The old fixed rule, kept for REFERENCE_TRAINER_CPU_BATCH=width and for CPU sweeps on a
# Ray cluster (whose workers the driver cannot probe): batch CPU runs up to this width.
CPU_BATCH_MAX_WIDTH = 64

# Whether a CPU sweep given neither --batch nor --no-batch batches: "auto" (default)
# probes every batch shape at the start of the sweep (`cpu_batch_sizes`), "on" batches
# every shape, "off" trains every run alone, "width" batches up to CPU_BATCH_MAX_WIDTH.
CPU_BATCH_ENV = "REFERENCE_TRAINER_CPU_BATCH"
CPU_BATCH_MODES = ("auto", "on", "off", "width")
PROBE_KS = (1, 4, 16)  # models per batch the probe times (capped at the runs of a shape)
PROBE_MIN_GAIN = 1.10  # a larger K must be this much faster than the smaller one chosen

_probed: dict = {}  # (batch_key on cpu, threads) -> {K: model-tokens/s}, for this process


def cpu_batch_mode() -> str:
    mode = os.environ.get(CPU_BATCH_ENV, "auto").strip().lower() or "auto"
    if mode not in CPU_BATCH_MODES:
        raise ValueError(f"{CPU_BATCH_ENV}={mode!r}: use one of {', '.join(CPU_BATCH_MODES)}")
    return mode


def choose_k(rates: dict[int, float], min_gain: float = PROBE_MIN_GAIN) -> int:
    """The models per batch to train with, from measured {K: model-tokens/s}: the
    smallest K, replaced by each larger K (in increasing order) whose rate is at least
    `min_gain` times that of the K chosen so far. Ties and small gains keep the smaller
    batch (less memory, rows sooner, one path's numerics)."""
    if not rates:
        raise ValueError("no rates to choose from")
    ks = sorted(rates)
    best = ks[0]
    for k in ks[1:]:
        if rates[k] >= min_gain * rates[best]:
            best = k
    return best


def probe_ks_for(n_runs: int, max_batch: int) -> list[int]:
    """The K the probe times for a shape with `n_runs` runs to train: PROBE_KS capped
    at the runs and at `max_batch` ([] when there is nothing to choose)."""
    cap = min(n_runs, max(1, max_batch))
    return sorted({min(k, cap) for k in PROBE_KS}) if cap > 1 else []


def cpu_batch_sizes(todo: list[RunConfig], max_batch: int, probe=None) -> dict:
    """{batch_key: models per batch} for a CPU sweep of `todo`, by measurement: for each
    shape with more than one run, time one model against K models together
    (`probe_ks_for`; `estimate.probe_ks`, cached per shape for the process) and take
    `choose_k` of the rates; logs one line per shape. `probe(cfg, ks) -> {K: rate}`
    replaces the timing (tests)."""
    import torch

    from .batched import batch_key

    if probe is None:
        from .estimate import probe_ks as probe
    groups: dict = {}
    for cfg in todo:
        groups.setdefault(batch_key(cfg), []).append(cfg)
    sizes = {}
    for key, cfgs in groups.items():
        ks = probe_ks_for(len(cfgs), max_batch)
        if not ks:
            continue
        c = cfgs[0].replace(device="cpu")
        cache = _probed.setdefault((batch_key(c), torch.get_num_threads()), {})
        missing = [k for k in ks if k not in cache]
        if missing:
            cache.update(probe(c, missing))
        rates = {k: cache[k] for k in ks}
        sizes[key] = k = choose_k(rates)
        how = ", ".join(f"K={j} {r:,.0f}" for j, r in rates.items())
        log(f"cpu batch probe: {c.param} w={c.width} d={c.depth} bs={c.batch_size} "
            f"seq={c.seq_len} ({len(cfgs)} runs): model-tokens/s {how}"
            f"{'' if missing else ' (measured earlier)'} -> "
            f"{'one by one' if k == 1 else f'batches of up to {k}'}")
    return sizes


def plan(todo: list[RunConfig], max_batch: int, n_devices: int = 1,
         max_width: int | None = None, sizes: dict | None = None) -> list[list[int]]:
    """Indices of `todo` in batches: runs of one `batch_key`, in grid order, at most
    `max_batch` each (1: every run alone; so are runs wider than `max_width` when it is
    given; `sizes` {batch_key: n} caps a shape's batches at n, see `cpu_batch_sizes`);
    batches are split further while there are fewer than `n_devices`, so every device
    has work. WSD runs of one stable run (`RunConfig.stable_id`) are one batch whatever
    its size, never split: a branch family (`branches.train_family`)."""
    from .batched import batch_key

    groups: dict = {}
    for i, cfg in enumerate(todo):
        key = ("wsd family", cfg.stable_id) if cfg.schedule == "wsd" else batch_key(cfg)
        groups.setdefault(key, []).append(i)
    batches, family = [], []
    for key, g in groups.items():
        if key[0] == "wsd family":
            batches.append(g)
            family.append(True)
            continue
        wide = max_width is not None and todo[g[0]].width > max_width
        size = 1 if wide else max(1, max_batch)
        if sizes is not None and key in sizes:
            size = min(size, max(1, sizes[key]))
        cut = [g[j:j + size] for j in range(0, len(g), size)]
        batches += cut
        family += [False] * len(cut)
    while len(batches) < n_devices:
        big = max((b for b in range(len(batches)) if not family[b]),
                  key=lambda b: len(batches[b]), default=None)
        if big is None or len(batches[big]) < 2:
            break
        b = batches.pop(big)
        family.pop(big)
        batches[big:big] = [b[:len(b) // 2], b[len(b) // 2:]]
        family[big:big] = [False, False]
    return batches


def cpu_plan_args(todo: list[RunConfig], batch: bool | None, max_batch: int,
                  cpu_only: bool, can_probe: bool = True) -> tuple[int, int | None, dict | None]:
    """(max_batch, max_width, sizes) for `plan`: --batch / --no-batch as given; else on
    GPUs batches of up to `max_batch`, and on CPUs what `cpu_batch_mode` says (auto:
    `cpu_batch_sizes`, or the width rule where the sweep cannot probe its workers)."""
    if batch is False:
        return 1, None, None
    if batch is True or not cpu_only:
        return max_batch, None, None
    mode = cpu_batch_mode()
    if mode == "off":
        return 1, None, None
    if mode == "on":
        return max_batch, None, None
    if mode == "width" or not can_probe:
        return max_batch, CPU_BATCH_MAX_WIDTH, None
    return max_batch, None, cpu_batch_sizes([c for c in todo if c.schedule != "wsd"],
                                            max_batch)


class Driver:
    """The sweep's only writer: appends each finished run's row, removes its checkpoint,
    retries a run that raised (`retries` times) and then logs it as failed, counts, and
    reports progress on stderr."""

    def __init__(self, out: ResultsFile, todo: list[RunConfig], ckpt_dir, retries: int = 0):
        self.out, self.todo, self.ckpt_dir, self.retries = out, todo, ckpt_dir, retries
        self.failures = FailureLog(out)
        self.counts = {"ok": 0, "diverged": 0, "failed": 0, "elsewhere": 0}
        self.attempts: dict[int, int] = {}
        self.retry: list[int] = []  # runs to submit again
        self.running: set[int] = set()
        self.t0 = time.perf_counter()

    def _tag(self, where: str) -> str:
        c = self.counts
        ended = c["ok"] + c["diverged"] + c["failed"]
        left = len(self.todo) - ended - c["elsewhere"]
        eta = (time.perf_counter() - self.t0) / max(ended, 1) * left
        eta_s = f"{eta:.0f} s" if eta < 600 else f"{eta / 60:.0f} min"
        return (f"[{c['ok'] + c['diverged']}/{len(self.todo) - c['elsewhere']} done, "
                f"{len(self.running)} running, {c['failed']} failed, eta {eta_s}] {where}")

    def started(self, indices) -> None:
        self.running.update(indices)

    def elsewhere(self, i: int) -> None:
        """Run i has a row or a live claim of another sweep: not trained here."""
        self.counts["elsewhere"] += 1

    def on_run(self, i: int, row: dict | None, err: str | None, where: str) -> None:
        self.running.discard(i)
        cfg = self.todo[i]
        if err is None:
            try:
                self.out.append(row)
            except OSError as e:
                raise StopSweep(f"cannot write {self.out.path}: {e.strerror or e}; the sweep "
                                "stopped (rows of runs trained since are lost; they train "
                                "again when it is resumed)") from e
            if self.ckpt_dir:
                ckpt_path(self.ckpt_dir, cfg.run_id).unlink(missing_ok=True)
            self.counts[row["status"]] += 1
            log(f"{self._tag(where)} {cfg.run_id} {describe(cfg)} -> {_outcome(row)}")
            return
        n = self.attempts[i] = self.attempts.get(i, 0) + 1
        last = err.strip().splitlines()[-1] if err.strip() else "error"
        if n <= self.retries:
            self.retry.append(i)
            log(f"{self._tag(where)} {cfg.run_id} {describe(cfg)} raised ({last}); "
                f"trying it again (attempt {n + 1} of {self.retries + 1})")
            return
        try:
            self.failures.record(cfg, err, attempts=n)
        except OSError as e:
            raise StopSweep(f"cannot write {self.failures.path}: {e.strerror or e}; the "
                            "sweep stopped") from e
        self.counts["failed"] += 1
        log(f"{self._tag(where)} {cfg.run_id} {describe(cfg)} FAILED (no row written, "
            f"logged in {self.failures.path}; retried on resume):\n{err}")

    def batch_ended(self) -> None:
        if self.ckpt_dir:
            from .batched_train import remove_finished_checkpoints

            remove_finished_checkpoints(self.ckpt_dir, self.out.run_ids())


def drive(pool, batches: list[list[int]], todo: list[RunConfig], claims: Claims,
          driver: Driver) -> int:
    """Keep `pool` full: claim each batch of `batches` (indices of `todo`) just before
    it starts, hand every outcome to `driver`, and submit runs to retry again. Returns
    the number of runs never started (the pool lost every worker)."""
    pending, inflight, tokens = deque(batches), {}, itertools.count()
    while pending or inflight:
        while pending and len(inflight) < pool.slots():
            b = pending.popleft()
            mine = set(claims.take([todo[i].run_id for i in b]))
            for i in b:
                if todo[i].run_id not in mine:
                    driver.elsewhere(i)
            b = [i for i in b if todo[i].run_id in mine]
            if b:
                inflight[t := next(tokens)] = b
                driver.started(b)
                pool.submit(t, [(i, todo[i]) for i in b])
        if not inflight:
            break  # nothing running and no slot left: every worker is gone
        for t in pool.wait(driver.on_run):
            inflight.pop(t)
            driver.batch_ended()
        if driver.retry:
            pending.appendleft(driver.retry)
            driver.retry = []
    return sum(len(b) for b in pending)


def run(runs: list[RunConfig], out_path, devices: list[str], ckpt_dir=None,
        verbose: bool = False, batch: bool | None = None, max_batch: int = 16,
        share: bool = False, ray: str | None = None) -> dict:
    """Train every run of `runs` not yet in `out_path`, runs of one shape together in
    batches of up to `max_batch`: always with `batch` True, never with False, and with
    None (default) where it pays: on GPUs always, on CPUs as `cpu_plan_args` decides (a
    probe per shape, `cpu_batch_sizes`). Local `devices` (`resolve_devices`), or with `ray` (an
    address: auto, local, host:port) tasks on a Ray cluster, `devices[0]` saying which
    kind (auto, cpu, cuda). Raises `SweepBusy` when another sweep writes `out_path` and
    `share` is False, `StopSweep` when the file cannot be written. Returns counts
    {"total", "skipped", "ok", "diverged", "failed", "elsewhere"}; progress on stderr."""
    from .results import git_rev
    from .runtime import remove_stale_tmp

    rev = git_rev()  # cached: rows name the code that started, even if the tree changes
    out = ResultsFile(out_path)
    with SweepLock(out, share=share) as lock:
        fixed = out.repair()
        if fixed:
            log(f"{out_path}: {fixed} (a writer was killed mid-write)")
        if ckpt_dir:
            gone = remove_stale_tmp(ckpt_dir)
            if gone:
                log(f"removed {len(gone)} temporary file(s) of killed checkpoint saves")
        have = out.run_ids()
        todo = [c for c in runs if c.run_id not in have]
        driver = Driver(out, todo, ckpt_dir, retries=1 if ray is not None else 0)
        if not todo:
            log(f"sweep: {len(runs)} runs, all already in {out_path}")
            return {"total": len(runs), "skipped": len(runs), **driver.counts}
        pool = None
        try:
            if ray is not None:
                from .cluster import RayPool

                pool = RayPool(ray, devices[0], ckpt_dir, verbose, rev)
                n_slots, cpu_only, where = pool.slots(), pool.device == "cpu", pool.describe()
            else:
                n_slots, cpu_only = len(devices), all(d == "cpu" for d in devices)
                where = ", ".join(f"{n}x {d}" for d, n in _count(devices).items())
            size, max_width, sizes = cpu_plan_args(todo, batch, max_batch, cpu_only,
                                                   can_probe=ray is None)
            batches = plan(todo, size, n_slots, max_width, sizes)
            if ray is None:
                pool = (SerialPool(devices[0], ckpt_dir, verbose)
                        if len(devices) == 1 or len(batches) <= 1
                        else ProcessPool(devices, ckpt_dir, verbose, rev))
            how = ""
            if batch is not False and len(batches) < len(todo):
                how = (f" in {len(batches)} batch{'es' if len(batches) > 1 else ''} of up to "
                       f"{max(map(len, batches))}")
            others = "" if lock.alone else " (sharing it with another sweep)"
            log(f"sweep: {len(runs)} runs, {len(runs) - len(todo)} already in {out_path}"
                f"{others}, {len(todo)} to train on {where}{how}")
            lost = drive(pool, batches, todo, Claims(out), driver)
        finally:
            if pool is not None:
                pool.close()
    if lost:
        log(f"{lost} runs not started: no worker is left")
    return {"total": len(runs), "skipped": len(runs) - len(todo), **driver.counts,
            "failed": driver.counts["failed"] + lost}


def _count(items) -> dict:
    c: dict = {}
    for x in items:
        c[x] = c.get(x, 0) + 1
    return c
