"""The seeded resampling plan shared by every estimator.

Runs are resampled with replacement *within each group* (seeds and LR points alike).
Resample ``b`` of a group of ``n_g`` finite runs draws ``n_g`` uniforms ``u`` and takes
runs ``floor(u * n_g)`` in the group's canonical order (see ``sweeps.Sweeps``). Every
group draws from its own stream, seeded by the seed and a hash of the group's canonical
content (``Sweeps.stream``), so a group's resamples depend on nothing else: not on row
order, the LR unit, diverged rows, labels, or which other groups the table holds. Draws
are made in blocks of resamples; the blocks concatenate to the same stream as one draw.

A sweep whose quadratic fit has at most one residual degree of freedom (3 or 4 runs in
its window, ``THIN_WINDOW``) carries almost no information about its own noise: with 3
runs every complete resample reproduces it exactly, with 4 most resamples pass a parabola
exactly through 3 of them (a fixed grid of 4 LRs, one run each, covered the true optimum
in 60% of 320 sweeps at 95%). Such groups get a parametric resample instead: each run
keeps its LR and its loss is perturbed by normal noise of the pooled residual s.d. of the
sweeps of its group (``noise_sd``).

Runs that are not independent across sweeps (``Sweeps.run_cluster``: WSD branches of one
stable run, one per horizon) are resampled as clusters instead (`cluster_sum_blocks`):
sweeps linked by shared clusters form a component; each resample draws as many clusters
as the component holds, with replacement, and every drawn cluster brings all its runs, in
every sweep of the component (a run's weight is its cluster's draw count).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator

import numpy as np

from .optimum import BAD_FIT, SweepFit, fit_levels
from .resamples import BootSweeps, level_dtype  # BootSweeps: imported from here too
from .sweeps import Sweeps

# A window of at most this many runs (at most one residual degree of freedom) gets the
# parametric resample: resampling so few runs cannot show their noise.
THIN_WINDOW = 4
# Upper bound on resample x run draws held in memory at once.
_BLOCK_DRAWS = 500_000
# ... and at most this many resamples per block, so progress reports move.
_BLOCK_RESAMPLES = 50
# Uniforms drawn at once (one call per group for a chunk of blocks).
_CHUNK_DRAWS = 2_000_000


def level_sum_blocks(
    sw: Sweeps, n_boot: int, seed: int, noise_sd: np.ndarray | None = None,
    squares: bool = True, levels_first: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """Yield (n, s, q) per-level sums of blocks of resamples, each (b, G, J), or with
    ``levels_first`` (J, b, G) (``core.optimum.fit_levels``; the same sums).

    noise_sd: (G,) s.d. of the parametric resample of each group; NaN or 0 = resample runs.
    squares: also sum squared losses (``q``; None otherwise).
    """
    if sw.run_cluster is not None:
        yield from cluster_sum_blocks(sw, n_boot, seed, noise_sd, squares, levels_first)
        return
    G, J = sw.x.shape
    R = len(sw.run_group)
    if R == 0:
        for _ in range(n_boot):
            z = np.zeros((J, 1, G) if levels_first else (1, G, J))
            yield z, z, z
        return
    # Position p in the canonical array belongs to group run_group[p]; its draw picks a
    # run of the same group.
    start = sw.group_start[sw.run_group]
    size = sw.group_size[sw.run_group]
    key = sw.run_group * J + sw.run_level
    sd = np.zeros(G) if noise_sd is None else np.nan_to_num(np.asarray(noise_sd, float))
    run_sd = sd[sw.run_group]
    parametric = run_sd > 0
    block = max(1, min(n_boot, _BLOCK_RESAMPLES, _BLOCK_DRAWS // R))
    slices = [(g, int(sw.group_start[g]), int(sw.group_size[g])) for g in range(G)
              if sw.group_size[g]]
    u_gen = {g: group_rng(sw, seed, g) for g, _, _ in slices}
    z_gen = {g: group_rng(sw, seed, g, 1) for g, _, _ in slices if sd[g] > 0}
    # Uniforms (and normals) are drawn a chunk of resamples at a time, one call per group,
    # then used block by block (a group's stream is the same whatever the chunking).
    chunk = max(block, min(n_boot, _CHUNK_DRAWS // R))
    done = 0
    while done < n_boot:
        c = min(chunk, n_boot - done)
        u_all = np.empty((c, R))
        for g, a, m in slices:
            u_all[:, a:a + m] = u_gen[g].random((c, m))
        z_all = None
        if parametric.any():
            z_all = np.zeros((c, R))
            for g, a, m in slices:
                if g in z_gen:
                    z_all[:, a:a + m] = z_gen[g].standard_normal((c, m))
        for lo in range(0, c, block):
            b = min(block, c - lo)
            yield _sums(sw, u_all[lo:lo + b], None if z_all is None else z_all[lo:lo + b],
                        start, size, key, run_sd, parametric, squares, levels_first)
        done += c


def _sums(sw, u, z, start, size, key, run_sd, parametric, squares, levels_first=False):
    """Per-level sums (n, s, q) of a block of resamples from its uniforms (and normals),
    (b, G, J) or, ``levels_first``, (J, b, G): only the bins' order differs, each bin adds
    its runs in the same order."""
    G, J = sw.x.shape
    b, R = u.shape
    idx = start + (u * size).astype(np.int64)  # (b, R) resampled run positions
    if z is not None:
        idx = np.where(parametric, np.arange(R), idx)
        loss = (sw.run_loss[idx] + z * run_sd).ravel()
    else:
        loss = sw.run_loss[idx].ravel()
    if levels_first:  # a drawn run belongs to the group of the position it fills
        flat = (sw.run_level[idx] * (b * G) + (np.arange(b)[:, None] * G
                                                + sw.run_group)).ravel()
        shape = (J, b, G)
    else:
        flat = (np.arange(b)[:, None] * (G * J) + key[idx]).ravel()
        shape = (b, G, J)
    n = np.bincount(flat, minlength=b * G * J).reshape(shape).astype(float)
    s = np.bincount(flat, weights=loss, minlength=b * G * J).reshape(shape)
    q = (np.bincount(flat, weights=loss * loss, minlength=b * G * J).reshape(shape)
         if squares else None)
    return n, s, q


def cluster_components(sw: Sweeps, resampled: np.ndarray) -> tuple[np.ndarray, list]:
    """(unit (R,) index of each run's cluster among the resampled runs, -1 for the others;
    components: [(first group in draw order, unit indices)]): sweeps joined by a shared
    cluster are one component; clusters are numbered in canonical run order."""
    G = sw.n_groups
    idx = np.flatnonzero(resampled)
    _, first, inv = np.unique(sw.run_cluster[idx], return_index=True, return_inverse=True)
    rank = np.empty(first.size, np.int64)  # clusters numbered by their first canonical run
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    unit = np.full(len(sw.run_group), -1, np.int64)
    unit[idx] = rank[inv.ravel()]
    parent = np.arange(G)

    def root(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    first_group = {}
    for p in np.flatnonzero(resampled):
        u, g = int(unit[p]), int(sw.run_group[p])
        if u in first_group:
            a, b = root(first_group[u]), root(g)
            if a != b:
                parent[max(a, b)] = min(a, b)
        else:
            first_group[u] = g
    rank_g = np.empty(G, np.int64)
    rank_g[np.asarray(sw.rng_order)] = np.arange(G)
    comps: dict = {}
    for u in sorted(first_group):
        comps.setdefault(root(first_group[u]), []).append(u)
    out = []
    for members in comps.values():
        groups = {int(sw.run_group[p]) for p in np.flatnonzero(np.isin(unit, members))}
        out.append((min(groups, key=lambda g: rank_g[g]), np.array(members, np.int64)))
    out.sort(key=lambda c: rank_g[c[0]])
    return unit, out


def cluster_sum_blocks(sw: Sweeps, n_boot: int, seed: int, noise_sd=None,
                       squares: bool = True, levels_first: bool = False):
    """`level_sum_blocks` for runs resampled as clusters (module doc): per component, its
    own stream (``group_rng`` of its first sweep in draw order, purpose 3) draws as many
    clusters as it holds; a run's weight is its cluster's count. Sweeps with a parametric
    resample (``noise_sd``) keep every run once, its loss perturbed as there."""
    G, J = sw.x.shape
    R = len(sw.run_group)
    sd = np.zeros(G) if noise_sd is None else np.nan_to_num(np.asarray(noise_sd, float))
    run_sd = sd[sw.run_group]
    parametric = run_sd > 0
    unit, comps = cluster_components(sw, ~parametric)
    n_units = int(unit.max()) + 1 if (unit >= 0).any() else 0
    u_gen = {g: group_rng(sw, seed, g, 3) for g, _ in comps}
    z_gen = {g: group_rng(sw, seed, g, 1) for g in range(G) if sd[g] > 0 and sw.group_size[g]}
    key = sw.run_group * J + sw.run_level
    block = max(1, min(n_boot, _BLOCK_RESAMPLES, _BLOCK_DRAWS // max(R, 1)))
    done = 0
    while done < n_boot:
        b = min(block, n_boot - done)
        counts = np.zeros((b, n_units + 1))  # the last column: runs not resampled
        for g, members in comps:
            pick = members[(u_gen[g].random((b, members.size)) * members.size).astype(np.int64)]
            counts[:, :n_units] += np.apply_along_axis(np.bincount, 1, pick,
                                                       minlength=n_units)
        counts[:, n_units] = 1.0
        w = counts[:, np.where(unit >= 0, unit, n_units)]  # (b, R) weight of every run
        loss = np.broadcast_to(sw.run_loss, (b, R)).copy()
        for g, gen in z_gen.items():
            a, m = int(sw.group_start[g]), int(sw.group_size[g])
            loss[:, a:a + m] += gen.standard_normal((b, m)) * sd[g]
        if levels_first:
            flat = (sw.run_level * (b * G) + (np.arange(b)[:, None] * G + sw.run_group)).ravel()
            shape = (J, b, G)
        else:
            flat = (np.arange(b)[:, None] * (G * J) + key).ravel()
            shape = (b, G, J)
        w, loss = w.ravel(), loss.ravel()
        n = np.bincount(flat, weights=w, minlength=b * G * J).reshape(shape)
        s_ = np.bincount(flat, weights=w * loss, minlength=b * G * J).reshape(shape)
        q = (np.bincount(flat, weights=w * loss * loss, minlength=b * G * J).reshape(shape)
             if squares else None)
        yield n, s_, q
        done += b


def group_rng(sw: Sweeps, seed: int, g: int, purpose: int = 0) -> np.random.Generator:
    """Group ``g``'s own random stream (``purpose`` 0: run draws, 1: parametric noise, 2:
    bracket draws), keyed by the seed and the group's canonical content."""
    key = [int(w) for w in sw.stream[g]] if sw.stream is not None else [int(g)]
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *key,
                                                        purpose]))


