"""Fixtures for the reference-trainer tests: tiny CPU configurations, one thread."""

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # tiny models: one thread is fastest and immune to a busy machine

from trainer_helpers import TINY  # noqa: E402

from reference_trainer.config import RunConfig  # noqa: E402


@pytest.fixture
def tiny():
    """Factory of tiny RunConfigs: tiny(lr=1e-2, ...)."""
    return lambda **kw: RunConfig(**(TINY | kw))
