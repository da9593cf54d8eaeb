"""Outputs are written atomically and never over an input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scalefit.cli import main
from scalefit.errors import ScalefitInputError
from scalefit.files import atomic_write, check_outputs, write_json

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "data" / "synthetic_sweeps.csv"
SMALL = "scale,lr,loss\n" + "".join(f"{s},{lr},{2 + (i - 2) ** 2 * 0.1 + s / 1e9}\n"
                                    for s in (1e7, 1e8, 1e9)
                                    for i, lr in enumerate([1e-4, 3e-4, 1e-3, 3e-3, 1e-2]))


def test_a_failing_write_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "fit.json"
    target.write_bytes(b'{"old": true}\n')
    before = target.read_bytes()

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(ScalefitInputError, match="No space left on device"):
        write_json(target, {"new": list(range(1000))})
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.json"]  # no temporary left


def test_a_write_replaces_the_file_whole(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    target.write_text("old")
    renames = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (renames.append((a, b)), real(a, b)))
    atomic_write(target, "new")
    assert target.read_text() == "new"
    (src, dst), = renames
    assert Path(dst) == target and Path(src).parent == tmp_path and src != str(target)


@pytest.mark.parametrize("spell", ["same", "dot", "link"])
def test_json_over_the_input_is_refused(tmp_path, capsys, monkeypatch, spell):
    runs = tmp_path / "runs.csv"
    runs.write_text(SMALL)
    before = runs.read_bytes()
    monkeypatch.chdir(tmp_path)
    out = {"same": str(runs), "dot": "./runs.csv", "link": "alias.csv"}[spell]
    if spell == "link":
        (tmp_path / "alias.csv").symlink_to(runs)
    rc = main(["fit", str(runs), "--boot", "0", "--json", out])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert "is the input file" in err
    assert runs.read_bytes() == before


def test_report_over_the_input_is_refused(tmp_path, capsys):
    folder = tmp_path / "rep"
    folder.mkdir()
    runs = folder / "report.md"  # a runs table the report would overwrite
    runs.write_text(SMALL)
    rc = main(["fit", str(runs), "--format", "csv", "--boot", "0", "--report", str(folder)])
    err = capsys.readouterr().err
    assert rc == 2 and "would overwrite the input" in err and err.count("\n") == 1
    assert runs.read_text() == SMALL


def test_predict_json_over_the_fit_is_refused(tmp_path, capsys):
    fit = tmp_path / "fit.json"
    assert main(["fit", str(EXAMPLE), "--boot", "0", "--json", str(fit), "-q"]) == 0
    before = fit.read_bytes()
    capsys.readouterr()
    rc = main(["predict", str(fit), "--scale", "1e9", "--horizon", "1e10", "--json", str(fit)])
    assert rc == 2 and "is the input file" in capsys.readouterr().err
    assert fit.read_bytes() == before


def test_check_outputs_accepts_new_files(tmp_path):
    runs = tmp_path / "runs.csv"
    runs.write_text(SMALL)
    check_outputs(str(tmp_path / "fit.json"), str(tmp_path / "report"), [str(runs)])
    check_outputs("-", None, ["-"])


def test_python_save_and_report_refuse_the_input(tmp_path):
    import scalefit

    runs = tmp_path / "runs.csv"
    runs.write_text(SMALL)
    res = scalefit.fit(runs, n_boot=0)
    with pytest.raises(ScalefitInputError, match="is the input file"):
        res.save(runs)
    assert runs.read_text() == SMALL
    res.save(tmp_path / "fit.json")
    assert scalefit.load_fit(tmp_path / "fit.json").input["source"] == str(runs)