def pooled_noise_sd(fit: SweepFit, members: np.ndarray | None = None) -> tuple[float, int]:
    """Pooled residual s.d. of the quadratic fits with residual degrees of freedom among
    ``members`` (bool (G,), default all), and how many sweeps it pools: (NaN, 0) if none.

    Sweeps whose parabola fails a ``bad_fit`` rule are left out: their residuals measure
    the misfit, not the noise.
    """
    df = fit.n_window - 3
    use = (df > 0) & np.isfinite(fit.rmse) & (fit.status != BAD_FIT)
    if members is not None:
        use &= np.asarray(members, bool)
    if not use.any():
        return float("nan"), 0
    sse = (fit.rmse[use] ** 2 * fit.n_window[use]).sum()
    return float(np.sqrt(sse / df[use].sum())), int(use.sum())


def bootstrap_sweeps(
    sw: Sweeps, n_boot: int, seed: int, window: int,
    progress: Callable[[int, int], None] | None = None,
    noise_sd: np.ndarray | None = None,
) -> BootSweeps:
    """Re-estimate every sweep on ``n_boot`` resamples (``noise_sd``: see level_sum_blocks).

    Each resample goes through the same estimator (best level, window, quadratic) and
    contributes its vertex whenever its parabola is convex: also when the vertex lies
    outside its window or the tried LRs (kept, so that the interval shows it: the
    optimum's interval is then open-ended, and laws clamp it to the tried LRs), when the
    best level moved to the end of the grid, or when its misfit is larger than the point
    fit's (dropping such resamples would narrow the interval). Which sweeps have an
    optimum at all is the point fit's status, never a resample's.
    """
    G, J = sw.x.shape
    # The draws go straight into their (B, G) arrays, block by block (no list of blocks
    # and no concatenated copy: at 50,000 sweeps each array is 400 MB); the best LRs as
    # level indices (one or two bytes each instead of eight).
    out = {k: np.empty((n_boot, G)) for k in ("x_opt", "loss_opt", "curvature")}
    best = np.empty((n_boot, G), level_dtype(J))
    parts = _group_parts(sw)
    done = 0
    for i, (part, cols) in enumerate(parts):
        done = 0
        x = part.x.T[:, None, :]  # (J, 1, G'): level first, as the sums
        sd = None if noise_sd is None else np.asarray(noise_sd)[cols]
        for n, s, _ in level_sum_blocks(part, n_boot, seed, sd, squares=False,
                                        levels_first=True):
            f: SweepFit = fit_levels(np.broadcast_to(x, n.shape), n, s, None,
                                     window=window, rules=False)
            del n, s
            b = slice(done, done + f.x_opt.shape[0])
            valid = np.isfinite(f.x_opt)
            for k, v in (("x_opt", f.x_opt), ("loss_opt", f.loss_opt),
                         ("curvature", f.curvature)):
                out[k][b, cols] = np.where(valid, v, np.nan)
            best[b, cols] = f.best_level
            done = b.stop
            del f, valid
            if progress is not None:
                progress(i * n_boot + done, len(parts) * n_boot)
    return BootSweeps(**{k: v[:done] for k, v in out.items()}, best_level=best[:done],
                      levels=sw.x)


