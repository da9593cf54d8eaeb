"""End-to-end tests of the ``scalefit`` command line through its real entry points.

Every command runs as ``python -m scalefit ...`` in a subprocess (and once through the
``scalefit`` console script), on the bundled synthetic example and, when
``../shared/datasets`` exists, on real sweep data from other projects.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalefit import __version__
from scalefit.cli import STATUS_NAMES, main
from scalefit.errors import ScalefitInputError
from scalefit.progress import ProgressBar
from scalefit.table import apply_extract

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "data" / "synthetic_sweeps.csv"
DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
STEPLAW = DATASETS / "steplaw" / "dense_lr_bs_loss.csv"
MISFIT = DATASETS / "misfitting-scaling_laws" / "scaling_results_last_ckpt_only.csv"
GEMSTONE = DATASETS / "gemstone-scaling-laws" / "preflight_mup_olmo_variant.csv"
CHINCHILLA = DATASETS / "kyo-takano-chinchilla" / "df.csv"
GEM_EXTRACT = r"Name:-(?P<width>\d+)x(?P<depth>\d+)_.*_lr(?P<lr>[0-9.e+-]+)_"
COMMANDS = ("fit", "compare", "predict", "audit", "transfer", "chinchilla")


def scalefit(*args, stdin: str | None = None, cwd=None, timeout: int = 180):
    """Run ``python -m scalefit ARGS``; return the CompletedProcess (text mode)."""
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    return subprocess.run([sys.executable, "-m", "scalefit", *map(str, args)], input=stdin,
                          capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env)


def run_main(capsys, *args):
    """Run ``scalefit.cli.main`` in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def ok(proc) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\n" \
                                 f"stderr:\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    return proc


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not available (shared datasets absent)")
    return path


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """One fit of the example, saved as JSON (absolute source: refits work anywhere)."""
    d = tmp_path_factory.mktemp("fit")
    out = d / "fit.json"
    proc = ok(scalefit("fit", EXAMPLE, "--by", "parameterization", "--boot", 40,
                       "--json", out))
    return out, proc


# ---------------------------------------------------------------- help, version, entry points


def test_version():
    proc = ok(scalefit("--version"))
    assert proc.stdout.strip() == f"scalefit {__version__}"


@pytest.mark.parametrize("command", (None, *COMMANDS))
def test_help_shows_examples(command):
    args = ["--help"] if command is None else [command, "--help"]
    proc = ok(scalefit(*args))
    assert "examples:" in proc.stdout
    assert "scalefit " + (command or "fit") in proc.stdout.split("examples:")[1]


def test_no_arguments_prints_help_and_exits_2():
    proc = scalefit()
    assert proc.returncode == 2
    assert "usage: scalefit" in proc.stderr and "examples:" in proc.stderr


def test_console_script(tmp_path):
    exe = Path(sys.executable).parent / "scalefit"
    script = str(exe) if exe.exists() else shutil.which("scalefit")
    if script is None:
        pytest.skip("the scalefit console script is not installed")
    proc = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and __version__ in proc.stdout
    out = tmp_path / "fit.json"
    proc = subprocess.run([script, "fit", str(EXAMPLE), "--by", "parameterization", "--boot",
                           "20", "--json", str(out), "-q"], capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert json.loads(out.read_text())["input"]["rows"] == 1320


def test_cli_imports_nothing_heavy():
    code = ("import sys, scalefit.cli\n"
            "heavy = [m for m in ('numpy', 'pandas', 'matplotlib', 'lmfit', 'scipy', 'torch')"
            " if m in sys.modules]\n"
            "print(','.join(heavy))")
    proc = ok(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60))
    assert proc.stdout.strip() == ""


def test_fit_imports_only_what_it_uses(tmp_path):
    """A plain fit (intervals, JSON, no report) loads neither torch nor the heavy modules
    it does not need: scipy.stats alone is ~490 modules and about a second of start-up."""
    code = ("import sys\nfrom scalefit.cli import main\n"
            f"rc = main(['fit', {str(EXAMPLE)!r}, '--boot', '50', '--json', "
            f"{str(tmp_path / 'f.json')!r}, '-q'])\n"
            "heavy = [m for m in ('torch', 'scipy.stats', 'matplotlib', 'statsmodels', 'lmfit')"
            " if m in sys.modules]\n"
            "print(rc, ','.join(heavy) or 'none')")
    proc = ok(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=120))
    assert proc.stdout.strip().splitlines()[-1] == "0 none"


