"""A property over random tables and random flags: every run of ``scalefit`` ends with exit
0 or 2 (never 1), without a traceback, with at most one line on standard error when it
fails, nothing on standard output then, and no control character on either stream.

Tables start from a small valid table of the command (runs, or for fit and compare also
a table of optima, so that flags also reach the fit, not only the table edge) and are
then damaged at random: cells replaced by hostile values (NaN, inf, negative, huge, text
with control characters, JSON objects and lists), columns added, dropped or renamed, the
whole written as CSV, TSV, JSON Lines, JSON or UTF-16 CSV. Flags come from each
command's own parser (``scalefit.cli.parser.build_parser``): any option, with values
drawn from a pool of hostile and ordinary ones.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from contract import check, run_inprocess, snapshot
from hostile_cases import chin_rows, iso_rows, rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scalefit.extract
from scalefit.cli.parser import build_parser

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "data" / "synthetic_sweeps.csv"
SKIP = {"-h", "--help", "--debug", "--json", "--report", "--figures", "--format"}
BASE = {
    "fit": ["--boot", "0", "-q"], "compare": ["--by", "p", "--boot", "0", "-q"],
    "chinchilla": ["--boot", "2", "-q"], "isoflop": ["--boot", "0", "-q"],
    "predict": ["--scale", "1e9", "--horizon", "1e10"],
    "audit": ["--lr", "1e-3", "--scale", "1e9", "--horizon", "1e10"],
    "transfer": ["--lr", "1e-3", "--from", "1e9", "--to", "1e10", "--b", "-0.3"],
    "allocate": ["--budget", "1e21"],
    "next": ["--budget", "2", "--boot", "0", "-q"],
}
NUMBERS = ["0", "1", "2", "3", "-1", "0.5", "1.3", "95", "1e-3", "7B", "1e21", "nan", "inf",
           "-inf", "1e400", "1e-400", "9" * 25, "abc", "", "off"]
REGEXES = [r"name:(?P<x>\d+)", r"name:(?P<lr>[0-9.e-]+)", r"name:(?P<x>", r"name:(?P<x>(a+)+$)",
           r"name:(?P<x>a{4294967296})", "p:(?P<q>.)", "nope:(?P<x>.)", "name", r"p:(?P<p>.)"]
HOSTILE = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, -1.0, 0.0, 1e308, 5e-324, -1e-3, 1e-3]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-10**20, 10**20),
    st.text(max_size=8),
    st.sampled_from(["ok", "diverged", "running", "", "nan", "\x1b[31m", "1,5", "2e-3 "]),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),  # nested, in JSON
    st.lists(st.integers(), max_size=3),
)


@functools.lru_cache(maxsize=1)
def saved() -> dict[str, str]:
    """A saved LR fit and a saved Chinchilla fit (made once, in a folder kept for the run)."""
    d = Path(tempfile.mkdtemp(prefix="scalefit-property-"))
    pd.DataFrame(chin_rows()).to_csv(d / "chin.csv", index=False)
    for argv in (["fit", str(EXAMPLE), "--by", "parameterization", "--boot", "10", "--json",
                  str(d / "fit.json"), "-q"],
                 ["chinchilla", str(d / "chin.csv"), "--boot", "5", "--json",
                  str(d / "law.json"), "-q"]):
        assert run_inprocess(argv)[0] == 0
    return {"fit": str(d / "fit.json"), "law": str(d / "law.json")}


@functools.cache
def options(command: str) -> list[argparse.Action]:
    """The optional arguments of a command, from its parser."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [a for a in sub.choices[command]._actions
            if a.option_strings and not set(a.option_strings) & SKIP]


@st.composite
def flag(draw, command: str, columns: list[str]) -> list[str]:
    """One option of ``command`` with values drawn from the pools."""
    action = draw(st.sampled_from(options(command)))
    name = draw(st.sampled_from(action.option_strings))
    if action.nargs == 0:
        return [name]
    if action.choices:
        pool = st.sampled_from([*map(str, action.choices), "bogus"])
    elif action.dest == "extract":
        pool = st.sampled_from(REGEXES)
    elif action.dest == "group":
        pool = st.sampled_from(["parameterization=mup", "parameterization=zz", "x=1", "mup"])
    elif action.metavar == "COL" or action.dest in ("by", "status_ok"):
        pool = st.sampled_from([*columns, "missing", "\x1b[2J", "p"])
    elif action.dest == "boot":
        pool = st.sampled_from(["0", "2", "3", "-1", "abc", "1e3"])
    else:
        pool = st.sampled_from(NUMBERS)
    n = draw(st.integers(1, 2)) if action.nargs in ("+", "*") else 1
    return [name, *draw(st.lists(pool, min_size=n, max_size=n))]