# Groups are resampled in parts of at most about this many runs (whole groups, in their
# draw order): each group draws from its own stream and every sweep's fit is its own, so
# the parts give the numbers of one pass; without them a million runs drew 2 resamples per
# call to each group's generator (the uniforms held at once are bounded), and the calls
# grew with the square of the table.
_PART_RUNS = 50_000


def _group_parts(sw: Sweeps) -> list[tuple[Sweeps, slice | np.ndarray]]:
    """(the sweeps of a part, their columns in ``sw``): one part (``sw`` itself) up to
    ``_PART_RUNS`` runs (or without ``stream``); above, consecutive groups in draw order up
    to that many runs (a group larger than that is a part of its own)."""
    R = len(sw.run_group)
    if R <= _PART_RUNS or sw.stream is None or sw.run_cluster is not None:
        # without streams, a group's key is its index; clusters span groups
        return [(sw, slice(None))]
    order = np.asarray(sw.rng_order)
    ends = np.cumsum(sw.group_size[order])
    cuts = np.searchsorted(ends, np.arange(_PART_RUNS, ends[-1], _PART_RUNS), side="right")
    parts = []
    for r0, r1 in zip(np.r_[0, cuts], np.r_[cuts, len(order)]):
        if r1 > r0:
            parts.append(sub_sweeps(sw, order[r0:r1]))
    return parts


