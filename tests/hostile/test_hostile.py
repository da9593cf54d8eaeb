"""Every hostile input (``hostile_cases.CASES``) keeps the contract of ``contract.check``:
exit 0 or 2 (never 1), one error line naming the problem, no traceback, no control
characters on the terminal, every pre-existing file byte-identical after a failure."""

from __future__ import annotations

import functools
import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest
from contract import check, run_inprocess, run_process, snapshot
from hostile_cases import CASES, OLD_JSON, RAW, TAMPER, Case, chin_rows, csv, raw_fit

from scalefit.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "data" / "synthetic_sweeps.csv"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@functools.cache
def can(what: str) -> bool:
    """Whether this machine lets the tests make a device node or mount a tmpfs."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        if what == "mknod":
            try:
                os.mknod(os.path.join(d, "n"), stat.S_IFCHR | 0o600, os.makedev(1, 7))
                return True
            except (OSError, AttributeError):
                return False
        if what == "mount":
            if not IS_ROOT:
                return False
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", d],
                               capture_output=True)
            if r.returncode != 0:
                return False
            subprocess.run(["umount", d], capture_output=True)
            return True
    raise ValueError(what)


@pytest.fixture(scope="session")
def saved(tmp_path_factory) -> dict[str, bytes]:
    """A saved LR fit (with draws) and Chinchilla fits with and without draws."""
    d = tmp_path_factory.mktemp("saved")
    runs = d / "chin.csv"
    runs.write_text(csv(chin_rows()))
    for argv in (["fit", EXAMPLE, "--by", "parameterization", "--boot", "20", "--json",
                  d / "fit.json", "-q"],
                 ["chinchilla", runs, "--boot", "20", "--json", d / "law.json", "-q"],
                 ["chinchilla", runs, "--json", d / "law0.json", "-q"]):
        rc, out, err = run_inprocess([str(a) for a in argv])
        assert rc == 0, err
    return {name: (d / name).read_bytes() for name in ("fit.json", "law.json", "law0.json")}


def skip_reason(case: Case) -> str | None:
    needs = set((case.needs or "").split("+")) - {""}
    if "nonroot" in needs and IS_ROOT:
        return "root reads any file"
    if "mknod" in needs and not can("mknod"):
        return "cannot make a device node here"
    if "mount" in needs and not can("mount"):
        return "a tmpfs can be mounted only as root, where permitted"
    return None


def build(case: Case, folder: Path, saved: dict) -> None:
    for name, content in case.files.items():
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)
    needs = set((case.needs or "").split("+"))
    if needs & {"fit", "law"}:
        for name, blob in saved.items():
            (folder / name).write_bytes(blob)
    if case.name in TAMPER:
        base = json.loads(saved["law.json" if case.name.startswith("law_") else "fit.json"])
        for name in ("bad.json", "bad2.json"):
            (folder / name).write_bytes(TAMPER[case.name](base))
    elif case.name in RAW:
        (folder / "bad.json").write_bytes(raw_fit(case.name, saved["fit.json"]))


def argv_of(case: Case, folder: Path) -> list[str]:
    argv = [str(a).replace("{d}", str(folder)) for a in case.argv]
    if case.json_out and argv and argv[0] in ("fit", "compare", "chinchilla", "isoflop",
                                              "predict", "audit", "transfer", "allocate") \
            and "--json" not in argv:
        (folder / "out.json").write_bytes(OLD_JSON)
        argv += ["--json", str(folder / "out.json")]
    return argv


@pytest.mark.parametrize("case", CASES, ids=[f"{c.klass}-{c.name}" for c in CASES])
def test_hostile_input(case: Case, tmp_path: Path, saved: dict, monkeypatch):
    import scalefit.extract

    monkeypatch.setattr(scalefit.extract, "EXTRACT_SECONDS", 1.0)  # in process: a regex that
    # backtracks without end is stopped after 1 s instead of 10
    why = skip_reason(case)
    if why:
        pytest.skip(why)
    folder = tmp_path / "case"
    folder.mkdir()
    build(case, folder, saved)
    teardown = []
    try:
        teardown.append(case.setup(folder) if case.setup else None)
        argv = argv_of(case, folder)
        before = snapshot(folder)
        if case.process or case.shell:
            full = "/dev/full"
            if "devfull" in (case.needs or "") and IS_ROOT:
                if not can("mknod"):
                    pytest.skip("cannot make a device node here")
                os.mknod(tmp_path / "full", stat.S_IFCHR | 0o666, os.makedev(1, 7))
                full = str(tmp_path / "full")
            monkeypatch.setenv("D", str(folder))
            monkeypatch.setenv("FULL", full)
            rc, out, err = run_process(argv, case.stdin, timeout=case.timeout, cwd=folder,
                                       shell=case.shell)
        else:
            rc, out, err = run_inprocess(argv, case.stdin)
        after = snapshot(folder)
    finally:
        for undo in teardown:
            if undo:
                undo()
    check(rc, out, err, before, after, case.expect, case.needles,
          inputs=[n for n in case.files if not n.startswith(("rep/", "out.json"))],
          shows=case.shows)


def test_the_suite_is_large_and_covers_every_class():
    klasses = {c.klass for c in CASES}
    assert len(CASES) >= 120
    assert klasses == {"encodings", "separators", "numbers", "columns", "flags", "binary",
                       "streams", "nested", "huge", "saved_fit", "outputs", "regex",
                       "chinchilla", "control", "flat", "next", "joint"}


def test_catastrophic_regex_stops_within_its_time_limit(tmp_path, monkeypatch):
    """In process, with the limit shortened: matching stops, one line names the row."""
    import scalefit.extract as extract

    monkeypatch.setattr(extract, "EXTRACT_SECONDS", 0.5)
    runs = tmp_path / "runs.csv"
    runs.write_text(csv([{"lr": 1e-3, "loss": 2.0, "name": "a" * 30 + "!"}] * 3))
    t0 = time.perf_counter()
    rc, out, err = run_inprocess(["fit", str(runs), "--boot", "0", "--extract",
                                  "name:(?P<x>(a+)+$)"])
    took = time.perf_counter() - t0
    check(rc, out, err, {}, {}, 2, ("row 1", "--extract", "0.5 s"))
    assert took < 5, took


def test_debug_still_shows_tracebacks_for_hostile_input(tmp_path, capsys):
    runs = tmp_path / "runs.jsonl"
    runs.write_text('{"lr": 1e-3, "loss": 2, "p": {"a": 1}}\n')
    assert main(["fit", str(runs), "--by", "p", "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("scalefit: error:")
