"""Issue 25, outputs and streams: the mode of every output, outputs never over an input
(the file behind standard input included), devices, FIFOs and /dev/stdout written in
place, two outputs naming one file refused, timed and bounded reads of streams and
saved fits, JSON that is always valid, Ctrl-C at any moment, saved fits that contradict
themselves refused."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from scalefit.cli import main
from scalefit.errors import ScalefitInputError
from scalefit.files import NonFiniteWarning, atomic_write, check_outputs, json_text

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "data" / "synthetic_sweeps.csv"
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1",
       "MPLBACKEND": "Agg"}


def sf(*argv, **kw) -> subprocess.CompletedProcess:
    """``python -m scalefit ARGV`` in a process (real standard streams)."""
    return subprocess.run([sys.executable, "-m", "scalefit", *map(str, argv)], env=ENV,
                          capture_output="stdout" not in kw, timeout=120, **kw)


@pytest.fixture
def umask():
    """Set the umask for one test (restored after)."""
    old = os.umask(0o022)
    yield lambda m: os.umask(m)
    os.umask(old)


def mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


# ------------------------------------------------------------------------ modes


@pytest.mark.parametrize("mask, want", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_output_takes_the_umask(tmp_path, umask, mask, want):
    umask(mask)
    atomic_write(tmp_path / "new.json", "{}")
    assert mode(tmp_path / "new.json") == want


def test_a_replaced_output_keeps_its_mode(tmp_path, umask):
    umask(0o077)
    p = tmp_path / "old.json"
    p.write_text("old")
    p.chmod(0o644)
    atomic_write(p, "new")
    assert p.read_text() == "new" and mode(p) == 0o644


def test_a_symlinked_output_is_written_through_the_link(tmp_path, umask):
    umask(0o022)
    real = tmp_path / "real.json"
    real.write_text("old")
    real.chmod(0o640)
    (tmp_path / "link.json").symlink_to(real)
    atomic_write(tmp_path / "link.json", "new")
    assert (tmp_path / "link.json").is_symlink() and real.read_text() == "new"
    assert mode(real) == 0o640


def test_cli_json_and_report_take_the_umask(tmp_path, umask):
    umask(0o022)
    rc = main(["fit", str(EXAMPLE), "--boot", "0", "-q", "--json", str(tmp_path / "o.json"),
               "--report", str(tmp_path / "rep")])
    assert rc == 0
    files = [tmp_path / "o.json", tmp_path / "rep" / "report.md",
             tmp_path / "rep" / "report.html", *(tmp_path / "rep" / "figures").iterdir()]
    assert {mode(p) for p in files} == {0o644}


# ------------------------------------------------------------- never over an input


def test_the_file_behind_standard_input_is_never_an_output(tmp_path):
    runs = tmp_path / "runs.csv"
    runs.write_bytes(EXAMPLE.read_bytes())
    os.link(runs, tmp_path / "hard.csv")
    for target in (runs, tmp_path / "hard.csv"):
        with open(runs, "rb") as f:
            r = sf("fit", "-", "--boot", "0", "-q", "--json", target, stdin=f)
        err = r.stderr.decode()
        assert r.returncode == 2 and err.count("\n") == 1, err
        assert "standard input" in err and "--json" in err
        assert runs.read_bytes() == EXAMPLE.read_bytes()


def test_two_outputs_naming_one_file_are_refused(tmp_path):
    x = tmp_path / "x.csv"
    with pytest.raises(ScalefitInputError, match="--json and --out both name"):
        check_outputs(str(x), None, [], out=str(tmp_path / "." / "x.csv"))
    x.write_text("old")
    os.link(x, tmp_path / "y.csv")
    with pytest.raises(ScalefitInputError, match="both name"):
        check_outputs(str(x), None, [], out=str(tmp_path / "y.csv"))
    check_outputs("/dev/null", None, [], out="/dev/null")  # a device takes both


# ------------------------------------------------------------- written in place


def test_dev_stdout_is_written_in_place(tmp_path):
    out = tmp_path / "out.txt"
    with open(out, "wb") as f:
        r = sf("fit", EXAMPLE, "--boot", "0", "-q", "--json", "/dev/stdout", stdout=f,
               stderr=subprocess.PIPE)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert text.startswith("{") and "runs (" in text  # the JSON, then the summary
    if os.path.lexists("/dev/stdout"):
        assert not os.path.isfile("/dev/stdout") or os.path.islink("/dev/stdout")


def test_a_fifo_and_a_pipe_are_written_in_place(tmp_path):
    fifo = tmp_path / "p.json"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    atomic_write(fifo, "{}\n")
    reader.join(10)
    assert got == [b"{}\n"] and stat.S_ISFIFO(os.stat(fifo).st_mode)
    r, w = os.pipe()
    try:
        atomic_write(f"/proc/self/fd/{w}", b"through the pipe")
        assert os.read(r, 100) == b"through the pipe"
    finally:
        os.close(r)
        os.close(w)


# ------------------------------------------------------------------------ reading


def test_a_fifo_no_program_writes_is_refused_after_the_wait(tmp_path, monkeypatch):
    from scalefit.readers import read_table
    from scalefit.results.load import read_json

    monkeypatch.setenv("SCALEFIT_STREAM_WAIT", "0.3")
    os.mkfifo(tmp_path / "f.json")
    for read in (read_json, read_table):
        t0 = time.perf_counter()
        with pytest.raises(ScalefitInputError, match="no data came for 0.3 s"):
            read(tmp_path / "f.json")
        assert time.perf_counter() - t0 < 5


def test_a_saved_fit_is_read_with_a_bound(tmp_path, monkeypatch):
    import scalefit.results.load as load

    monkeypatch.setattr(load, "MAX_BYTES", 1 << 16)
    with pytest.raises(ScalefitInputError, match="larger than"):
        load.read_json("/dev/zero")
    big = tmp_path / "big.json"
    big.write_text(" " * (1 << 17) + "{}")
    with pytest.raises(ScalefitInputError, match="big.json: is larger than"):
        load.read_json(big)


def test_a_terminal_on_standard_input_is_refused():
    import pty

    parent, child = pty.openpty()
    try:
        r = subprocess.run([sys.executable, "-m", "scalefit", "fit", "-"], stdin=child,
                           capture_output=True, env=ENV, timeout=60)
    finally:
        os.close(parent)
        os.close(child)
    assert r.returncode == 2 and b"standard input is a terminal" in r.stderr


# ------------------------------------------------------------------------ JSON


def test_json_text_is_total():
    with pytest.warns(NonFiniteWarning, match=r"2 value\(s\).*\$\.a\[1\], \$\.b\.c"):
        text = json_text({"a": [1.0, float("inf")], "b": {"c": np.float32("nan")}, "d": 2})
    assert json.loads(text) == {"a": [1.0, None], "b": {"c": None}, "d": 2}


def test_chinchilla_json_on_extreme_but_finite_sizes(tmp_path, capsys):
    rows = [(n * 1e290, d * 1e290, 1.7 + 400 * n ** -0.34 + 1200 * d ** -0.34)
            for n in (1e7, 3e7, 1e8, 3e8) for d in (1e9, 3e9, 1e10)]
    runs = tmp_path / "runs.csv"
    runs.write_text("N,D,loss\n" + "".join(f"{n},{d},{v}\n" for n, d, v in rows))
    rc = main(["chinchilla", str(runs), "-q", "--json", str(tmp_path / "o.json")])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert json.loads((tmp_path / "o.json").read_text())["range"]["C"] == [None, None]
    assert "written as null: $.range.C[0]" in err


# ------------------------------------------------------------------------ Ctrl-C

STARTER = ("import runpy, sys; sys.argv = ['scalefit'] + sys.argv[1:]; import scalefit; "
           "print('go', flush=True); "
           "runpy.run_module('scalefit', run_name='__main__', alter_sys=True)")


def _sigint_default():
    """In the child: Ctrl-C as a terminal delivers it. A shell that starts a job in the
    background (``bash .ci/run &``) makes its children ignore SIGINT, and an ignored
    SIGINT stays ignored through exec: Python then never sees it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("delay", [0.0, 0.005, 0.02, 0.05, 0.1, 0.3, 0.8])
