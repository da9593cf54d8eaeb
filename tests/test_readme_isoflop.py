"""The README's compute-optimal allocation section shows real output: its two quoted blocks
are what `scalefit isoflop` and `scalefit allocate` print today (every quoted line, in
order, except the lines shortened with '...')."""

import re
from pathlib import Path

from scalefit.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SECTION = README[README.index("## Compute-optimal allocation"):]


def blocks() -> list[list[str]]:
    """The quoted output blocks of the section (plain ``` fences, not ```bash)."""
    out, current, kind = [], None, None
    for line in SECTION.split("\n## ", 1)[0].splitlines():
        if line.startswith("```"):
            if current is None:
                current, kind = [], line[3:]
            else:
                if kind == "":
                    out.append([x for x in current if x.strip() and "..." not in x])
                current = None
        elif current is not None:
            current.append(line)
    return out


def assert_in_order(shown: list[str], printed: list[str]) -> None:
    at = 0
    for line in shown:
        assert line.rstrip() in printed[at:], f"README line not printed (in order): {line!r}"
        at = printed.index(line.rstrip(), at) + 1


def test_isoflop_block(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["isoflop", "examples/data/synthetic_isoflop.csv"]) == 0
    printed = [x.rstrip() for x in capsys.readouterr().out.splitlines()]
    shown = blocks()[0]
    assert len(shown) >= 6
    assert_in_order(shown, printed)


def test_allocate_block(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    commands = re.search(r"```bash\n(.*?)```", SECTION, re.S).group(1).split("\n")
    assert commands[0] == ("scalefit chinchilla examples/data/synthetic_isoflop.csv --boot 1000"
                           " --json law.json")
    assert commands[1] == "scalefit allocate law.json --budget 1e21 --budget 5.88e23"
    law = tmp_path / "law.json"
    assert main(["chinchilla", "examples/data/synthetic_isoflop.csv", "--boot", "1000",
                 "--json", str(law), "-q"]) == 0
    capsys.readouterr()
    assert main(["allocate", str(law), "--budget", "1e21", "--budget", "5.88e23"]) == 0
    printed = [x.rstrip() for x in capsys.readouterr().out.splitlines()]
    shown = blocks()[1]
    assert len(shown) >= 5
    assert_in_order(shown, printed)