def sub_sweeps(sw: Sweeps, gids) -> tuple[Sweeps, np.ndarray]:
    """The groups ``gids`` (indices, any order) as a Sweeps of their own, group ``i`` being
    ``gids[i]``, and ``gids``: their runs in the same canonical order (by draw rank, then
    level, then loss) and their own streams, so each draws and fits what it does in ``sw``.
    """
    gids = np.asarray(gids, np.int64)
    rank = np.empty(sw.n_groups, np.int64)
    rank[np.asarray(sw.rng_order)] = np.arange(sw.n_groups)
    order = np.argsort(rank[gids], kind="stable")  # local groups in draw order
    sizes = sw.group_size[gids]
    starts = sw.group_start[gids[order]]
    n = sizes[order]
    ends = np.cumsum(n)
    pos = np.repeat(starts - (ends - n), n) + np.arange(int(ends[-1]) if len(n) else 0)
    group_start = np.empty(len(gids), np.int64)
    group_start[order] = ends - n
    part = Sweeps(x=sw.x[gids], run_group=np.repeat(order, n), run_level=sw.run_level[pos],
                  run_loss=sw.run_loss[pos], group_start=group_start, group_size=sizes,
                  rng_order=order, x_div=None if sw.x_div is None else sw.x_div[gids],
                  stream=None if sw.stream is None else sw.stream[gids],
                  run_cluster=None if sw.run_cluster is None else sw.run_cluster[pos])
    return part, gids


