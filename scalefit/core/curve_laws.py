"""The two loss-curve laws, evaluated for many observations (and parameter sets) at once.

**Multi-Power Law** (Luo et al. 2025, arXiv 2503.12811), as in the authors' code:

    L(t) = L0 + A S1(t)^-alpha + B sum_{k=1}^{t} (eta_k - eta_{k-1}) G(eta_k^-gamma S_k(t)),
    G(x) = 1 - (1 + C x)^-beta,

``S1(t)`` the LR summed over steps 0..t (the warmup's area included), ``S_k(t)`` over k..t.
The sum runs over every step, warmup included (there the LR rises and the term adds loss);
after the peak the LR falls and the term is the loss drop ``LD(t)`` of the paper.

**Annealing law** (Tissue et al. 2024, arXiv 2408.11029):

    L(t) = L0 + A S1(t)^-alpha - C S2(t),   S2(t) = sum_{i<=t} m_i,
    m_i = lam m_{i-1} + (eta_{i-1} - eta_i),

so ``S2(t) = sum_k (eta_{k-1} - eta_k) (1 - lam^(t-k+1)) / (1 - lam)``: the same pair sum
with a fixed kernel (``lam`` is not fitted; default 0.999 as the paper recommends).

Parameters are handled as ``theta`` vectors (positive scales in logs):
MPL ``(L0, ln A, alpha, ln B, ln C, beta, gamma)``; annealing ``(L0, ln A, alpha, ln C)``.
``predict(theta, data)`` takes theta (S, k) and returns the predicted losses (S, n) and,
with ``jac=True``, their derivatives (S, n, k). Pure numpy/scipy.sparse.
"""

from __future__ import annotations

import numpy as np

from .curve_data import CurveData

DEFAULT_LAMBDA = 0.999


def _pair_sum(data: CurveData, v: np.ndarray) -> np.ndarray:
    """Sum per observation of pair values ``v`` (S, P) -> (S, n)."""
    return np.asarray((data.pairs @ v.T).T)


class MPL:
    """The Multi-Power Law (see the module doc)."""

    name = "mpl"
    form = ("L(t) = L0 + A S1(t)^-alpha + B sum_k (eta_k - eta_(k-1)) "
            "(1 - (1 + C eta_k^-gamma S_k(t))^-beta)")
    param_names = ("L0", "A", "alpha", "B", "C", "beta", "gamma")
    log_params = (1, 3, 4)  # theta positions holding ln A, ln B, ln C
    bounds = ((0.0, None), (-30.0, 30.0), (1e-4, 3.0), (-30.0, 30.0), (-30.0, 30.0),
              (1e-4, 5.0), (0.0, 2.0))

    def __init__(self, **_):
        pass

    def settings(self) -> dict:
        return {}

    def to_params(self, theta) -> np.ndarray:
        p = np.array(theta, float, copy=True)
        p[..., self.log_params] = np.exp(p[..., self.log_params])
        return p

    def to_theta(self, params) -> np.ndarray:
        t = np.array(params, float, copy=True)
        t[..., self.log_params] = np.log(t[..., self.log_params])
        return t

    def drop(self, data: CurveData, C, beta, gamma, grad=False):
        """``sum_k delta_k G`` per observation for kernel parameters (S,) each: (S, n);
        with ``grad``, also its derivatives in (ln C, beta, gamma), each (S, n)."""
        C, beta, gamma = (np.asarray(v, float)[:, None] for v in (C, beta, gamma))
        cx = C * np.exp(-gamma * data.ln_eta) * data.area  # (S, P)
        lq = np.log1p(cx)
        p = np.exp(-beta * lq)  # (1 + C x)^-beta
        D = _pair_sum(data, data.dlr * (1.0 - p))
        if not grad:
            return D
        with np.errstate(invalid="ignore"):
            frac = np.where(np.isfinite(cx), cx / (1.0 + cx), 1.0)
        u = data.dlr * beta * frac * p
        return D, _pair_sum(data, u), _pair_sum(data, data.dlr * p * lq), \
            _pair_sum(data, -u * data.ln_eta)

    def predict(self, theta, data: CurveData, jac=False):
        theta = np.atleast_2d(np.asarray(theta, float))
        L0, lnA, alpha, lnB, lnC, beta, gamma = theta.T
        A, B = np.exp(lnA)[:, None], np.exp(lnB)[:, None]
        ln_s1 = np.log(data.s1)
        pw = np.exp(-alpha[:, None] * ln_s1)  # S1^-alpha
        out = self.drop(data, np.exp(lnC), beta, gamma, grad=jac)
        D = out[0] if jac else out
        pred = L0[:, None] + A * pw + B * D
        if not jac:
            return pred
        _, dC, dbeta, dgamma = out
        J = np.stack([np.ones_like(pred), A * pw, -A * pw * ln_s1, B * D, B * dC, B * dbeta,
                      B * dgamma], axis=-1)
        return pred, J


class Annealing:
    """Tissue et al.'s annealing law with a fixed ``lam`` (see the module doc)."""

    name = "tissue"
    form = "L(t) = L0 + A S1(t)^-alpha - C S2(t),  S2 = sum of momentum-smoothed LR drops"
    param_names = ("L0", "A", "alpha", "C")
    log_params = (1, 3)
    bounds = ((0.0, None), (-30.0, 30.0), (1e-4, 3.0), (-30.0, 30.0))

    def __init__(self, lam: float = DEFAULT_LAMBDA, **_):
        if not 0.0 < lam < 1.0:
            raise ValueError(f"lam must lie in (0, 1) (got {lam})")
        self.lam = float(lam)

    def settings(self) -> dict:
        return {"lambda": self.lam}

    to_params = MPL.to_params
    to_theta = MPL.to_theta

    def s2(self, data: CurveData) -> np.ndarray:
        """``S2(t)`` per observation: (n,)."""
        k = -data.dlr * -np.expm1(data.lag * np.log(self.lam)) / (1.0 - self.lam)
        return np.asarray(data.pairs @ k).ravel()

    def predict(self, theta, data: CurveData, jac=False):
        theta = np.atleast_2d(np.asarray(theta, float))
        L0, lnA, alpha, lnC = theta.T
        A, C = np.exp(lnA)[:, None], np.exp(lnC)[:, None]
        ln_s1 = np.log(data.s1)
        pw = np.exp(-alpha[:, None] * ln_s1)
        s2 = self.s2(data)[None, :]
        pred = L0[:, None] + A * pw - C * s2
        if not jac:
            return pred
        J = np.stack([np.ones_like(pred), A * pw, -A * pw * ln_s1, -C * s2 + 0 * pred],
                     axis=-1)
        return pred, J


LAWS = {"mpl": MPL, "tissue": Annealing}


def make_law(name: str, **options):
    """The law called ``name`` (``mpl`` or ``tissue``)."""
    try:
        return LAWS[name](**options)
    except KeyError:
        raise ValueError(f"unknown curve law {name!r}; one of {', '.join(LAWS)}") from None