def test_ctrl_c_at_any_moment_is_one_line_and_130(delay):
    """SIGINT from the first line of the package on (the child says 'go' once the
    package's first line has run, as the scalefit command): during the imports of the
    command line, numpy and pandas, the parsing, the fit. (Before it, Python's own start
    and its site files run: no scalefit code can answer there.)"""
    # 30,000 resamples by group: about 10 s of work, so the signal always lands inside it
    p = subprocess.Popen([sys.executable, "-c", STARTER, "fit", str(EXAMPLE), "--by",
                          "parameterization", "--boot", "30000", "-q"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV,
                         preexec_fn=_sigint_default)
    assert p.stdout.readline() == b"go\n"
    time.sleep(delay)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert err == b"scalefit: error: interrupted\n" and out == b""


SWALLOWER = (
    "import os, signal, sys, time; sys.argv = ['scalefit', 'fit', sys.argv[1]]; "
    "import scalefit; from scalefit.cli import commands, main\n"
    "def fit(args):\n"
    "    try:\n"
    "        os.kill(os.getpid(), signal.SIGINT); time.sleep(5)\n"
    "    except KeyboardInterrupt:  # as numpy does when Ctrl-C lands inside its import\n"
    "        raise ImportError('PyCapsule_Import could not import module datetime')\n"
    "    return 0\n"
    "commands.COMMANDS['fit'] = fit; sys.exit(main())\n")


def test_ctrl_c_that_a_library_turns_into_another_error_is_still_130():
    """numpy converts a KeyboardInterrupt raised inside its C import into ImportError
    (seen on a loaded 2-core machine): still an interrupt, not an internal error."""
    p = subprocess.run([sys.executable, "-c", SWALLOWER, str(EXAMPLE)], capture_output=True,
                       env=ENV, preexec_fn=_sigint_default, timeout=60)
    assert (p.returncode, p.stderr) == (130, b"scalefit: error: interrupted\n")


def test_ctrl_c_of_python_m_scalefit():
    p = subprocess.Popen([sys.executable, "-m", "scalefit", "fit", str(EXAMPLE), "--by",
                          "parameterization", "--boot", "30000", "-q"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV,
                         preexec_fn=_sigint_default)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert (p.returncode, err) == (130, b"scalefit: error: interrupted\n")


def test_importing_scalefit_leaves_sigint_alone():
    import scalefit  # noqa: F401

    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# ------------------------------------------------------------------ saved fits


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("fit")
    assert main(["fit", str(EXAMPLE), "--by", "parameterization", "--boot", "10", "-q",
                 "--json", str(d / "fit.json")]) == 0
    return json.loads((d / "fit.json").read_text())


def _load(d: dict, tmp_path):
    from scalefit.results.load import load_fit

    p = tmp_path / "fit.json"
    p.write_text(json.dumps(d))
    return load_fit(p)


def test_a_saved_fit_that_contradicts_itself_is_refused(saved, tmp_path):
    lr = next(i for i, law in enumerate(saved["laws"]) if law["target"] == "lr_opt")
    edits = {
        f"$.laws[{lr}].params.C": lambda law: law["params"].update(C=law["params"]["C"] * 2),
        f"$.laws[{lr}].form": lambda law: law.update(form="lr_opt = 0.001"),
    }
    for key, edit in edits.items():
        d = json.loads(json.dumps(saved))
        edit(d["laws"][lr])
        with pytest.raises(ScalefitInputError, match=key.replace("$", r"\$").replace(
                "[", r"\[").replace("]", r"\]")):
            _load(d, tmp_path)
    d = json.loads(json.dumps(saved))
    d["laws"][lr]["params"]["C"] *= 1 + 1e-13  # a float round trip is not an edit
    _load(d, tmp_path)


def test_an_interrupt_in_the_command_ends_it_with_130_at_once(monkeypatch):
    """Once the command has reported an interrupt (and rolled its outputs back), the
    process ends there with 130: a KeyboardInterrupt still pending during interpreter
    shutdown turned it into death by SIGINT (-2) about once in 40 runs under load."""
    from scalefit import interrupt

    ended = []
    monkeypatch.setattr(interrupt, "is_command_line", lambda: True)
    monkeypatch.setattr(interrupt.os, "_exit", ended.append)
    interrupt.end_command(130)
    assert ended == [130]
    monkeypatch.setattr(interrupt, "is_command_line", lambda: False)
    interrupt.end_command(130)                 # a library caller: nothing ends
    assert ended == [130]
