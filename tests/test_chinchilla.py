"""Tests of the Chinchilla-form loss law fit (scalefit.chinchilla)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from scalefit import ScalefitFitError, ScalefitInputError, fit_chinchilla
from scalefit.core import chinchilla as ch

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
EPOCH_CSV = DATASETS / "analyzing-chinchilla" / "svg_extracted_data.csv"

# Hoffmann et al.'s published fit, used as the synthetic truth.
TRUTH = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


def synthetic(sigma: float, seed: int = 1):
    """8 x 8 grid of N in [1e7, 1e10] and D in [1e9, 1e12]; lognormal noise sigma in ln L."""
    n, d = (x.ravel() for x in np.meshgrid(np.geomspace(1e7, 1e10, 8), np.geomspace(1e9, 1e12, 8)))
    loss = TRUTH["E"] + TRUTH["A"] * n ** -TRUTH["alpha"] + TRUTH["B"] * d ** -TRUTH["beta"]
    loss = loss * np.exp(sigma * np.random.default_rng(seed).standard_normal(loss.size))
    return n, d, loss


def load_epoch():
    """Epoch's protocol: drop the 5 highest losses (240 points remain), D = C / (6 N)."""
    pd = pytest.importorskip("pandas")
    df = pd.read_csv(EPOCH_CSV).sort_values("loss").iloc[:-5]
    n = df["Model Size"].to_numpy(float)
    d = df["Training FLOP"].to_numpy(float) / (6.0 * n)
    return n, d, df["loss"].to_numpy(float)


@pytest.fixture(scope="module")
def epoch_fit():
    if not EPOCH_CSV.exists():
        pytest.skip(f"Epoch's Chinchilla data not found at {EPOCH_CSV}")
    n, d, loss = load_epoch()
    return fit_chinchilla(n, d, loss, n_boot=1000, seed=0)


# ------------------------------------------------------------------ ground truth: Epoch refit


def test_reproduces_epoch_point_estimates(epoch_fit):
    p = epoch_fit.params
    assert epoch_fit.n_points == 240
    assert epoch_fit.n_starts == 4500
    assert p["E"] == pytest.approx(1.817, rel=0.01)
    assert p["alpha"] == pytest.approx(0.347, rel=0.01)
    assert p["beta"] == pytest.approx(0.367, rel=0.01)
    # A and B are ill-conditioned (they trade off against the exponents).
    assert p["A"] == pytest.approx(478.0, rel=0.10)
    assert p["B"] == pytest.approx(2143.0, rel=0.15)
    assert epoch_fit.converged


def test_reproduces_epoch_bootstrap_intervals(epoch_fit):
    # Epoch (BFGS refits of 4,000 resamples): alpha ~ 0.32-0.37, beta ~ 0.33-0.42. Measured
    # here with n_boot=1000 over seeds 0-4: alpha (0.315-0.319, 0.371-0.373), beta
    # (0.333-0.334, 0.411-0.418). The bands hold both, about +-0.015 around them.
    ci = epoch_fit.conf_int()
    for k in ch.PARAM_NAMES:
        lo, hi = ci[k]
        assert lo <= epoch_fit.params[k] <= hi
    assert 0.300 <= ci["alpha"][0] <= 0.335
    assert 0.360 <= ci["alpha"][1] <= 0.390
    assert 0.315 <= ci["beta"][0] <= 0.350
    assert 0.395 <= ci["beta"][1] <= 0.440
    assert 1.74 <= ci["E"][0] <= 1.80 and 1.84 <= ci["E"][1] <= 1.90
    assert epoch_fit.n_boot_unconverged == 0


# ------------------------------------------------------------------ synthetic recovery


def test_recovers_exact_parameters_without_noise():
    r = fit_chinchilla(*synthetic(0.0), n_refine=5)
    for k, v in TRUTH.items():
        assert r.params[k] == pytest.approx(v, rel=1e-6), k


