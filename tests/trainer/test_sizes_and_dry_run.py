"""Sizes such as 1M on the trainer's command line, and --dry-run's count and estimate."""

import pytest

from reference_trainer.cli import main
from reference_trainer.config import parse_int


@pytest.mark.parametrize("text, value", [("1M", 10**6), ("4.2e6", 4_200_000), ("2^20", 2**20),
                                         ("7B", 7 * 10**9), ("4194304", 4194304), (3.0, 3)])
def test_whole_numbers_with_suffixes(text, value):
    assert parse_int(text) == value


@pytest.mark.parametrize("text", ["1.5", "x", "1.2345k", True, "1M5"])
def test_not_whole_numbers(text):
    with pytest.raises(ValueError):
        parse_int(text)


def test_train_refuses_a_fraction_in_one_line(capsys):
    assert main(["train", "--tokens", "1.5", "--out", "x.csv"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--tokens: expected a whole number" in err[0]


GRID = ["sweep", "--param", "mup", "--widths", "16", "--n-heads", "2", "--depth", "1",
        "--seq-len", "16", "--batch-size", "2", "--lrs", "1e-3,2e-3", "--tokens", "4k,8k",
        "--eval-tokens", "64", "--device", "cpu"]


def test_dry_run_counts_without_probe(tmp_path, capsys):
    assert main(GRID + ["--out", str(tmp_path / "r.csv"), "--dry-run", "--no-probe"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 5 and all("todo" in line for line in out[:4])
    assert out[-1] == "4 runs: 0 done, 4 to train (24,000 tokens) in 1 batch"


def test_dry_run_estimates_from_a_probe(tmp_path, capsys):
    assert main(GRID + ["--out", str(tmp_path / "r.csv"), "--dry-run"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-2].startswith("probe: mup w=16 d=1 bs=2 batched x4: ")
    assert out[-1].startswith("4 runs: 0 done, 4 to train (24,000 tokens) in 1 batch; about ")