def test_status_names_are_the_librarys():
    from scalefit.core.optimum import STATUS_NAMES as lib

    assert STATUS_NAMES is lib  # one definition, in the numpy-free core.status_names


# ---------------------------------------------------------------- fit


def test_fit_example_prints_summary_and_valid_json(fitted):
    from scalefit.schema import validate

    out, proc = fitted
    text = proc.stdout
    assert text.startswith(f"scalefit {__version__}: ")
    for part in ("1320 runs", "60 sweeps (60 ok)", "by: parameterization",
                 "Optimal LR per sweep", "Laws (95% CI", "lr_opt = C * scale^a * horizon^b",
                 "Transfer quality by parameterization"):
        assert part in text
    assert proc.stderr.strip() == f"scalefit: wrote {out}"
    raw = out.read_text()
    assert "NaN" not in raw and "Infinity" not in raw
    d = json.loads(raw)
    assert validate(d) == []
    assert d["input"]["source"] == str(EXAMPLE)
    assert d["settings"]["n_boot"] == 40
    mup = next(law for law in d["laws"] if law["primary"] and law["target"] == "lr_opt"
               and law["group"] == {"parameterization": "mup"})
    # The example was generated with a = -0.05, b = -0.30 for mup.
    assert mup["params"]["a"] == pytest.approx(-0.05, abs=0.02)
    assert mup["params"]["b"] == pytest.approx(-0.30, abs=0.03)


def test_fit_json_to_stdout_and_stdin_input():
    proc = ok(scalefit("fit", "-", "--boot", 10, "--by", "parameterization", "--json", "-",
                       stdin=EXAMPLE.read_text()))
    d = json.loads(proc.stdout)  # nothing but the JSON on stdout
    assert d["input"]["source"] == "<stdin>"
    assert d["input"]["rows"] == 1320
    assert proc.stderr == ""


def test_fit_runs_after_by_and_quiet(tmp_path, capsys):
    rc, out, err = run_main(capsys, "fit", "--by", "parameterization", EXAMPLE, "--boot", 0,
                            "--quiet", "--json", tmp_path / "f.json")
    assert rc == 0
    assert "by: parameterization" in out
    assert "bootstrap: off" in out
    assert err == ""


def test_fit_report_is_self_contained(tmp_path):
    # A small slice of the example keeps the figures quick to draw.
    df = pd.read_csv(EXAMPLE)
    small = df[df["parameterization"].isin(["mup", "sp"]) & (df["tokens"] <= 5e9)
               & (df["n_params"] <= 2e8)]
    runs = tmp_path / "small.csv"
    small.to_csv(runs, index=False)
    rep = tmp_path / "report"
    proc = ok(scalefit("fit", runs, "--by", "parameterization", "--boot", 30,
                       "--report", rep))
    assert f"wrote {rep / 'report.html'}" in proc.stderr
    html = (rep / "report.html").read_text()
    md = (rep / "report.md").read_text()
    assert html.count("data:image/png;base64,") == 4
    assert 'src="figures' not in html and 'src="http' not in html
    for name in ("sweeps", "lr_law", "curvature", "compare"):
        png, svg = rep / "figures" / f"{name}.png", rep / "figures" / f"{name}.svg"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert svg.stat().st_size > 1000
        assert f"](figures/{name}.png)" in md
    assert "## Transfer quality" in md and "| mup |" in md


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_fit_reads_parquet_and_jsonl(tmp_path, fmt, capsys):
    df = pd.read_csv(EXAMPLE)
    path = tmp_path / f"runs.{fmt}"
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
        df.to_parquet(path)
    else:
        df.to_json(path, orient="records", lines=True)
    rc, out, err = run_main(capsys, "fit", path, "--by", "parameterization", "--boot", 0)
    assert rc == 0, err
    assert "60 sweeps (60 ok)" in out


