"""The example scripts run end to end (on the bundled data, or real data when present)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                          check=True, cwd=ROOT).stdout


def test_token_horizon_script_on_bundled_example(tmp_path):
    out = run("examples/token_horizon.py", "examples/data/synthetic_sweeps.csv", "--by",
              "parameterization", "--boot", "50", "--out", tmp_path)
    md = (tmp_path / "token_horizon.md").read_text()
    assert md.count("supports the finding") == 3  # b ~ -0.3 in all three synthetic groups
    assert (tmp_path / "report.html").exists() and "horizon exponent" in out


def test_llama_audit_script(datasets):
    out = run("examples/llama_audit.py", "--data",
              datasets / "steplaw" / "dense_lr_bs_loss.csv", "--bs", "1024", "--boot", "50")
    assert "predicted optimum" in out and "extrapolation: scale 7e+09" in out


def test_parameterization_script_on_bundled_example(tmp_path):
    run("examples/parameterization.py", "examples/data/synthetic_sweeps.csv", "--boot", "50",
        "--out", tmp_path)
    md = (tmp_path / "parameterization.md").read_text()
    # the synthetic laws were built with all three findings true
    assert md.count("| agrees |") == 4, md


def test_parameterization_script_studies_each_weight_decay(tmp_path):
    import pandas as pd

    d = pd.read_csv(ROOT / "examples" / "data" / "synthetic_sweeps.csv")
    both = pd.concat([d.assign(weight_decay=0.0),
                      d.assign(weight_decay=0.1, loss=d["loss"] + 0.01)])
    both.to_csv(tmp_path / "wd.csv", index=False)
    run("examples/parameterization.py", tmp_path / "wd.csv", "--boot", "30", "--out",
        tmp_path / "out")
    md = (tmp_path / "out" / "parameterization.md").read_text()
    assert "weight decay 0\n" in md and "weight decay 0.1\n" in md
    assert md.count("| agrees |") == 8, md  # the same four findings within each decay
    assert (tmp_path / "out" / "wd0.1" / "report.html").exists()
