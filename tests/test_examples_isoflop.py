"""The IsoFLOP example scripts: the bundled synthetic table is what its generator makes, and
the Porian script runs on the shared IsoFLOP table (skipped without it)."""

import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))


def test_bundled_synthetic_isoflop_is_reproducible():
    import make_synthetic_isoflop as gen

    df, md = gen.make()
    bundled = pd.read_csv(ROOT / "examples" / "data" / "synthetic_isoflop.csv")
    pd.testing.assert_frame_equal(df.reset_index(drop=True), bundled, check_dtype=False)
    assert md == (ROOT / "examples" / "data" / "synthetic_isoflop.md").read_text()
    assert "| 0.4516 |" in md  # the true exponent, quoted in the README


def test_porian_script(datasets):
    data = datasets / "resolving-scaling-law-discrepancies" / "isoflop_points.csv"
    out = subprocess.run([sys.executable, "examples/isoflop_porian.py", "--data", str(data),
                          "--boot", "200"], capture_output=True,
                         text=True, check=True, cwd=ROOT).stdout
    lines = {line.split("  ")[0]: line for line in out.splitlines()}
    tuned = lines["rw, tuned, short, const, standard, val"]
    kaplan = lines["rw, base, long, kaplan, kaplan, train"]
    assert "0.501 [" in tuned and "0.497 [0.492, 0.503]" in tuned and " 0.497 " in tuned
    assert "0.865 [" in kaplan and kaplan.rstrip().endswith("0.835")
    assert "177 profiles" in out


def test_porian_script_without_data(tmp_path):
    out = subprocess.run([sys.executable, "examples/isoflop_porian.py", "--data",
                          str(tmp_path / "none.csv")], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert "not found" in out
