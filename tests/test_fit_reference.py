"""The numbers of ``scalefit.fit`` do not move when its code is made faster.

Each case fits a fixed table and compares ``to_dict()`` (the primary laws' draws included)
and the printed text with ``tests/data/fit_reference.json.gz``, written by the code before
the batched loss laws and power laws (issue #29 item 1, issue #27 item 5). Floats must
agree to a relative 1e-9 (a batched sum may round its last bit differently); text, and
with it every number at its printed precision, exactly.

Rewrite the reference only when a change of the numbers is intended, and say so:
``python tests/test_fit_reference.py --write``.
"""

from __future__ import annotations

import gzip
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "data" / "fit_reference.json.gz"
REL = 1e-9
if __name__ == "__main__":  # this checkout's scalefit, not an installed one
    sys.path.insert(0, str(ROOT))
ABS = 1e-12


def _groups():
    from scalefit.synthetic import TrueLaw

    return {
        # a loss ratio to the reference that decays with scale (R_inf resolved) ...
        "mup": TrueLaw(C=0.5, a=-0.1, b=-0.3, L_inf=2.0, R_r=0.03, R_rho=-0.5),
        # ... a constant one, a different kappa, and a loss law without decay
        "sp": TrueLaw(C=0.3, a=-0.3, b=-0.25, L_inf=2.05, kappa=0.2, R_inf=0.02),
        "sp_emb": TrueLaw(C=0.4, a=-0.15, b=-0.3, L_inf=2.0, A=0.001, kappa=-0.1, q=0.02),
    }


def cases() -> dict:
    """name -> (table, keyword arguments of scalefit.fit)."""
    from scalefit.synthetic import TrueLaw, make_sweeps

    groups = _groups()
    horizons = make_sweeps(scales=(1e7, 3e7, 1e8, 3e8, 1e9), horizons=(1e9, 4e9, 1.6e10),
                           n_lrs=9, seeds=2, noise=0.004, groups=groups, lr_scatter=0.03,
                           seed=3)
    ratio = make_sweeps(scales=(1e7, 2e7, 5e7, 1e8, 2e8, 5e8), tokens_per_param=20, n_lrs=9,
                        seeds=2, noise=0.004, groups=groups, seed=5)
    plain = make_sweeps(scales=(1e7, 3e7, 1e8, 3e8, 1e9, 3e9), horizons=(2e9,), n_lrs=9,
                        seeds=3, noise=0.003, law=TrueLaw(), seed=7).drop(columns="horizon")
    real = ROOT / "examples" / "data" / "parameterization_cpu.csv"
    return {
        "horizons_by": (horizons, {"by": "parameterization", "n_boot": 200, "seed": 1}),
        "horizons_fix": (horizons, {"by": "parameterization", "n_boot": 200, "seed": 2,
                                    "fix": {"a": 0.0}, "reference": "sp"}),
        "fixed_ratio_by": (ratio, {"by": "parameterization", "n_boot": 200, "seed": 3}),
        "no_horizon": (plain, {"n_boot": 200, "seed": 4}),
        "real_by": (str(real), {"by": "parameterization", "n_boot": 200, "seed": 5}),
    }


def produce(name: str) -> dict:
    import scalefit

    table, kw = cases()[name]
    r = scalefit.fit(table, progress=None, **kw)
    out = {"dict": r.to_dict(draws=True), "text": r.summary(conditional=True).to_text()}
    if r.quality is not None:
        out["compare"] = r.summary(view="compare").to_text()
    # the checkout's own path (in a table's source) is not part of the numbers
    return digest(json.loads(json.dumps(out, allow_nan=True).replace(str(ROOT), "<root>")))