@st.composite
def table(draw, command: str) -> tuple[pd.DataFrame, str]:
    """A valid table of the command, damaged at random, and the format it is written in."""
    base = {"chinchilla": chin_rows, "isoflop": iso_rows}.get(command, rows)()
    if command in ("fit", "compare", "next") and draw(st.booleans()):  # a table of optima
        base = [{"scale": s, "horizon": 1e9, "lr_opt": 1e-3 * (s / 1e8) ** -0.2}
                for s in (1e7, 3e7, 1e8, 3e8, 1e9)]
    df = pd.DataFrame(base)
    df["p"] = [draw(st.sampled_from(["a", "b"])) for _ in range(len(df))]
    df["name"] = [f"run_lr{v}" for v in range(len(df))]
    for _ in range(draw(st.integers(0, 4))):
        what = draw(st.sampled_from(["cell", "cell", "column", "drop", "rename", "rows"]))
        col = draw(st.sampled_from(list(df.columns)))
        if what == "cell" and len(df):
            i, j = draw(st.integers(0, len(df) - 1)), draw(st.integers(0, df.shape[1] - 1))
            values = df.iloc[:, j].tolist()
            values[i] = draw(HOSTILE)
            df.isetitem(j, pd.Series(values, index=df.index, dtype=object))
        elif what == "column":
            df[draw(st.text(min_size=1, max_size=6))] = [draw(HOSTILE) for _ in range(len(df))]
        elif what == "drop" and len(df.columns) > 1:
            df = df.drop(columns=[col])
        elif what == "rename":
            df = df.rename(columns={col: draw(st.sampled_from(["lr", "loss", "N", "", " lr",
                                                                "status", "\x1b"]))})
        elif what == "rows":
            df = df.iloc[: draw(st.integers(0, len(df)))]
    return df, draw(st.sampled_from(["csv", "tsv", "jsonl", "json", "utf16"]))


def write(df: pd.DataFrame, fmt: str, folder: Path) -> tuple[Path, list[str]]:
    """The table as a file in ``fmt`` (with the flags that name its format)."""
    if fmt == "jsonl":
        path = folder / "runs.jsonl"
        path.write_text("".join(json.dumps({str(k): v for k, v in r.items()}, default=str)
                                + "\n" for r in df.to_dict("records")))
        return path, []
    if fmt == "json":
        path = folder / "runs.json"
        path.write_text(json.dumps([{str(k): v for k, v in r.items()}
                                    for r in df.to_dict("records")], default=str))
        return path, []
    path = folder / "runs.csv"
    text = df.to_csv(index=False, sep="\t" if fmt == "tsv" else ",")
    path.write_bytes(text.encode("utf-16") if fmt == "utf16" else text.encode("utf-8",
                                                                               "replace"))
    return path, ["--format", "tsv"] if fmt == "tsv" else []


@st.composite
def command_line(draw) -> tuple[str, pd.DataFrame | None, str, list[str]]:
    command = draw(st.sampled_from(list(BASE)))
    df, fmt = draw(table(command)) if command in ("fit", "compare", "chinchilla",
                                                   "isoflop", "next") else (None, "")
    columns = [str(c) for c in df.columns] if df is not None else ["parameterization"]
    extra = [x for _ in range(draw(st.integers(0, 5))) for x in draw(flag(command, columns))]
    return command, df, fmt, extra


@pytest.mark.filterwarnings("ignore:DataFrame columns are not unique")  # duplicated on purpose
@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(command_line())
def test_every_run_ends_with_exit_0_or_2(line):
    command, df, fmt, extra = line
    old_limit = scalefit.extract.EXTRACT_SECONDS
    scalefit.extract.EXTRACT_SECONDS = 0.3  # a regex that backtracks without end stops soon
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if df is not None:
            path, fmt_flags = write(df, fmt, folder)
            argv = [command, str(path), *BASE[command], *fmt_flags]
        else:
            files = saved()
            target = {"predict": files["fit"], "audit": files["fit"],
                      "allocate": files["law"]}.get(command)
            argv = [command, *([target] if target else []), *BASE[command]]
        out_json = folder / "out.json"
        out_json.write_bytes(b'{"old": 1}\n')
        argv += [*extra, "--json", str(out_json)]
        before = snapshot(folder)
        try:
            rc, out, err = run_inprocess(argv)
        finally:
            scalefit.extract.EXTRACT_SECONDS = old_limit
        check(rc, out, err, before, snapshot(folder))
