"""Figures and reports: every file exists, is a valid PNG / SVG, and is not blank."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from scalefit import fit
from scalefit.synthetic import TrueLaw, make_sweeps

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def small_table(groups=True, horizons=(1e9, 4e9), diverge_above=1.5, seed=1):
    laws = {"mup": TrueLaw(C=0.5, a=-0.05, b=-0.3), "sp": TrueLaw(C=50, a=-0.35, b=-0.3,
                                                                   kappa=0.2, L_inf=2.05)}
    return make_sweeps(scales=(1e7, 1e8, 1e9), horizons=horizons, n_lrs=7, seeds=1,
                       groups=laws if groups else None, law=None if groups else laws["mup"],
                       diverge_above=diverge_above, seed=seed)


@pytest.fixture(scope="module")
def grouped():
    df = small_table()
    return fit(df, by="parameterization", n_boot=40)


def check_png(path, min_std=0.02):
    from matplotlib.image import imread

    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    img = imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert float(np.std(img[..., :3])) > min_std, f"{path} looks blank"


def check_svg(path):
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    assert sum(1 for _ in root.iter()) > 50, f"{path} has almost no elements"


def save_and_check(fig, stem):
    from scalefit.render.figures import save_figure

    paths = save_figure(fig, stem)
    assert [p.suffix for p in paths] == [".png", ".svg"]
    check_png(paths[0])
    check_svg(paths[1])
    return paths


def test_every_figure_of_a_grouped_fit(grouped, tmp_path):
    from scalefit.render.figures import fit_figures

    result = grouped
    figs = fit_figures(result)
    assert set(figs) == {"sweeps", "lr_law", "curvature", "compare"}
    for name, fig in figs.items():
        save_and_check(fig, tmp_path / name)


def test_sweeps_figure_marks_diverged_runs_and_draws_parabolas(grouped):
    from scalefit.render.figures import sweeps_figure

    result = grouped
    assert result.input["diverged"] > 0
    fig = sweeps_figure(result)
    axes = fig.get_axes()
    assert len(axes) == 6  # 3 scales x 2 horizons
    for ax in axes:
        assert ax.get_xscale() == "log"
        markers = [line.get_marker() for line in ax.get_lines()]
        assert "x" in markers  # diverged runs at the top edge
        assert "*" in markers  # fitted optima
        top = ax.get_ylim()[1]
        crosses = [line for line in ax.get_lines() if line.get_marker() == "x"]
        assert all(np.allclose(line.get_ydata(), top) for line in crosses)


def test_parabola_is_the_fitted_quadratic(grouped):
    from scalefit.render.figures import sweeps_figure

    result = grouped
    fig = sweeps_figure(result)
    ax = fig.get_axes()[0]
    opt = result.optima
    first = opt[(opt["scale"] == opt["scale"].min()) & (opt["horizon"] == opt["horizon"].min())]
    curves = [line for line in ax.get_lines() if line.get_linestyle() == "-"
              and line.get_marker() in ("None", None, "") and len(line.get_xdata()) > 10]
    assert curves
    for line in curves:
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        ok = False
        for _, o in first.iterrows():
            pred = o["loss_opt"] + o["curvature"] * (np.log(x) - np.log(o["lr_opt"])) ** 2
            ok |= bool(np.allclose(pred, y, rtol=1e-9))
        assert ok


def test_law_band_contains_the_line(grouped):
    result = grouped
    law = result.law("lr_opt", {"parameterization": "mup"})
    xs = np.geomspace(1e7, 1e9, 20)
    y, band = law.curve({"scale": xs, "horizon": np.full_like(xs, 1e9)}, 0.95)
    assert band is not None and band.shape == (2, 20)
    assert np.all(band[0] <= y * 1.0001) and np.all(y <= band[1] * 1.0001)
    want = law.params["C"] * xs ** law.params["a"] * 1e9 ** law.params["b"]
    assert np.allclose(y, want)


def test_figures_without_groups_horizon_or_bootstrap(tmp_path):
    from scalefit.render.figures import fit_figures

    df = small_table(groups=False, horizons=(2e9,))
    result = fit(df, n_boot=0)
    figs = fit_figures(result)
    assert set(figs) == {"sweeps", "lr_law", "curvature"}
    for name, fig in figs.items():
        save_and_check(fig, tmp_path / name)


def test_figures_with_no_optimum_still_render(tmp_path):
    from scalefit.render.figures import fit_figures

    df = small_table(groups=False, horizons=(2e9,))
    df = df[df["lr"] < df.groupby("scale")["lr"].transform("median")]  # optimum off the grid
    result = fit(df, n_boot=0)
    assert not (result.optima["status"] == "ok").any()
    figs = fit_figures(result)
    assert set(figs) == {"sweeps"}
    save_and_check(figs["sweeps"], tmp_path / "sweeps")


def test_report_files(grouped, tmp_path):
    result = grouped
    paths = result.report(tmp_path / "rep", command="scalefit fit runs.csv")
    html = paths["report.html"].read_text()
    md = paths["report.md"].read_text()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert html.count("<img ") == 4 and html.count("data:image/png;base64,") == 4
    assert "scalefit fit runs.csv" in html and "Transfer quality" in html
    assert md.startswith("# scalefit report")
    assert "![sweeps](figures/sweeps.png)" in md
    for key in ("sweeps.png", "sweeps.svg", "compare.png", "compare.svg"):
        assert paths[key].exists()
    # the headline (per group: law, exponents, how far the optimum moves) before the figures
    head = html.index("The optimal LR per group")
    assert head < html.index("<img ") < html.index("<h2>Laws</h2>")
    assert md.index("The optimal LR per group") < md.index("![sweeps]")
    assert all(f"<td>{g}</td>" in html for g in result.optima["parameterization"].unique())
    assert "over x" in html
    # no raw Markdown in the HTML: code spans become <code>, notes a list
    assert "`" not in html.split("<pre>")[0]
    assert "<code>scalefit fit runs.csv</code>" in html
    if result.notes:
        assert "<h2>Notes</h2><ul><li>" in html.replace("\n", "")


def test_plots_do_not_touch_pyplot():
    code = ("import sys\n"
            "from scalefit import fit\n"
            "from scalefit.synthetic import make_sweeps\n"
            "df = make_sweeps(scales=(1e7, 1e8, 1e9), horizons=(1e9,), n_lrs=7, seeds=1)\n"
            "figs = fit(df, n_boot=0).plot()\n"
            "print('matplotlib.pyplot' in sys.modules, len(figs))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "3"]


def test_tick_labels():
    from scalefit.render.figure_kit import sci, si

    assert si(2e7) == "20M" and si(2.5e9) == "2.5B" and si(256) == "256" and si(1.4e12) == "1.4T"
    assert sci(3e-4) == "3e-4" and sci(0.05) == "0.05" and sci(2.5e-5) == "2.5e-5"


def test_open_interval_is_an_arrow_and_never_hides_the_other_bars():
    """One point whose interval runs past the LRs tried (open high) and one without an
    interval: the finite intervals keep their bars, the open end is an arrow to the grid's
    edge, and the axis reaches it (before, one open interval removed the group's bars)."""
    from matplotlib.text import Annotation

    from scalefit.render.figure_kit import interval_bars, new_figure

    ax = new_figure(4, 3).add_subplot()
    x, y = [1e3, 1e4, 1e5, 1e6], [0.01, 0.012, 0.02, 0.015]
    lo, hi = [0.008, 0.01, 0.015, np.nan], [0.013, 0.015, np.inf, np.nan]
    interval_bars(ax, x, y, lo, hi, ["", "", "high", ""], edge_hi=[0.064] * 4, fmt="o")
    arrows = [a for a in ax.texts if isinstance(a, Annotation)]
    assert len(arrows) == 1 and arrows[0].xy == (1e5, 0.064)
    bars = ax.containers[0].lines[2][0].get_segments()      # the vertical bars
    spans = sorted(round(abs(s[1][1] - s[0][1]), 6) for s in bars if abs(s[1][1] - s[0][1]) > 0)
    assert spans == [0.005, 0.005, 0.005]                   # points 1-2 closed, 3's low end
    assert ax.get_ylim()[1] >= 0.064


# ---------------------------------------------------------------- many groups


def many_groups_table(n=11):
    """``n`` arms with different exponents; arm g01's runs at the smallest scale are a copy
    of g00's (as every arm of a study is the same model at its base width)."""
    laws = {f"g{i:02d}": TrueLaw(C=0.02 * 1.15 ** i, a=-0.05 * i, b=0.0) for i in range(n)}
    df = make_sweeps(scales=(1e7, 1e8, 1e9), horizons=(1e9,), n_lrs=7, seeds=1, groups=laws,
                     seed=3)
    col = "parameterization"
    small = df["scale"] == df["scale"].min()
    copy = df[small & (df[col] == "g00")].assign(**{col: "g01"})
    return pd.concat([df[~(small & (df[col] == "g01"))], copy], ignore_index=True)


@pytest.fixture(scope="module")
def many():
    return fit(many_groups_table(), by="parameterization", n_boot=20, progress=None)


def legend_labels(fig):
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()]