def test_fit_all_laws_and_format_flag(tmp_path, capsys):
    runs = tmp_path / "runs.dat"  # unknown extension: --format says what it is
    runs.write_text(EXAMPLE.read_text())
    by = ("--by", "parameterization")
    rc, out, err = run_main(capsys, "fit", runs, "--format", "csv", "--boot", 0, *by)
    assert rc == 0, err
    assert "(conditional)" not in out
    rc, out, err = run_main(capsys, "fit", runs, "--format", "csv", "--boot", 0, "--all-laws",
                            *by)
    assert rc == 0 and out.count("(conditional)") >= 8


def test_fit_warns_about_a_forgotten_by(capsys):
    rc, out, err = run_main(capsys, "fit", EXAMPLE, "--boot", 0, "-q")
    assert rc == 0
    assert err.startswith("scalefit: warning: column 'parameterization' (3 values: mup, sp, "
                          "sp_emb) varies within sweeps")
    assert "add --by parameterization" in err and err.count("\n") == 1


def test_fit_ci_as_percentage_and_seed(tmp_path, capsys):
    out = tmp_path / "f.json"
    assert run_main(capsys, "fit", EXAMPLE, "--boot", 20, "--ci", 90, "--seed", 3, "--json",
                    out, "-q")[0] == 0
    s = json.loads(out.read_text())["settings"]
    assert s["ci"] == pytest.approx(0.9) and s["seed"] == 3 and s["n_boot"] == 20


# ---------------------------------------------------------------- compare


def test_compare_prints_transfer_quality(tmp_path):
    out = tmp_path / "cmp.json"
    proc = ok(scalefit("compare", EXAMPLE, "--by", "parameterization", "--reference", "mup",
                       "--boot", 30, "--json", out))
    text = proc.stdout
    assert "Optimal LR laws per group" in text
    assert "Transfer quality by parameterization (reference: mup" in text
    for g in ("mup", "sp", "sp_emb"):
        assert f"\n  {g} " in text
    d = json.loads(out.read_text())
    assert d["transfer"]["reference"] == "mup"
    kappa = {g["group"]["parameterization"]: g["kappa"] for g in d["transfer"]["groups"]}
    assert kappa["sp"] > kappa["mup"]  # SP's loss valley sharpens with scale


# ---------------------------------------------------------------- predict / audit / transfer


def _without_draws(out, tmp_path, source=None):
    d = json.loads(out.read_text())
    for law in d["laws"]:
        law.pop("draws", None)
    if source is not None:
        d["input"]["source"] = source
    p = tmp_path / "fit_nodraws.json"
    p.write_text(json.dumps(d))
    return p


def test_predict_from_saved_draws_anywhere(fitted, tmp_path):
    """fit --json saves the primary laws' draws: intervals need neither runs file nor refit,
    and they are those of the fit that wrote the file."""
    from scalefit import fit

    out, _ = fitted
    d = json.loads(out.read_text())
    assert all(law.get("draws") for law in d["laws"]
               if law["primary"] and law["target"] != "loss_opt")
    d["input"]["source"] = "moved_away.csv"
    lonely = tmp_path / "fit.json"
    lonely.write_text(json.dumps(d))
    proc = ok(scalefit("predict", lonely, "--scale", "7B", "--horizon", "1T", "--json", "-"))
    res = json.loads(proc.stdout)
    assert "bootstrap draws saved" in res["interval_source"]
    s = d["settings"]
    ref = fit(EXAMPLE, by="parameterization", n_boot=s["n_boot"], seed=s["seed"])
    for p in res["predictions"]:
        want = ref.predict(scale=7e9, horizon=1e12, group=p["group"])
        np.testing.assert_allclose(p["lr_ci"], want["lr_ci"], rtol=1e-12)


