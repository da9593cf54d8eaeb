"""Synthetic LR sweeps from known laws: ground truth for tests, benchmarks and examples.

Each run's loss is ``L*(s, d) + k(s) * (ln lr - ln lr*(s, d))^2 + noise`` with
``lr* = C * s^a * d^b``, ``k(s) = k0 * (s / s0)^kappa`` and
``L*(s, d) = (L_inf + A * s^alpha_s + B * d^alpha_d) * (1 + R_inf + R_r * (s / s0)^R_rho)``
(the last factor, 1 by default, makes a known loss ratio to another parameterization).
``q`` (default 0) bends the LR law in log-log space: ``lr*`` is multiplied by
``exp(q * ln(s / s0)^2)``.
Each sweep's optimum can be scattered around its law by ``lr_scatter`` (s.d. in ln lr;
the true optimum is written in column ``lr_true``). Runs more than
``diverge_above`` (in ln lr) above the optimum diverge (loss NaN).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class TrueLaw:
    """Parameters of a synthetic parameterization (exponents signed as in the formulas)."""

    C: float = 0.02
    a: float = -0.3
    b: float = -0.2
    k0: float = 0.05
    kappa: float = 0.0
    s0: float = 1e8
    L_inf: float = 2.0
    A: float = 40.0
    alpha_s: float = -0.3
    B: float = 0.0
    alpha_d: float = -0.3
    R_inf: float = 0.0
    R_r: float = 0.0
    R_rho: float = -0.5
    q: float = 0.0

    def lr_opt(self, s, d):
        s = np.asarray(s, float)
        bend = np.exp(self.q * np.log(s / self.s0) ** 2) if self.q else 1.0
        return self.C * s ** self.a * np.asarray(d, float) ** self.b * bend

    def curvature(self, s):
        return self.k0 * (np.asarray(s, float) / self.s0) ** self.kappa

    def loss_opt(self, s, d):
        s, d = np.asarray(s, float), np.asarray(d, float)
        base = self.L_inf + self.A * s**self.alpha_s + self.B * d**self.alpha_d
        return base * (1 + self.R_inf + self.R_r * (s / self.s0) ** self.R_rho)


def make_sweeps(
    scales=(1e7, 3e7, 1e8, 3e8, 1e9),
    horizons=(1e9, 4e9, 1.6e10),
    n_lrs: int = 9,
    lr_step: float = 2.0,
    seeds: int = 2,
    noise: float = 0.005,
    law: TrueLaw | None = None,
    groups: dict[str, TrueLaw] | None = None,
    group_column: str = "parameterization",
    diverge_above: float = np.inf,
    tokens_per_param: float | None = None,
    lr_scatter: float = 0.0,
    seed: int = 0,
) -> pd.DataFrame:
    """A table with columns scale, horizon, lr, loss, seed (and ``group_column``).

    The LR grid of each sweep is ``n_lrs`` points spaced by ``lr_step`` whose centre is
    the true optimum times a random offset of at most half a step, so the optimum is
    bracketed but never exactly on a grid point. ``noise`` is the loss noise s.d.
    With ``tokens_per_param`` the horizon of each scale is that multiple of the scale
    (``horizons`` is ignored).
    """
    rng = np.random.default_rng(seed)
    groups = groups or {None: law or TrueLaw()}
    frames = []
    for label, tl in groups.items():
        for s in scales:
            for d in ([tokens_per_param * s] if tokens_per_param else horizons):
                x_star = np.log(tl.lr_opt(s, d)) + rng.normal(0.0, lr_scatter)
                centre = x_star + rng.uniform(-0.5, 0.5) * np.log(lr_step)
                x = centre + (np.arange(n_lrs) - (n_lrs - 1) / 2) * np.log(lr_step)
                xs = np.repeat(x, seeds)
                loss = (tl.loss_opt(s, d) + tl.curvature(s) * (xs - x_star) ** 2
                        + rng.normal(0.0, noise, xs.size))
                loss[xs - x_star > diverge_above] = np.nan
                frame = pd.DataFrame({"scale": s, "horizon": d, "lr": np.exp(xs), "loss": loss,
                                      "seed": np.tile(np.arange(seeds), n_lrs),
                                      "lr_true": np.exp(x_star)})
                if label is not None:
                    frame.insert(0, group_column, label)
                frames.append(frame)
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------- IsoFLOP profiles

CHINCHILLA_TRUTH = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


def make_isoflop(
    budgets=(1e18, 3e18, 1e19, 3e19, 1e20, 3e20),
    law: dict | None = None,
    n_points: int = 9,
    step: float = 0.35,
    noise: float = 0.005,
    seeds: int = 1,
    reps: int = 1,
    seed: int = 0,
) -> pd.DataFrame:
    """IsoFLOP profiles from a known Chinchilla law ``L = E + A N^-alpha + B D^-beta``.

    Per budget C (and replication), ``n_points`` model sizes spaced by ``step`` in ln N
    around the true optimum ``N* = G (C/6)^a`` (the grid's centre offset by a random
    fraction of at most half a step, so the optimum is bracketed but not on the grid);
    D = C / (6 N); loss = the law plus normal noise of s.d. ``noise``; ``seeds`` runs per
    point. Columns: ``flops``, ``N``, ``D``, ``loss``, ``seed``, ``N_true`` (the true
    optimum of the budget) and, with ``reps`` > 1, ``rep`` (independent replications, for
    coverage studies). The true exponent is ``a = beta / (alpha + beta)``.
    """
    p = dict(CHINCHILLA_TRUTH if law is None else law)
    rng = np.random.default_rng(seed)
    s = p["alpha"] + p["beta"]
    ln_g = (np.log(p["alpha"] * p["A"]) - np.log(p["beta"] * p["B"])) / s
    frames = []
    for r in range(reps):
        for c in budgets:
            ln_star = ln_g + p["beta"] / s * np.log(c / 6.0)
            centre = ln_star + rng.uniform(-0.5, 0.5) * step
            x = np.repeat(centre + (np.arange(n_points) - (n_points - 1) / 2) * step, seeds)
            n = np.exp(x)
            d = c / (6.0 * n)
            loss = (p["E"] + p["A"] * n ** -p["alpha"] + p["B"] * d ** -p["beta"]
                    + rng.normal(0.0, noise, x.size))
            frame = pd.DataFrame({"flops": c, "N": n, "D": d, "loss": loss,
                                  "seed": np.tile(np.arange(seeds), n_points),
                                  "N_true": np.exp(ln_star)})
            if reps > 1:
                frame.insert(0, "rep", r)
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------- LR x batch-size grids


@dataclass(frozen=True)
class JointTruth:
    """Known laws of a synthetic LR x batch-size grid (exponents signed as in the formulas):
    ``lr* = C_lr s^a_lr d^b_lr``, ``bs* = C_bs s^a_bs d^b_bs`` and a tilted quadratic valley
    ``L = L*(s, d) + k_lr dx^2 + 2 k_lr_bs dx dy + k_bs dy^2`` (dx, dy: errors in ln lr and
    ln bs; k_lr k_bs > k_lr_bs^2)."""

    C_lr: float = 2.0
    a_lr: float = -0.7
    b_lr: float = 0.3
    C_bs: float = 0.01
    a_bs: float = -0.3
    b_bs: float = 0.6
    k_lr: float = 0.03
    k_lr_bs: float = -0.01
    k_bs: float = 0.02
    L_inf: float = 2.0
    A: float = 40.0
    alpha_s: float = -0.3

    def lr_opt(self, s, d):
        return self.C_lr * np.asarray(s, float) ** self.a_lr * np.asarray(d, float) ** self.b_lr

    def bs_opt(self, s, d):
        return self.C_bs * np.asarray(s, float) ** self.a_bs * np.asarray(d, float) ** self.b_bs

    @property
    def slope(self) -> float:
        """d ln lr* / d ln bs along the valley: the exponent c of the LR law at fixed bs."""
        return -self.k_lr_bs / self.k_lr

    def fixed_bs_exponents(self) -> dict:
        """The exponents of ``lr* = C s^a d^b bs^c`` at a fixed batch size."""
        c = self.slope
        return {"a": self.a_lr - c * self.a_bs, "b": self.b_lr - c * self.b_bs, "c": c}


def make_joint_sweeps(
    scales=(2e8, 4e8, 8e8, 1.6e9),
    horizons=(5e9, 2e10, 8e10),
    n_lrs: int = 7,
    lr_step: float = 2 ** 0.5,
    n_bs: int = 6,
    bs_step: float = 2.0,
    seeds: int = 1,
    noise: float = 0.002,
    truth: JointTruth | None = None,
    reps: int = 1,
    seed: int = 0,
) -> pd.DataFrame:
    """A full LR x batch-size grid per (scale, horizon) from ``truth`` (``JointTruth``).

    Per (scale, horizon) (and replication): ``n_lrs`` LRs spaced by ``lr_step`` and ``n_bs``
    batch sizes spaced by ``bs_step``, each grid centred on the true optimum offset by a
    random fraction of at most half a step; ``seeds`` runs per cell with normal loss noise
    of s.d. ``noise``. Columns: ``scale``, ``horizon``, ``lr``, ``bs``, ``loss``, ``seed``,
    ``lr_true``, ``bs_true`` and, with ``reps`` > 1, ``rep``.
    """
    tl = truth or JointTruth()
    rng = np.random.default_rng(seed)
    frames = []
    for r in range(reps):
        for s in scales:
            for d in horizons:
                x0, y0 = np.log(tl.lr_opt(s, d)), np.log(tl.bs_opt(s, d))
                xc = x0 + rng.uniform(-0.5, 0.5) * np.log(lr_step)
                yc = y0 + rng.uniform(-0.5, 0.5) * np.log(bs_step)
                x = xc + (np.arange(n_lrs) - (n_lrs - 1) / 2) * np.log(lr_step)
                y = yc + (np.arange(n_bs) - (n_bs - 1) / 2) * np.log(bs_step)
                xx, yy = (np.repeat(g.ravel(), seeds) for g in np.meshgrid(x, y, indexing="ij"))
                dx, dy = xx - x0, yy - y0
                base = tl.L_inf + tl.A * s ** tl.alpha_s
                loss = (base + tl.k_lr * dx * dx + 2 * tl.k_lr_bs * dx * dy + tl.k_bs * dy * dy
                        + rng.normal(0.0, noise, xx.size))
                frame = pd.DataFrame({"scale": s, "horizon": d, "lr": np.exp(xx),
                                      "bs": np.exp(yy), "loss": loss,
                                      "seed": np.tile(np.arange(seeds), n_lrs * n_bs),
                                      "lr_true": np.exp(x0), "bs_true": np.exp(y0)})
                if reps > 1:
                    frame.insert(0, "rep", r)
                frames.append(frame)
    return pd.concat(frames, ignore_index=True)
def runs_at(points: pd.DataFrame, law: TrueLaw | None = None, noise: float = 0.005,
            diverge_above: float = np.inf, lr_true=None, seed: int = 0) -> pd.DataFrame:
    """Train runs "at" ``points`` (columns scale, horizon, lr): their losses drawn from
    ``law`` as ``make_sweeps`` draws them (``lr_true``: each point's true optimum, default
    the law's), for simulating the runs an adaptive sweep asks for. Returns ``points``
    with ``loss`` (NaN beyond ``diverge_above``) and ``lr_true``."""
    tl = law or TrueLaw()
    rng = np.random.default_rng(seed)
    s, d = points["scale"].to_numpy(float), points["horizon"].to_numpy(float)
    x_star = np.log(tl.lr_opt(s, d) if lr_true is None else np.asarray(lr_true, float))
    x = np.log(points["lr"].to_numpy(float))
    loss = tl.loss_opt(s, d) + tl.curvature(s) * (x - x_star) ** 2 + rng.normal(0, noise, x.size)
    loss[x - x_star > diverge_above] = np.nan
    return points.assign(loss=loss, lr_true=np.exp(x_star))