def test_recovers_parameters_with_small_noise():
    r = fit_chinchilla(*synthetic(0.002))
    for k in ("E", "alpha", "beta"):
        assert r.params[k] == pytest.approx(TRUTH[k], rel=0.02), k
    for k in ("A", "B"):
        assert r.params[k] == pytest.approx(TRUTH[k], rel=0.2), k


def test_bootstrap_intervals_cover_truth():
    # 20 replications at 1% noise, 95% intervals: measured coverage 1.0 (E) and 0.95 (all
    # others); 40 replications gave 0.975-1.0. Require a reasonable rate.
    reps = 20
    hits = {k: 0 for k in TRUTH}
    for rep in range(reps):
        n, d, loss = synthetic(0.01, seed=1000 + rep)
        r = fit_chinchilla(n, d, loss, n_boot=200, seed=rep, n_refine=2)
        for k, (lo, hi) in r.conf_int().items():
            hits[k] += lo <= TRUTH[k] <= hi
    for k, h in hits.items():
        assert h / reps >= 0.8, (k, h)


def test_batched_bootstrap_matches_per_resample_bfgs():
    """Every batched-Newton refit is at least as good as a scipy BFGS refit of that resample."""
    n, d, loss = synthetic(0.01, seed=3)
    r = fit_chinchilla(n, d, loss, n_boot=12, seed=5, n_refine=5)
    ln_n, ln_d, ln_loss = np.log(n), np.log(d), np.log(loss)
    idx = np.random.default_rng(5).integers(0, n.size, size=(12, n.size))  # same draws
    boot = r.boot_params
    for i in range(12):
        args = (ln_n[idx[i]], ln_d[idx[i]], ln_loss[idx[i]])
        theta_b = np.log(boot[i, [1, 2, 0]]).tolist() + boot[i, 3:].tolist()
        f_batched = float(ch.objective(theta_b, *args))
        ref = minimize(
            lambda t, a=args: float(ch.objective(t, *a)),
            r.theta,
            jac=lambda t, a=args: ch.gradient(t, *a),
            method="BFGS",
            options={"gtol": 1e-10},
        )
        assert f_batched <= ref.fun * (1 + 1e-9) + 1e-15, i


# ------------------------------------------------------------------ numerics


@settings(max_examples=25, deadline=None)
@given(
    a=st.floats(2.0, 8.0),
    b=st.floats(2.0, 8.0),
    e=st.floats(0.2, 0.8),
    alpha=st.floats(0.1, 0.6),
    beta=st.floats(0.1, 0.6),
)
def test_gradient_matches_finite_differences(a, b, e, alpha, beta):
    n, d, loss = synthetic(0.01)
    data = (np.log(n), np.log(d), np.log(loss), 0.05)  # large delta: both Huber branches
    w = np.random.default_rng(0).integers(0, 3, n.size).astype(float)
    theta = np.array([a, b, e, alpha, beta])
    g = ch.gradient(theta, *data, weights=w)
    h = 1e-6
    fd = np.array(
        [
            (
                ch.objective(theta + h * u, *data, weights=w)
                - ch.objective(theta - h * u, *data, weights=w)
            )
            / (2 * h)
            for u in np.eye(5)
        ]
    )
    np.testing.assert_allclose(g, fd, rtol=1e-4, atol=1e-7 * (1 + np.abs(fd).max()))


def test_hessian_matches_finite_differences_of_gradient():
    n, d, loss = synthetic(0.01)
    ln_n, ln_d, ln_loss = np.log(n) - 20, np.log(d) - 24, np.log(loss)
    theta = np.array([[1.0, 0.5, 0.5, 0.34, 0.28], [0.5, 1.0, 0.4, 0.5, 0.2]])
    w = np.ones((2, n.size))
    delta = 0.05
    f, g, H = ch._fgh(theta, ln_n, ln_d, ln_loss, delta, w)
    np.testing.assert_allclose(f, ch.objective(theta, ln_n, ln_d, ln_loss, delta))
    np.testing.assert_allclose(g, ch.gradient(theta, ln_n, ln_d, ln_loss, delta), rtol=1e-10)
    h = 1e-6
    for j, u in enumerate(np.eye(5)):
        fd = (
            ch.gradient(theta + h * u, ln_n, ln_d, ln_loss, delta)
            - ch.gradient(theta - h * u, ln_n, ln_d, ln_loss, delta)
        ) / (2 * h)
        np.testing.assert_allclose(H[:, :, j], fd, rtol=1e-4, atol=1e-6)