def test_predict_without_draws_never_refits(fitted, capsys, tmp_path):
    """A FIT.json without draws gives point estimates: the runs file it names (present
    here) is not opened and nothing is refitted (a saved fit is data only)."""
    out, _ = fitted
    out = _without_draws(out, tmp_path, source=str(EXAMPLE))
    proc = ok(scalefit("predict", out, "--scale", "7B", "--horizon", "1T", "--json", "-"))
    d = json.loads(proc.stdout)
    assert d["interval_source"].startswith(f"point estimates only: {out} holds no bootstrap")
    preds = {p["group"]["parameterization"]: p for p in d["predictions"]}
    assert set(preds) == {"mup", "sp", "sp_emb"}
    for p in preds.values():
        assert p["lr_ci"] is None and p["lr"] > 0
        assert p["extrapolation"]  # 7B and 1T lie beyond the fitted data
    rc, text, _ = run_main(capsys, "predict", out, "--scale", "7e9", "--horizon", "1e12",
                           "--group", "parameterization=sp")
    assert rc == 0
    assert "\n  sp " in text and "mup" not in text
    assert "warning: extrapolating" in text
    assert f"{preds['sp']['lr']:.2e}" in text


def test_predict_without_the_runs_file_gives_point_estimate(fitted, tmp_path):
    from scalefit import fit

    out, _ = fitted
    lonely = _without_draws(out, tmp_path, source="moved_away.csv")
    proc = ok(scalefit("predict", lonely, "--scale", "1e9", "--horizon", "1e10", "--json", "-"))
    res = json.loads(proc.stdout)
    assert "point estimates only" in res["interval_source"]
    assert str(lonely) in res["interval_source"] and "moved_away" not in res["interval_source"]
    # the fit that wrote the file (its resamples weight the laws' points: n_boot=0 would
    # give the unweighted laws)
    ref = fit(EXAMPLE, by="parameterization", n_boot=40)
    for p in res["predictions"]:
        assert p["lr_ci"] is None
        want = ref.predict(scale=1e9, horizon=1e10, group=p["group"])["lr"]
        assert p["lr"] == pytest.approx(want, rel=1e-9)


def test_audit(fitted, capsys):
    out, _ = fitted
    proc = ok(scalefit("audit", out, "--lr", "3e-4", "--scale", "2e9", "--horizon", "2e10",
                       "--group", "parameterization=mup", "--json", "-"))
    (a,) = json.loads(proc.stdout)["audits"]
    assert a["lr_used"] == 3e-4
    assert a["penalty"] == pytest.approx(a["curvature"] * np.log(a["ratio"]) ** 2, rel=1e-6)
    lo, hi = a["penalty_ci"]
    assert lo <= a["penalty"] <= hi
    rc, text, _ = run_main(capsys, "audit", out, "--lr", "3e-4", "--scale", "2B", "--horizon",
                           "20B", "--group", "parameterization=mup", "--boot", 10)
    assert rc == 0
    assert "LR audit: lr 3.00e-04" in text and "loss penalty" in text


def test_transfer_given_exponent(capsys):
    a = ok(scalefit("transfer", "--lr", "3e-3", "--from", "10B", "--to", "1T", "--b", "-0.32",
                    "--json", "-"))
    ta = json.loads(a.stdout)["transfers"][0]
    assert ta["lr"] == pytest.approx(3e-3 * 100 ** -0.32)
    rc, text, _ = run_main(capsys, "transfer", "--lr", "3e-3", "--from", "1e10", "--to", "1e12",
                           "--beta", "0.32", "--json", "-")
    assert json.loads(text)["transfers"][0]["lr"] == pytest.approx(ta["lr"])
    rc, text, _ = run_main(capsys, "transfer", "--lr", "3e-3", "--from", "10B", "--to", "1T",
                           "--b", "-0.32")
    assert rc == 0 and "b = -0.32, given" in text


def test_transfer_from_fit(fitted):
    out, _ = fitted
    proc = ok(scalefit("transfer", "--lr", "1e-3", "--from", "2.5e9", "--to", "2e10", "--fit",
                       out, "--group", "parameterization=mup", "--json", "-"))
    (t,) = json.loads(proc.stdout)["transfers"]
    saved = next(law for law in json.loads(out.read_text())["laws"]
                 if law["primary"] and law["target"] == "lr_opt"
                 and law["group"] == {"parameterization": "mup"})
    assert t["b"] == pytest.approx(saved["params"]["b"])
    assert t["b_ci"] == pytest.approx(saved["ci"]["b"])
    lo, hi = t["lr_ci"]
    assert lo < t["lr"] < hi


# ---------------------------------------------------------------- chinchilla


