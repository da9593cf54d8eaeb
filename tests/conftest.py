"""Shared fixtures: the path to the public datasets beside the project (may be absent)."""

from pathlib import Path

import pytest

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture
def datasets() -> Path:
    """``../shared/datasets``; tests that use it skip cleanly when it is absent."""
    if not DATASETS.is_dir():
        pytest.skip("../shared/datasets is not present")
    return DATASETS