def test_objective_is_summed_not_mean():
    n, d, loss = synthetic(0.01)
    args = (np.log(n), np.log(d), np.log(loss))
    theta = np.array([6.0, 6.0, 0.5, 0.3, 0.3])
    r = ch.predict_log_loss(theta, args[0], args[1]) - args[2]
    assert float(ch.objective(theta, *args)) == pytest.approx(ch.huber(r, 1e-3).sum())
    batch = ch.objective(np.stack([theta, theta]), *args)
    assert batch.shape == (2,)


def test_epoch_grid():
    g = ch.epoch_grid()
    assert g.shape == (4500, 5)
    assert set(np.unique(g[:, 0])) == {0.0, 5.0, 10.0, 15.0, 20.0, 25.0}
    assert set(np.unique(g[:, 2])) == {-1.0, -0.5, 0.0, 0.5, 1.0}
    assert set(np.unique(g[:, 3])) == {0.0, 0.5, 1.0, 1.5, 2.0}


# ------------------------------------------------------------------ API and result object


def test_reproducible_with_seed():
    data = synthetic(0.01, seed=7)
    r1 = fit_chinchilla(*data, n_boot=30, seed=11, n_refine=3)
    r2 = fit_chinchilla(*data, n_boot=30, seed=11, n_refine=3)
    r3 = fit_chinchilla(*data, n_boot=30, seed=12, n_refine=3)
    assert r1.params == r2.params
    assert r1.conf_int() == r2.conf_int()
    np.testing.assert_array_equal(r1.boot_params, r2.boot_params)
    assert not np.array_equal(r1.boot_params, r3.boot_params)


def test_result_object():
    n, d, loss = synthetic(0.01)
    r = fit_chinchilla(n, d, loss, n_refine=3)
    assert r.conf_int() == {k: None for k in ch.PARAM_NAMES}
    out = r.to_dict()
    assert out["ci"] is None
    json.dumps(out)
    assert out["form"] == "loss = E + A * N^-alpha + B * D^-beta"
    assert set(out) == {
        "schema_version",
        "range",
        "form",
        "params",
        "ci",
        "ci_level",
        "n_points",
        "n_starts",
        "n_boot",
        "huber_delta",
        "objective",
    }
    assert set(out["params"]) == {"E", "A", "B", "alpha", "beta"}
    assert out["params"]["alpha"] > 0 and out["params"]["beta"] > 0
    assert out["n_points"] == 64 and out["n_boot"] == 0 and out["huber_delta"] == 1e-3
    pred = r.predict(n, d)
    np.testing.assert_allclose(np.log(pred), ch.predict_log_loss(r.theta, np.log(n), np.log(d)))
    assert isinstance(r.predict(1e9, 1e11), float)
    assert "alpha=" in repr(r)
    text = r.summary()
    for word in ("E + A * N^-alpha", "alpha", "beta", "4500", "64", "objective"):
        assert word in text
    with pytest.raises(ScalefitInputError):
        r.predict(-1.0, 1e9)


def test_to_dict_with_bootstrap_is_json():
    r = fit_chinchilla(*synthetic(0.01), n_boot=20, ci=0.9, n_refine=3)
    out = json.loads(json.dumps(r.to_dict()))
    assert out["ci_level"] == 0.9 and out["n_boot"] == 20
    for k in ch.PARAM_NAMES:
        lo, hi = out["ci"][k]
        assert lo <= hi
    assert "90% low" in r.summary()


