"""A results file cut at every offset of its last line (a writer killed mid-row) reads as the
file without that line: the same runs, the same fit, and one note naming the line.

The file is the tail of the reference trainer's ``examples/data/parameterization_cpu.csv``
(quoted JSON configs, a status column, a loss in the middle of the row). The table read
is compared at every offset of the last line (the rows read decide the runs and the fit);
the runs at a spread of offsets; the fit at every offset inside the loss and a spread of
others.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalefit import fit
from scalefit.readers import parse_bytes
from scalefit.table import load_runs

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "examples" / "data" / "parameterization_cpu.csv"
TAIL = 60  # data rows kept: the file's last ones, so its true last line is the one cut


@pytest.fixture(scope="module")
def results() -> tuple[str, str]:
    """(the file without its last line, the last line without its line break)."""
    lines = RESULTS.read_text().splitlines(keepends=True)
    text = lines[0] + "".join(lines[-TAIL:])
    last = lines[-1].rstrip("\n")
    return text[: len(text) - len(lines[-1])], last


def _runs(text: str):
    return load_runs(parse_bytes(text.encode(), "results.csv", "csv"), by="parameterization",
                     source="results.csv")


def _same(a, b) -> bool:
    return a.data.equals(b.data) and a.n_excluded == b.n_excluded and a.missing == b.missing


def test_every_cut_of_the_last_line_reads_as_the_file_without_it(results):
    head, last = results
    base = parse_bytes(head.encode(), "results.csv", "csv")
    changed = []
    for k in range(1, len(last) + 1):  # k = len(last): complete, but no line break
        df = parse_bytes((head + last[:k]).encode(), "results.csv", "csv")
        if not df.equals(base):
            changed.append(k)
        assert any(f"line {TAIL + 1} (row {TAIL})" in n for n in df.attrs["scalefit"].notes), k
    assert changed == [], f"{len(changed)} of {len(last)} cuts changed the rows: {changed[:10]}"
    for k in np.linspace(1, len(last), 8).astype(int):
        assert _same(_runs(head + last[:k]), _runs(head)), k


def test_the_fit_at_cuts_inside_the_loss_equals_the_fit_without_the_line(results):
    head, last = results
    header = head.splitlines()[0].split(",")
    fields = pd.read_csv(io.StringIO(",".join(header) + "\n" + last),
                         dtype=str, keep_default_na=False).iloc[0]
    loss = fields["val_loss"]
    start = last.index("," + loss + ",") + 1
    cuts = sorted({*range(start, start + len(loss) + 1),
                   *np.linspace(1, len(last), 12).astype(int).tolist()})
    opts = dict(by="parameterization", n_boot=0, progress=None, source="results.csv")
    want = fit(parse_bytes(head.encode(), "results.csv", "csv"), **opts)
    for k in cuts:
        got = fit(parse_bytes((head + last[:k]).encode(), "results.csv", "csv"), **opts)
        pd.testing.assert_frame_equal(got.optima, want.optima)
        assert got.input["rows"] == want.input["rows"]
        assert got.input["diverged"] == want.input["diverged"], k


def test_a_terminated_last_line_is_kept(results):
    head, last = results
    assert _runs(head + last + "\n").n_rows == _runs(head).n_rows + 1
