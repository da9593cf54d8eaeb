"""The README shows real output: its set-up command 1 is run and every line of the output
it prints (except the lines it shortens with '...') must appear, in order, in what the
command prints today."""

import re
import shlex
from pathlib import Path

from scalefit.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def command_one() -> list[str]:
    """The `scalefit ...` part of set-up command 1, as argv."""
    line = next(x for x in README.splitlines() if x.startswith("python -m pip install -e . &&"))
    return shlex.split(line.split("&&", 1)[1].strip())


def shown_output() -> list[str]:
    """The lines of the first code block after 'Command 1 prints'."""
    after = README.split("Command 1 prints", 1)[1]
    block = re.search(r"```\n(.*?)```", after, re.S).group(1)
    return [x for x in block.splitlines() if x.strip() and "..." not in x]


def test_readme_command_one_prints_what_the_readme_shows(capsys, monkeypatch):
    argv = command_one()
    assert argv[0] == "scalefit" and argv[1] == "fit"
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    assert main(argv[1:]) == 0
    printed = [x.rstrip() for x in capsys.readouterr().out.splitlines()]
    shown = shown_output()
    assert len(shown) >= 10
    at = 0
    for line in shown:
        assert line.rstrip() in printed[at:], f"README line not printed (in order): {line!r}"
        at = printed.index(line.rstrip(), at) + 1