def _numbers(v) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def digest(obj):
    """``obj`` with every long list of numbers (draws, a sweep's runs) replaced by sums that
    move with any of its values: count of NaN, sum, sum of |v|, sum of v^2, sum of i * v
    (order), min and max, per column (the reference stays small)."""
    if isinstance(obj, dict):
        return {k: digest(v) for k, v in obj.items()}
    if not isinstance(obj, list):
        return obj
    flat = len(obj) > 16 and all(_numbers(v) for v in obj)
    rows = (len(obj) > 16 and all(isinstance(v, list) for v in obj)
            and len({len(v) for v in obj}) == 1 and all(_numbers(x) for v in obj for x in v))
    if not (flat or rows):
        return [digest(v) for v in obj]
    a = np.array([[np.nan if x is None else x for x in (v if rows else [v])] for v in obj],
                 dtype=float)
    ok = np.isfinite(a)
    z = np.where(ok, a, 0.0)
    i = np.arange(1, len(a) + 1)[:, None]
    return {"digest": list(a.shape), "n_nan": (~ok).sum(0).tolist(),
            "sum": z.sum(0).tolist(), "abs_sum": np.abs(z).sum(0).tolist(),
            "sq_sum": (z * z).sum(0).tolist(), "order_sum": (i * z).sum(0).tolist(),
            "min": np.where(ok, a, np.inf).min(0).tolist(),
            "max": np.where(ok, a, -np.inf).max(0).tolist()}


def differences(ref, got, path: str = "") -> list[str]:
    """Where ``got`` differs from ``ref``: floats beyond REL/ABS, anything else exactly."""
    if isinstance(ref, dict) and isinstance(got, dict):
        if "digest" in ref and ref.keys() == got.keys() and ref["digest"] == got["digest"]:
            return _digest_differences(ref, got, path)
        if ref.keys() != got.keys():
            return [f"{path}: keys {sorted(ref.keys() ^ got.keys())}"]
        return [d for k in ref for d in differences(ref[k], got[k], f"{path}.{k}")]
    if isinstance(ref, list) and isinstance(got, list):
        if len(ref) != len(got):
            return [f"{path}: length {len(ref)} != {len(got)}"]
        return [d for i, (a, b) in enumerate(zip(ref, got))
                for d in differences(a, b, f"{path}[{i}]")]
    if isinstance(ref, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        if math.isnan(ref) and math.isnan(got):
            return []
        if ref == got or math.isclose(ref, got, rel_tol=REL, abs_tol=ABS):
            return []
        return [f"{path}: {ref!r} != {got!r}"]
    if ref != got or type(ref) is not type(got):
        if isinstance(ref, str) and isinstance(got, str):
            return [f"{path}: text differs:\n--- reference\n{ref}\n--- now\n{got}"]
        return [f"{path}: {ref!r} != {got!r}"]
    return []


def _digest_differences(ref: dict, got: dict, path: str) -> list[str]:
    """Sums agree to REL of the sum of |v| (times the row count for the order sum)."""
    out = []
    n = ref["digest"][0]
    scale = np.asarray(ref["abs_sum"], float)
    for key in ("n_nan", "abs_sum", "sq_sum", "min", "max", "sum", "order_sum"):
        a, b = np.asarray(ref[key], float), np.asarray(got[key], float)
        tol = {"sum": REL * scale, "order_sum": REL * scale * n}.get(
            key, REL * np.abs(a) + ABS)
        bad = ~((a == b) | (np.abs(a - b) <= tol))
        if key == "n_nan":
            bad = a != b
        if bad.any():
            out.append(f"{path}.{key}: {a.tolist()} != {b.tolist()}")
    return out


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(gzip.decompress(REFERENCE.read_bytes()))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(cases()))
def test_fit_numbers_unchanged(name, reference):
    ref = reference[name]
    got = produce(name)
    got["dict"]["version"] = ref["dict"]["version"]  # the release may move; numbers may not
    diff = differences(ref, got)
    assert not diff, f"{len(diff)} difference(s), first: " + "\n".join(diff[:5])


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(__doc__)
    import scalefit

    assert Path(scalefit.__file__).resolve().parents[1] == ROOT, scalefit.__file__
    data = {name: produce(name) for name in sorted(cases())}
    REFERENCE.parent.mkdir(exist_ok=True)
    text = json.dumps(data, indent=None, separators=(",", ":")) + "\n"
    REFERENCE.write_bytes(gzip.compress(text.encode(), compresslevel=9, mtime=0))
    print(f"wrote {REFERENCE} ({REFERENCE.stat().st_size} bytes)")
