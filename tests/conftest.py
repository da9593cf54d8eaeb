"""Shared fixtures: the path to the public datasets beside the project (may be absent)."""

import os

# Small problems run faster on one BLAS thread; multithreaded OpenBLAS makes SciPy's
# L-BFGS-B many times slower on a busy 2-core machine (scipy/scipy#22438).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture
def datasets() -> Path:
    """``../shared/datasets``; tests that use it skip cleanly when it is absent."""
    if not DATASETS.is_dir():
        pytest.skip("../shared/datasets is not present")
    return DATASETS
