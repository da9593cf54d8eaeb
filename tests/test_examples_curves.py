"""examples/curves_mpl.py on one model size (few resamples): it runs, writes the JSON keys
the issue names, and the published parameters reproduce the authors' 25M test metrics."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _example():
    spec = importlib.util.spec_from_file_location("curves_mpl", ROOT / "examples" / "curves_mpl.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_curves_example_writes_the_split(datasets, tmp_path, capsys):
    data = datasets / "multipowerlaw"
    if not (data / "csv_25").is_dir():
        pytest.skip("multipowerlaw data absent")
    out = tmp_path / "mpl.json"
    assert _example().main(["--data", str(data), "--sizes", "25", "--boot", "8",
                            "--json", str(out)]) == 0
    d = json.loads(out.read_text())["25"]
    for k in ("r2", "rmse", "mean_rel_error", "worst_rel_error", "band_coverage"):
        assert isinstance(d[k], float)
    pub = d["detail"]["published"]
    assert pub["r2"] == pytest.approx(0.9988, abs=5e-5)
    assert pub["mean_rel_error"] == pytest.approx(0.00110, abs=5e-6)
    assert "published" in capsys.readouterr().out


def test_curves_example_skips_without_data(tmp_path, capsys):
    assert _example().main(["--data", str(tmp_path)]) == 0
    assert "skipped" in capsys.readouterr().out
