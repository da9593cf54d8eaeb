"""The GPU grids in examples/sweeps expand as documented and follow the study design rules
(docs/trainer.md, "Designing a transfer study")."""

import re
from pathlib import Path

import pytest

from reference_trainer.cli import load_file, main

SWEEPS = Path(__file__).resolve().parents[2] / "examples" / "sweeps"
GRIDS = sorted(SWEEPS.glob("*.toml"))
README = (SWEEPS / "README.md").read_text()


@pytest.mark.parametrize("grid", GRIDS, ids=[g.name for g in GRIDS])
def test_grid_follows_the_design_rules_and_has_the_documented_size(grid, tmp_path, capsys):
    spec = load_file(grid)
    assert spec.get("warmup_tokens", 0) > 0, "a fixed warmup in tokens"
    rel = spec.get("init_rel", 0)
    assert min(rel if isinstance(rel, list) else [rel]) > 0, "init relative to the base width"
    assert spec.get("attn_norm") == "base"
    if "decay" not in grid.name:
        assert "tokens_per_param" not in spec, "width transfer needs a horizon fixed in tokens"
    assert main(["sweep", "--config", str(grid), "--dry-run", "--no-probe", "--out",
                 str(tmp_path / "x.csv")]) == 0
    n = capsys.readouterr().out.count("todo")
    row = next(line for line in README.splitlines() if f"`{grid.name}`" in line)
    assert re.search(rf"\| {n:,} \|$", row), (grid.name, n, row)
