"""Laws whose optima scatter around them beyond their own noise: the exponent intervals
carry that scatter (docs/math.md section 3, core/scatter.py)."""

import numpy as np

import scalefit
from scalefit.synthetic import TrueLaw, make_sweeps

SCALES = (1e7, 2e7, 4e7, 8e7, 1.6e8, 3.2e8)


def _coverage(lr_scatter, seeds=12):
    cov_a, cov_b, width, noted = [], [], [], []
    for seed in range(seeds):
        df = make_sweeps(scales=SCALES, horizons=(1e9, 4e9), seeds=2, noise=0.004,
                         law=TrueLaw(a=-0.3, b=-0.2), lr_scatter=lr_scatter, seed=seed)
        law = scalefit.fit(df, n_boot=300, seed=seed, progress=None).law()
        (lo, hi), (blo, bhi) = law.ci["a"], law.ci["b"]
        cov_a.append(lo <= -0.3 <= hi)
        cov_b.append(blo <= -0.2 <= bhi)
        width.append(hi - lo)
        noted.append(any("beyond their own noise" in n for n in law.notes))
    return np.mean(cov_a), np.mean(cov_b), np.median(width), np.mean(noted)


def test_scattered_optima_widen_the_exponent_intervals_to_cover():
    """5% scatter of each sweep's optimum around the law (a sweep-level effect its runs
    cannot show): before the scatter term the interval of a covered 52% and of b 45% of
    40 seeds (width 0.019); with it about 95% (benchmarks/predict_coverage.py)."""
    a, b, w, noted = _coverage(0.05)
    assert a >= 0.8 and b >= 0.8, (a, b)
    assert w > 0.03  # wider than the noise-only interval (0.019)
    assert noted >= 0.75


def test_optima_on_the_law_keep_their_narrow_intervals():
    a, b, w, noted = _coverage(0.0)
    assert a >= 0.8 and b >= 0.8
    assert w < 0.03, w  # the noise-only width (0.019) barely moves
    assert noted <= 0.25