def fig_texts(fig):
    texts = [t.get_text() for t in fig.texts]
    for ax in fig.get_axes():
        texts += [t.get_text() for t in ax.texts] + [ax.get_title()]
    return texts


def test_show_draws_only_the_chosen_groups_in_that_order(many):
    figs = many.plot(show=["g05", "g02"])
    assert legend_labels(figs["sweeps"])[:3] == ["g05", "g02", "fitted optimum (95% CI)"]
    ax1 = figs["compare"].get_axes()[0]
    assert [t.get_text() for t in ax1.get_legend().get_texts()] == ["g05", "g02"]
    titles = [ax.get_title() for ax in figs["lr_law"].get_axes()]
    assert len(titles) == 2 and titles[0].startswith("g05") and titles[1].startswith("g02")
    assert not any("groups shown" in t for f in figs.values() for t in fig_texts(f))


def test_show_unknown_label_is_one_line_naming_the_groups(many):
    from scalefit.errors import ScalefitInputError

    with pytest.raises(ScalefitInputError) as e:
        many.plot(show=["g05", "nope"])
    msg = str(e.value)
    assert "\n" not in msg and "'nope'" in msg and "g00, g01, g02" in msg


def test_without_show_many_groups_are_cut_with_a_note(many):
    figs = many.plot()
    labels = legend_labels(figs["sweeps"])
    assert sum(lab.startswith("g") for lab in labels) == 6
    note = [t for t in fig_texts(figs["sweeps"]) if "groups shown" in t]
    assert note and note[0].startswith("6 of 11 groups shown (5 left out") and "--show" in note[0]
    assert any("6 of 11 groups shown" in t for t in fig_texts(figs["compare"]))
    assert len(figs["lr_law"].get_axes()) == 11  # a panel per group: all of them


