"""The README shows real output: each command whose output it quotes is run, and every
quoted line (except the lines it shortens with '...') must appear, in order, in what the
command prints today."""

import re
import shlex
from pathlib import Path

import pytest

from scalefit.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def command_one() -> list[str]:
    """The `scalefit ...` part of set-up command 1, as argv."""
    line = next(x for x in README.splitlines() if x.startswith("python -m pip install -e . &&"))
    return shlex.split(line.split("&&", 1)[1].strip())


def quoted_after(marker: str) -> list[str]:
    """The lines of the first code block after `marker`."""
    words = r"\s+".join(map(re.escape, marker.split()))  # the marker may wrap lines
    after = README[re.search(words, README).end():]
    block = re.search(r"```\n(.*?)```", after, re.S).group(1)
    return [x for x in block.splitlines() if x.strip() and "..." not in x]


CASES = {
    "command 1": ("Command 1 prints", command_one()),
    "synthetic": ("Known ground truth", ["scalefit", "fit", "examples/data/synthetic_sweeps.csv",
                                         "--by", "parameterization"]),
}


@pytest.mark.parametrize("case", CASES)
def test_readme_output_is_what_the_command_prints(case, capsys, monkeypatch):
    marker, argv = CASES[case]
    assert argv[:2] == ["scalefit", "fit"]
    monkeypatch.chdir(ROOT)
    assert main(argv[1:]) == 0
    cap = capsys.readouterr()  # output, then warnings on stderr as a terminal shows them
    printed = [x.rstrip() for x in (cap.out + cap.err).splitlines()]
    shown = quoted_after(marker)
    assert len(shown) >= 4
    at = 0
    for line in shown:
        assert line.rstrip() in printed[at:], f"README line not printed (in order): {line!r}"
        at = printed.index(line.rstrip(), at) + 1


def test_readme_next_output_is_what_the_command_prints(capsys, monkeypatch, tmp_path):
    argv = ["next", "examples/data/parameterization_cpu.csv", "--by", "parameterization",
            "--budget", "6", "--target-scale", "8e5", "--cost", "runs"]
    monkeypatch.chdir(ROOT)
    assert main(argv) == 0
    cap = capsys.readouterr()
    printed = [x.rstrip() for x in (cap.out + cap.err).splitlines()]
    shown = quoted_after("--target-scale 8e5 --cost runs` prints")
    assert len(shown) >= 8
    at = 0
    for line in shown:
        assert line.rstrip() in printed[at:], f"README line not printed (in order): {line!r}"
        at = printed.index(line.rstrip(), at) + 1
