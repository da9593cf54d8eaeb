"""examples/horizon_batch.py applies the pre-registered rules: on a synthetic table in the
study's design, made from known laws, each verdict is the one ground truth dictates, and
the verdict rules themselves can fail."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

from horizon_batch import band_verdict, equivalence_verdict, sign_verdict  # noqa: E402


def b_of(bs):
    """The true fixed-batch horizon exponent: -0.4 at 8 sequences, rising 0.15 a doubling."""
    return -0.4 + 0.15 * np.log2(bs / 8)


def study_table(seed: int = 0, noise: float = 0.002) -> pd.DataFrame:
    """The study's design (widths 16, 32; bs 8 at 2^20-2^24, bs 16-64 at 2^20-2^23; sqrt(2)
    LR grid of 9 around the true optimum; 2 seeds), losses from a quadratic valley."""
    rng = np.random.default_rng(seed)
    rows = []
    for w in (16, 32):
        for bs in (8, 16, 32, 64):
            for k in range(20, 25 if bs == 8 else 24):
                d = 2**k
                ln_opt = math.log(0.012) + b_of(bs) * math.log(d / 2**20) + 0.5 * math.log(bs / 8)
                for i in range(-4, 5):
                    ln_lr = ln_opt + 0.13 + i * math.log(2) / 2
                    for s in (0, 1):
                        loss = 3 + 0.05 * (ln_lr - ln_opt) ** 2 + noise * rng.standard_normal()
                        rows.append(dict(width=w, n_params=12 * w * w, tokens=d, batch_size=bs,
                                         lr=math.exp(ln_lr), seed=s, val_loss=loss,
                                         status="ok"))
    return pd.DataFrame(rows)


def test_verdicts_follow_ground_truth(tmp_path):
    path = tmp_path / "hb.csv"
    study_table().to_csv(path, index=False)
    out = tmp_path / "v.json"
    text = subprocess.run([sys.executable, str(ROOT / "examples" / "horizon_batch.py"),
                           str(path), "--boot", "200", "--json", str(out)],
                          capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert "| H1 |" in text and "99.3%" in text
    got = {c["claim"]: c["verdict"]["0.95"] for c in json.loads(out.read_text())}
    assert got["H1"] == got["H1w16"] == got["H1w32"] == "consistent"   # b(8) = -0.4
    assert got["H2"] == "consistent"                                    # beta 0.4 in 0.38-0.7
    assert got["H4"] == "consistent"                                    # b(64) - b(8) = 0.45
    assert got["S1"] == "consistent"                                    # flat in width
    assert got["H3w16"] in ("consistent", "not resolved")
    assert got["M1"] == "-"


def test_rules_can_fail():
    assert sign_verdict((-0.3, -0.1)) == "consistent"
    assert sign_verdict((0.1, 0.3)) == "inconsistent"
    assert sign_verdict((-0.1, 0.3)) == "not resolved"
    assert sign_verdict((0.1, 0.3), negative=False) == "consistent"
    assert band_verdict((0.1, 0.2)) == "inconsistent"            # misses 0.38-0.70
    assert band_verdict((0.3, 0.5)) == "consistent"              # meets it, inside +-0.15
    assert band_verdict((0.1, 0.9)) == "not resolved"            # too wide to say
    assert equivalence_verdict((-0.05, 0.1)) == "consistent"
    assert equivalence_verdict((-0.3, 0.1)) == "not resolved"    # contains 0, not flat
    assert equivalence_verdict((0.25, 0.4)) == "inconsistent"