def test_progress_is_called_and_monotone():
    calls = []
    fit_chinchilla(
        *synthetic(0.01), n_boot=25, n_refine=4, progress=lambda i, t: calls.append((i, t))
    )
    assert calls and calls[-1] == (29, 29)  # 4 refined starts + 25 resamples
    done = [c[0] for c in calls]
    assert done == sorted(done)
    assert all(t == 29 for _, t in calls)


def test_lazy_export_and_no_torch():
    import scalefit.chinchilla
    import scalefit.results.chinchilla

    assert scalefit.fit_chinchilla is scalefit.chinchilla.fit_chinchilla
    assert scalefit.ChinchillaResult is scalefit.results.chinchilla.ChinchillaResult
    code = "import sys, scalefit.chinchilla; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n": [1e8] * 6, "d": [1e9] * 5, "loss": [3.0] * 6}, "same length"),
        ({"n": [1e8] * 4, "d": [1e9] * 4, "loss": [3.0] * 4}, "at least 5"),
        ({"n": [1e8, 1e8, -1.0, 1e8, 1e8]}, "n must be finite and positive; row 3 is -1 "),
        ({"d": [1e9, 0.0, 1e9, 1e9, 1e9]}, "d must be finite and positive; row 2 is 0 "),
        ({"loss": [3.0, 3.0, 3.0, np.nan, 3.0]}, "loss must be finite and positive; row 4"),
        ({"loss": [3.0, 3.0, 3.0, np.inf, 3.0]}, "drop those runs"),
        ({"n": np.ones((5, 1))}, "1-D"),
        ({"n": ["a"] * 5}, "numbers"),
        ({"n_boot": -1}, "n_boot"),
        ({"n_boot": 1}, "0 \\(no intervals\\) or a whole number from 2"),
        ({"n_boot": 2.5}, "n_boot"),
        ({"ci": 1.0}, "ci"),
        ({"huber_delta": 0.0}, "huber_delta"),
        ({"progress": 3}, "progress"),
        ({"seed": 1.5}, "seed"),
        ({"seed": -1}, "seed must be a whole number >= 0"),
        ({"n": [1e8] * 5}, "1 model size .*A and alpha"),
        ({"n": [1e8, 2e8] * 2 + [1e8]}, "2 model sizes"),
        ({"d": [1e9, 1e9, 3e9, 3e9, 1e9]}, "2 token counts .*B and beta"),
    ],
)
def test_input_errors(kwargs, match):
    args = {
        "n": [1e8, 2e8, 4e8, 8e8, 1.6e9],
        "d": [1e9, 3e9, 1e10, 3e10, 1e11],
        "loss": [3.5, 3.2, 3.0, 2.8, 2.7],
    }
    args.update(kwargs)
    with pytest.raises(ScalefitInputError, match=match):
        fit_chinchilla(**args)


def test_optimizer_failure_raises_fit_error(monkeypatch):
    class Bad:
        fun = float("nan")
        x = np.full(5, np.nan)
        success = False

    monkeypatch.setattr(ch, "_lbfgsb", lambda *a, **k: Bad())
    with pytest.raises(ScalefitFitError):
        fit_chinchilla(*synthetic(0.01))


def test_fallback_refits_resamples_newton_leaves(monkeypatch):
    """Resamples the batched Newton does not converge on are refitted by L-BFGS-B."""
    data = synthetic(0.01, seed=4)
    ref = fit_chinchilla(*data, n_boot=10, seed=2, n_refine=3)
    real = ch._newton_batch

    def one_step(*args, **kwargs):
        kwargs["max_iter"] = 1
        return real(*args, **kwargs)

    monkeypatch.setattr(ch, "_newton_batch", one_step)
    r = fit_chinchilla(*data, n_boot=10, seed=2, n_refine=3)
    assert r.n_boot_fallback == 10
    # Tight L-BFGS-B reaches the Newton optimum of each resample.
    np.testing.assert_allclose(r.boot_params[:, 3:], ref.boot_params[:, 3:], atol=1e-5)
