"""Fixtures for the reference-trainer tests: tiny CPU configurations, one thread."""

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # tiny models: one thread is fastest and immune to a busy machine

from trainer_helpers import TINY  # noqa: E402

from reference_trainer.config import RunConfig  # noqa: E402


@pytest.fixture(autouse=True)
def _cpu_batching_by_width(monkeypatch):
    """A CPU sweep's default batching measures the machine (a probe per shape), which
    would make which runs share a batch depend on the load: tests pin the fixed width
    rule (the CLI subprocesses inherit it) unless they set REFERENCE_TRAINER_CPU_BATCH."""
    monkeypatch.setenv("REFERENCE_TRAINER_CPU_BATCH", "width")


@pytest.fixture
def tiny():
    """Factory of tiny RunConfigs: tiny(lr=1e-2, ...)."""
    return lambda **kw: RunConfig(**(TINY | kw))