def test_palette_keeps_eleven_groups_distinct():
    from matplotlib.colors import to_hex

    from scalefit.render.figure_kit import GROUP_COLOURS, _style_of

    keys = [(f"arm{i}",) for i in range(11)]
    styles = _style_of(keys)
    colours = [to_hex(styles[k][0]) for k in keys]
    assert len(set(colours)) == 11 and set(colours) <= set(GROUP_COLOURS)
    more = _style_of([(f"arm{i}",) for i in range(25)])
    assert len(set(more.values())) == 25  # past the colours: other markers and dashes


def test_lr_law_panels_share_one_y_range_and_no_single_value_legend(many):
    fig = many.plot(which=["lr_law"])["lr_law"]
    axes = fig.get_axes()
    assert len({tuple(np.round(ax.get_ylim(), 12)) for ax in axes}) == 1
    assert all(ax.get_legend() is None for ax in axes)  # one horizon: said in the title
    assert "at D = 1B" in fig._suptitle.get_text()


def test_coinciding_groups_are_named_where_they_coincide(many):
    figs = many.plot(show=["g00", "g01", "g02"])
    first = figs["sweeps"].get_axes()[0]  # the smallest scale: g01 is a copy of g00
    assert [t.get_text() for t in first.texts] == ["g00 and g01 coincide here"]
    assert not any("coincide" in t.get_text() for ax in figs["sweeps"].get_axes()[1:]
                   for t in ax.texts)
    assert "g00 and g01 coincide at N = 10M" in fig_texts(figs["compare"])


def png_dpi(path) -> float:
    """The resolution a PNG records (its pHYs chunk), in dots per inch."""
    import struct

    data = path.read_bytes()
    i = data.index(b"pHYs")
    x, _y, unit = struct.unpack(">IIB", data[i + 4:i + 13])
    assert unit == 1  # per metre
    return x * 0.0254


def test_saved_png_is_200_dpi_with_an_svg(many, tmp_path):
    from scalefit.render.figures import save_figure

    png, svg = save_figure(many.plot(which=["compare"])["compare"], tmp_path / "compare")
    assert round(png_dpi(png)) == 200 and svg.suffix == ".svg"
    check_png(png)


def test_cli_show(tmp_path):
    runs = tmp_path / "many.csv"
    many_groups_table().to_csv(runs, index=False)
    base = [sys.executable, "-m", "scalefit", "fit", str(runs), "--by", "parameterization",
            "--boot", "10", "-q"]

    def cli(*more):
        return subprocess.run(base + list(more), capture_output=True, text=True, timeout=300)

    bad = cli("--report", str(tmp_path / "r0"), "--show", "g01", "nope")
    assert bad.returncode == 2 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "'nope' is not a group" in bad.stderr and "g10" in bad.stderr
    assert not (tmp_path / "r0" / "report.html").exists()
    assert cli("--show", "g01").returncode == 2  # --show without --report
    good = cli("--report", str(tmp_path / "r1"), "--show", "g03", "g07")
    assert good.returncode == 0, good.stderr
    svg = (tmp_path / "r1" / "figures" / "sweeps.svg").read_text()
    assert "g03" in svg and "g07" in svg and "g05" not in svg
    assert round(png_dpi(tmp_path / "r1" / "figures" / "sweeps.png")) == 200


def test_readme_images_come_from_a_command_written_next_to_them():
    """Every docs/img figure the README shows has, in the next code block, the command that
    makes it and the copy into docs/img; the committed PNG is 200 dpi and small."""
    import re
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    readme = (repo / "README.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\((docs/img/[^)]+\.png)\)", readme)
    assert images
    for img in images:
        after = readme[readme.index(f"]({img})"):]
        block = re.search(r"```\n(.*?)```", after, re.S).group(1)
        assert block.startswith("scalefit fit "), img
        assert re.search(rf"^cp \S+/figures/\w+\.png {re.escape(img)}$", block, re.M), img
        path = repo / img
        assert round(png_dpi(path)) == 200 and path.stat().st_size < 400_000, img