def test_chinchilla_real_data(tmp_path):
    path = need(CHINCHILLA)
    out = tmp_path / "law.json"
    proc = ok(scalefit("chinchilla", path, "--boot", 4, "--json", out))
    assert "Chinchilla-form loss law" in proc.stdout
    assert "N = N, D = D, loss = loss" in proc.stdout
    d = json.loads(out.read_text())
    assert d["input"]["used"] == 234 and d["n_boot"] == 4
    assert 1.0 < d["params"]["E"] < 3.0 and 0 < d["params"]["alpha"] < 1


# ---------------------------------------------------------------- real data from other stacks


def test_real_steplaw_grouped_by_batch_size(tmp_path):
    path = need(STEPLAW)
    out = tmp_path / "steplaw.json"
    proc = ok(scalefit("fit", path, "--by", "bs", "--boot", 20, "--json", out))
    assert "columns: scale=N  horizon=D  lr=lr  loss=loss   by: bs" in proc.stdout
    d = json.loads(out.read_text())
    assert d["input"]["rows"] == 1911
    assert sum(o["status"] == "ok" for o in d["optima"]) > 100
    assert any(law["primary"] and law["target"] == "lr_opt" for law in d["laws"])


def test_real_misfitting_explicit_columns():
    path = need(MISFIT)
    proc = ok(scalefit("fit", path, "--scale", "N", "--horizon", "D", "--lr", "peak_lr",
                       "--boot", 20))
    assert "columns: scale=N  horizon=D  lr=peak_lr  loss=loss" in proc.stdout
    assert "261 runs" in proc.stdout


def test_real_gemstone_wandb_export_with_extract(tmp_path, capsys):
    path = need(GEMSTONE)
    out = tmp_path / "gem.json"
    proc = ok(scalefit("fit", path, "--extract", GEM_EXTRACT, "--loss", "scaling/global_loss",
                       "--boot", 20, "--json", out))
    assert "columns: scale=width  lr=lr  loss=scaling/global_loss" in proc.stdout
    assert "4 sweeps (4 ok)" in proc.stdout
    d = json.loads(out.read_text())
    assert d["input"]["extract"] == [GEM_EXTRACT]
    assert sorted(o["scale"] for o in d["optima"]) == [256, 768, 1536, 3072]

    # predict from that JSON uses its saved draws; without them it gives the same point
    # estimate and no interval (it never re-reads the table or reapplies --extract)
    rc, text, err = run_main(capsys, "predict", out, "--scale", "6144", "--json", "-")
    assert rc == 0, err
    saved = json.loads(text)
    assert "bootstrap draws saved" in saved["interval_source"]
    assert saved["predictions"][0]["lr_ci"] is not None
    rc, text, err = run_main(capsys, "predict", _without_draws(out, tmp_path), "--scale",
                             "6144", "--json", "-")
    assert rc == 0, err
    bare = json.loads(text)
    assert "point estimates only" in bare["interval_source"]
    assert bare["predictions"][0]["lr_ci"] is None
    assert bare["predictions"][0]["lr"] == pytest.approx(saved["predictions"][0]["lr"],
                                                         rel=1e-12)


def test_real_gemstone_extract_mismatch_names_the_row(tmp_path):
    path = need(GEMSTONE)
    bad = tmp_path / "gem.csv"
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace("_lr", "_LR")
    bad.write_text("\n".join(lines) + "\n")
    proc = scalefit("fit", bad, "--extract", GEM_EXTRACT, "--loss", "scaling/global_loss")
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"scalefit: error: {bad}: column 'Name', row 3: ")
    assert "does not match --extract" in line


# ---------------------------------------------------------------- pieces, in process


