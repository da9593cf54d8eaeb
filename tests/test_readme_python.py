"""The README's Python block runs top to bottom in one process, as printed."""

import re
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def python_block() -> str:
    readme = (ROOT / "README.md").read_text()
    return re.search(r"From Python.*?```python\n(.*?)```", readme, re.S).group(1)


def test_readme_python_block_runs(tmp_path, monkeypatch, capsys):
    block = python_block()
    # the parts of the API the issue names must be exercised, not only mentioned
    for call in ("scalefit.fit(", "scalefit.transfer(", "res.predict(", "res.audit(",
                 "res.law(", "scalefit.load_fit(", ".plot(", ".report(", "fit_chinchilla("):
        assert call in block, call
    (tmp_path / "examples").symlink_to(ROOT / "examples")  # the block's relative paths
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # extrapolation warnings the block triggers
        exec(compile(block, "README.md", "exec"), namespace)
    out = capsys.readouterr().out
    assert "Transfer quality by parameterization (reference: mup" in out
    assert "LR audit: lr 3.00e-04" in out and "Chinchilla-form loss law" in out
    assert (tmp_path / "fit_py.json").exists()
    assert (tmp_path / "report_py" / "report.html").exists()
    # the module-level function is still the function after everything ran
    import scalefit

    assert callable(scalefit.transfer) and not isinstance(scalefit.transfer, type(scalefit))
    assert set(namespace["figures"]) == {"sweeps", "lr_law", "curvature", "compare"}
    saved, res = namespace["saved"], namespace["res"]
    a, b = res.predict(scale=7e9, horizon=1e12), saved.predict(scale=7e9, horizon=1e12)
    assert len(a) == 3 and [r["lr_ci"] for r in a] == [r["lr_ci"] for r in b]
