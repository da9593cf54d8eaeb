"""The CPU study drivers (examples/studies): LR grids are widened until every sweep's best
LR has two LRs on each side, and the whole parameterization design runs end to end."""

import csv
import math
import sys
from pathlib import Path

import pytest

STUDIES = Path(__file__).resolve().parents[2] / "examples" / "studies"
sys.path.insert(0, str(STUDIES))

from bracket import Sweep, grid, ladder, missing_lrs  # noqa: E402

from reference_trainer.config import RunConfig  # noqa: E402


def fake_losses(sw, loss_of_lr):
    return {sw.template.replace(lr=lr, seed=s).run_id: loss_of_lr(lr)
            for lr in sw.lrs for s in sw.seeds}


def test_ladder_and_grid():
    assert ladder(0.0031) == pytest.approx(0.004) and ladder(0.0027) == pytest.approx(0.002)
    assert grid(0.02, 6) == pytest.approx([0.004, 0.008, 0.016, 0.032, 0.064, 0.128])


@pytest.mark.parametrize("opt,want", [
    (0.016, []),                          # bracketed: two LRs on each side
    (1e-4, [0.002, 0.001]),               # best at the lowest LR: two more below it
    (0.07, [0.256]),                      # best second from the top: one more above
])
def test_missing_lrs_widens_towards_the_optimum(opt, want):
    sw = Sweep("s", RunConfig(width=32), grid(0.02, 6))
    losses = fake_losses(sw, lambda lr: (math.log(lr) - math.log(opt)) ** 2)
    assert missing_lrs(sw, losses) == pytest.approx(want)


def test_no_widening_above_a_diverged_lr_or_before_every_run_is_in():
    sw = Sweep("s", RunConfig(width=32), grid(0.02, 6))
    losses = fake_losses(sw, lambda lr: math.inf if lr > 0.1 else -lr)  # best just below
    assert missing_lrs(sw, losses) == []  # bracketed by a divergence: nothing above
    del losses[next(iter(losses))]
    assert missing_lrs(sw, losses) == []  # a run is missing: decide nothing yet


def test_parameterization_design_end_to_end(tmp_path):
    from parameterization_cpu import main

    out = tmp_path / "p.csv"
    assert main(["--out", str(out), "--tiny", "--workers", "1"]) == 0
    for name in ("p.csv", "p_init.csv", "p_decay.csv"):
        rows = list(csv.DictReader(open(tmp_path / name)))
        assert rows and all(r["status"] in ("ok", "diverged") for r in rows)
    rows = list(csv.DictReader(open(out)))
    assert {r["parameterization"] for r in rows} == {"sp", "mup", "sp+attn"}
    assert {r["attn_scale"] for r in rows} >= {"d_head^-0.5", "1/d_head * 8^0.5"}
    decay = list(csv.DictReader(open(tmp_path / "p_decay.csv")))
    assert {r["wd_transfer"] for r in decay} == {"True", "False"}
    init = list(csv.DictReader(open(tmp_path / "p_init.csv")))
    (sens,) = [p for p in tmp_path.glob("p_init?*.csv")]  # part 3: twice the chosen init
    chosen = {float(r["init_std_emb"]) for r in rows}
    assert len(chosen) == 1 and chosen <= {float(r["init_std_emb"]) for r in init}
    sens_rows = list(csv.DictReader(open(sens)))
    assert {float(r["init_std_emb"]) for r in sens_rows} == {2 * chosen.pop()}