_CI_COLUMNS = 4096  # columns of samples sorted at a time (a sorted copy of 50,000 sweeps'
# resamples would be 400 MB)


def percentile_ci(samples: np.ndarray, level: float = 0.95, axis: int = 0) -> np.ndarray:
    """Percentile interval of ``samples`` along ``axis`` ignoring NaN/inf: shape (2, ...).

    Linear interpolation between order statistics (numpy's default method); NaN where
    fewer than 2 finite samples exist.
    """
    a = np.moveaxis(np.asarray(samples, dtype=float), axis, 0)
    if a.ndim >= 2 and len(a) and a[0].size > _CI_COLUMNS:  # blocks: each column as alone
        flat = a.reshape(a.shape[0], -1)
        out = np.empty((2, flat.shape[1]))
        for c in range(0, flat.shape[1], _CI_COLUMNS):
            out[:, c:c + _CI_COLUMNS] = percentile_ci(flat[:, c:c + _CI_COLUMNS], level)
        return out.reshape((2, *a.shape[1:]))
    a = np.where(np.isfinite(a), a, np.nan)
    srt = np.sort(a, axis=0)  # NaN sorts last
    n = np.isfinite(srt).sum(0)
    out = np.full((2, *a.shape[1:]), np.nan)
    if a.shape[0] == 0:
        return out
    alpha = (1.0 - level) / 2.0
    for i, q in enumerate((alpha, 1.0 - alpha)):
        pos = q * np.maximum(n - 1, 0)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
        frac = pos - lo
        vlo = np.take_along_axis(srt, lo[None], 0)[0]
        vhi = np.take_along_axis(srt, hi[None], 0)[0]
        out[i] = np.where(n >= 2, vlo + frac * (vhi - vlo), np.nan)
    return out


def bracket_draws(lo: np.ndarray, hi: np.ndarray, n_boot: int, seed: int,
                  sw: Sweeps | None = None, cols: np.ndarray | None = None) -> np.ndarray:
    """Draws (n_boot, G) uniform in [lo, hi] (ln lr) where both are finite, NaN elsewhere;
    with ``cols`` (indices), only those columns: (n_boot, len(cols)), the same draws.

    A ``div_bracketed`` sweep says only that its optimum lies between a finite lower LR
    and a diverged higher one; a law that includes it draws its optimum over that bracket
    in every resample, from its own stream (``group_rng``, purpose 2; ``sw`` None: keyed
    by the sweep's index).
    """
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    cols = np.arange(lo.size) if cols is None else np.asarray(cols, np.int64)
    lo, hi = lo[cols], hi[cols]
    u = np.full((n_boot, cols.size), np.nan)
    for i in np.flatnonzero(np.isfinite(lo) & np.isfinite(hi)):
        g = int(cols[i])
        gen = (group_rng(sw, seed, g, 2) if sw is not None
               else np.random.default_rng([int(seed) & 0xFFFFFFFF, int(g), 2]))
        u[:, i] = gen.random(n_boot)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(lo) & np.isfinite(hi), lo + u * (hi - lo), np.nan)


def tried_range(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x_min, x_max) (G,): the lowest and highest level each sweep of ``x`` (G, J) tried
    (NaN-padded; NaN for a sweep with no level)."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmin(x, axis=1), np.nanmax(x, axis=1)


def censored_interval(ci: np.ndarray, x_min: np.ndarray, x_max: np.ndarray):
    """An interval of ln lr (2, G) cut at the tried LRs [x_min, x_max] (G,).

    A bound beyond the tried LRs says only that the resampled optima run off the grid:
    it becomes NaN (open-ended) and ``open`` (G,) says which end: "low", "high", "both"
    or "" (closed).
    """
    lo_open = ci[0] < x_min
    hi_open = ci[1] > x_max
    out = np.stack([np.where(lo_open, np.nan, ci[0]), np.where(hi_open, np.nan, ci[1])])
    open_ = np.where(lo_open & hi_open, "both", np.where(lo_open, "low",
                                                          np.where(hi_open, "high", "")))
    return out, open_