def test_extract_converts_numbers_and_keeps_labels():
    df = pd.DataFrame({"run": ["mup-w256-lr1e-3", "sp-w512-lr2.5e-4"], "loss": [3.0, 2.9]})
    out = apply_extract(df, [r"run:(?P<param>[a-z]+)-w(?P<width>\d+)-lr(?P<lr>[0-9.e+-]+)"],
                        "runs.csv")
    assert out["width"].tolist() == [256, 512]
    assert out["lr"].tolist() == [1e-3, 2.5e-4]
    assert out["param"].tolist() == ["mup", "sp"]
    with pytest.raises(ScalefitInputError, match="row 2"):
        apply_extract(df, [r"run:mup-(?P<x>w)"], "runs.csv")
    with pytest.raises(ScalefitInputError, match="no named group"):
        apply_extract(df, [r"run:(\d+)"], "runs.csv")
    with pytest.raises(ScalefitInputError, match="already has a column 'loss'"):
        apply_extract(df, [r"run:(?P<loss>\d+)"], "runs.csv")


def test_extract_column_with_colon():
    df = pd.DataFrame({"metrics:name": ["a_1", "b_2"], "loss": [1.0, 2.0]})
    out = apply_extract(df, [r"metrics:name:_(?P<k>\d)"], "x.csv")
    assert out["k"].tolist() == [1, 2]


def test_main_returns_exit_codes(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"scalefit {__version__}"
    assert main(["fit", "/no/such/file.csv"]) == 2
    err = capsys.readouterr().err
    assert err == "scalefit: error: /no/such/file.csv: no such file\n"


def test_fit_error_exits_1(monkeypatch, capsys):
    import scalefit.pipeline
    from scalefit.errors import ScalefitFitError

    def boom(*a, **k):
        raise ScalefitFitError("the optimizer found no finite optimum")

    monkeypatch.setattr(scalefit.pipeline, "fit_with", boom)
    assert main(["fit", str(EXAMPLE)]) == 1
    err = capsys.readouterr().err
    assert err == "scalefit: error: the fit failed: the optimizer found no finite optimum\n"


def test_internal_error_is_one_line_unless_debug(monkeypatch, capsys):
    import scalefit.pipeline

    def bug(*a, **k):
        raise KeyError("oops")

    monkeypatch.setattr(scalefit.pipeline, "fit_with", bug)
    assert main(["fit", str(EXAMPLE)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: KeyError" in err and "--debug" in err
    assert main(["fit", str(EXAMPLE), "--debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("scalefit: error:")


def test_progress_bar_draws_and_erases():
    buf = io.StringIO()
    with ProgressBar("bootstrap", enabled=True, stream=buf, delay=0.0, interval=10) as bar:
        bar(250, 1000)
        bar(1000, 1000)
    text = buf.getvalue()
    assert "bootstrap [" in text and "250/1000" in text and "1000/1000" in text
    assert text.endswith("\r")  # the line is erased at the end


def test_progress_bar_silent_off_a_terminal():
    buf = io.StringIO()  # not a terminal
    with ProgressBar("bootstrap", stream=buf, delay=0.0) as bar:
        bar(1, 2)
        bar(2, 2)
    assert buf.getvalue() == ""


def test_fit_diverged_above_flag(tmp_path):
    lrs = 2.0 ** np.arange(-12, -4)
    loss = 3 + 0.05 * (np.log(lrs) - np.log(2.0**-9)) ** 2
    loss[-2:] = [12.0, 59.0]
    p = tmp_path / "runs.csv"
    pd.DataFrame({"lr": lrs, "loss": loss}).to_csv(p, index=False)
    out = subprocess.run([sys.executable, "-m", "scalefit", "fit", str(p), "--boot", "20",
                          "--diverged-above", "2", "--json", "-"], capture_output=True,
                         text=True, check=True)
    d = json.loads(out.stdout)
    assert d["input"]["diverged"] == 2 and d["settings"]["diverged_above"] == 2.0
    assert d["optima"][0]["n_diverged"] == 2


def test_fit_notes_runs_from_different_code_revisions(tmp_path, capsys):
    df = pd.read_csv(EXAMPLE)
    df["git_rev"] = np.where(df["seed"] == 0, "aaaa1111", "bbbb2222")  # seed 1 run later
    df.to_csv(tmp_path / "runs.csv", index=False)
    rc, out, err = run_main(capsys, "fit", tmp_path / "runs.csv", "--by", "parameterization",
                            "--boot", 0, "-q")
    assert rc == 0
    assert "column 'git_rev' (2 values: aaaa1111, bbbb2222) differs within sweeps" in err
    assert "different code revisions are pooled" in err and "--by git_rev" not in err
