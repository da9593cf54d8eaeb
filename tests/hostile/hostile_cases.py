"""The hostile inputs: generated cases, each a command line, the files it finds, and what
it must do (``contract.check``: exit 0 or 2, one error line, no traceback, nothing from
the data on the terminal, nothing lost). A case's ``expect`` is the exit status it must
have where the right answer is known; ``needles``: what its error line must name.

Classes (``Case.klass``): encodings, separators, numbers, columns, flags, binary, streams,
nested, huge, saved_fit, outputs, regex, chinchilla, control, flat.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from cases_rows import row_cases

LRS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
READ_CLASSES = ("encodings", "separators")  # a success there must read the table right
OLD_JSON = b'{"old": "output"}\n'


@dataclass
class Case:
    """One hostile input. ``argv``: the command line ({d}: the case's folder); ``files``:
    name -> content (str: UTF-8 text) created in the folder; ``setup(folder)``: more
    (links, FIFOs, mounts), returns a teardown or None; ``process``: run as a real
    process (``shell``: a bash line in which sf is the command); ``json_out``: add
    ``--json {d}/out.json`` over an existing out.json, so a failure must leave it."""

    name: str
    klass: str
    argv: list
    files: dict = field(default_factory=dict)
    stdin: bytes | None = None
    expect: int | None = 2
    needles: tuple = ()
    setup: Callable | None = None
    process: bool = False
    shell: str | None = None
    timeout: float = 60
    json_out: bool = True
    needs: str | None = None  # "root", "nonroot", "mknod", "mount", "fit", "law"
    shows: tuple = ()  # what standard output must hold when the run succeeds


# ---------------------------------------------------------------------------- tables


def rows(scales=(1e7, 1e8, 1e9), horizons=(1e9,), lrs=LRS, extra=None) -> list[dict]:
    """A small clean sweep table: the optimum falls with scale, the loss is a parabola in
    ln lr around it (no noise, so --boot 0 fits are exact)."""
    out = []
    for i, s in enumerate(scales):
        for j, h in enumerate(horizons):
            opt = 1e-3 * (s / 1e8) ** -0.2 * (h / 1e9) ** -0.3
            for lr in lrs:
                r = {"scale": s, "horizon": h, "lr": lr,
                     "loss": round(3.0 - 0.1 * i - 0.05 * j + 0.05 * math.log(lr / opt) ** 2,
                                   6)}
                out.append({**r, **(extra(r) if extra else {})})
    return out


def csv(rs: list[dict], sep: str = ",", quote_all: bool = False) -> str:
    """A CSV of ``rs``; ``quote_all``: every field quoted (cells holding a bare CR)."""
    return pd.DataFrame(rs).to_csv(index=False, sep=sep, quoting=1 if quote_all else 0)


GOOD = csv(rows())
OPTIMA = "scale,horizon,lr_opt\n" + "".join(f"{s:g},1e9,{1e-3 * (s / 1e8) ** -0.2:.4g}\n"
                                            for s in (1e7, 1e8, 1e9, 1e10))


def cell(text: str, row: int, col: str, value: str) -> str:
    """``text`` (CSV) with the cell of data row ``row`` (1-based) in column ``col`` set."""
    lines = text.splitlines()
    header = lines[0].split(",")
    parts = lines[row].split(",")
    parts[header.index(col)] = value
    lines[row] = ",".join(parts)
    return "\n".join(lines) + "\n"


def chin_rows() -> list[dict]:
    """Runs for a Chinchilla fit: 4 model sizes x 3 token counts."""
    return [{"N": n, "D": d, "loss": round(1.7 + 400 * n ** -0.34 + 1200 * d ** -0.34, 6)}
            for n in (1e7, 3e7, 1e8, 3e8) for d in (1e9, 3e9, 1e10)]


def iso_rows() -> list[dict]:
    """IsoFLOP profiles: 3 budgets x 5 model sizes on the 6ND line."""
    out = []
    for c in (1e18, 1e19, 1e20):
        n_opt = 0.5 * c ** 0.45
        for k in (-2, -1, 0, 1, 2):
            n = n_opt * 2.0 ** k
            out.append({"flops": c, "N": n, "D": c / (6 * n),
                        "loss": round(2 + 10 * c ** -0.05 + 0.03 * (k * math.log(2)) ** 2, 6)})
    return out


def jsonl(rs: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rs)


def parquet(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def fit_cmd(*extra) -> list:
    return ["fit", "{d}/runs.csv", "--boot", "0", "-q", *extra]


def table_case(name, klass, content, *extra, expect=2, needles=(), ext="csv", cmd="fit",
               **kw) -> Case:
    """A case that runs ``scalefit CMD {d}/runs.EXT --boot 0 -q EXTRA`` on ``content``; a
    fit of the clean table that succeeds must show its 15 runs in 3 sweeps."""
    if expect == 0 and cmd == "fit" and "shows" not in kw and klass in READ_CLASSES:
        kw["shows"] = ("15 runs", "3 sweeps (3 ok)")
    path = f"{{d}}/runs.{ext}"
    argv = [cmd, path, "-q", *extra] if cmd in ("chinchilla",) else \
        [cmd, path, "--boot", "0", "-q", *extra]
    return Case(name, klass, argv, files={f"runs.{ext}": content}, expect=expect,
                needles=tuple(needles), **kw)


# ------------------------------------------------------------------------ the cases


def encoding_cases() -> list[Case]:
    k = "encodings"
    cjk = csv(rows(extra=lambda r: {"group": "参数化"}))
    latin = "scale,horizon,lr,loss,g\n" + "".join(
        line + (",caf\u00e9\n" if i == 4 else ",cafe\n")
        for i, line in enumerate(GOOD.splitlines()[1:], start=1))
    return [
        table_case("utf8_bom", k, b"\xef\xbb\xbf" + GOOD.encode(), expect=0),
        table_case("utf16le_bom", k, GOOD.encode("utf-16"), expect=0),
        table_case("utf16be_bom", k, b"\xfe\xff" + GOOD.encode("utf-16-be"), expect=0),
        table_case("utf16le_no_bom", k, GOOD.encode("utf-16-le"), expect=0),
        table_case("utf16be_no_bom", k, GOOD.encode("utf-16-be"), expect=0),
        table_case("utf16le_no_bom_cjk_labels", k, cjk.encode("utf-16-le"), expect=0),
        table_case("utf16be_no_bom_cjk_labels", k, cjk.encode("utf-16-be"), expect=0),
        table_case("utf32le_bom", k, GOOD.encode("utf-32"), expect=0),
        table_case("utf32be_no_bom", k, GOOD.encode("utf-32-be"), expect=0),
        table_case("utf16_truncated", k, GOOD.encode("utf-16")[:-1],
                   needles=("UTF-16",)),
        table_case("latin1_label", k, latin.encode("latin-1"),
                   needles=("row 4", "column 'g'", "UTF-8", "Latin-1")),
        table_case("latin1_in_number", k, cell(GOOD, 2, "lr", "1e-3\u00b5").encode("latin-1"),
                   needles=("row 2", "column 'lr'")),
        table_case("cp1252_quotes_header", k,
                   GOOD.replace("loss", "\u201closs\u201d", 1).encode("cp1252"),
                   needles=("line 1 (the header)", "UTF-8", "Windows-1252")),
        table_case("overlong_utf8", k, cell(GOOD, 3, "lr", "1e-3").encode().replace(
            b"1e-3", b"1e-3\xc0\xaf"), needles=("row 3",)),
        table_case("utf8_surrogate", k, GOOD.encode() + b"1e9,1e9,1e-3,\xed\xa0\x80\n",
                   needles=("row 16",)),
        table_case("crlf_lines", k, GOOD.replace("\n", "\r\n").encode(), expect=0),
        table_case("cr_only_lines", k, GOOD.replace("\n", "\r").encode(), expect=0),
        table_case("nul_in_a_cell", k, cell(GOOD, 5, "lr", "1e-3\x00").encode(),
                   needles=("row 5", "NUL")),
        Case("stdin_latin1", k, ["fit", "-", "--boot", "0", "-q"],
             stdin=latin.encode("latin-1"), needles=("<stdin>", "row 4")),
        Case("stdin_utf16", k, ["fit", "-", "--boot", "0", "-q"], stdin=GOOD.encode("utf-16"),
             expect=0, shows=("15 runs",)),
    ]


def separator_cases() -> list[Case]:
    k = "separators"
    decimal_comma = csv(rows(), sep=";").replace(".", ",")
    ws = "".join(" ".join(f"{v:>10}" for v in line.split(",")) + "\n"
                 for line in GOOD.splitlines())
    return [
        table_case("semicolon", k, csv(rows(), sep=";"), expect=0),
        table_case("semicolon_decimal_comma", k, decimal_comma,
                   needles=("row 1", "decimal comma")),
        table_case("tab_in_csv", k, csv(rows(), sep="\t"), expect=0),
        table_case("pipe_separated", k, csv(rows(), sep="|"), expect=0),
        table_case("whitespace_aligned", k, ws, needles=("no lr column",)),
        table_case("tsv_flag_on_commas", k, GOOD, "--format", "tsv", needles=("no lr column",)),
        table_case("trailing_commas", k, GOOD.replace("\n", ",\n"), expect=0),
        table_case("quoted_everything", k, csv(rows()).replace(",", '","').replace(
            "\n", '"\n"')[:-1].join(['"', ""]), expect=None),
        table_case("comment_line_first", k, "# exported by a tool\n" + GOOD, expect=0,
                   shows=("1 comment line ('#') before the header left out",)),
        table_case("title_line_first", k, "Results of the LR sweep\n" + GOOD,
                   needles=("line 2", "header has 1", "title or a comment")),
        table_case("unterminated_quote", k, GOOD + '1e9,1e9,"1e-3,2.5\n', needles=("runs.csv",)),
        table_case("blank_lines_between", k, GOOD.replace("\n", "\n\n"), expect=0),
        table_case("ragged_short_row", k, GOOD + "1e9,1e9\n",
                   needles=("line 17", "row 16", "2 fields")),
    ]


NUMBERS = {"neg": "-1", "zero": "0", "nan": "nan", "inf": "inf", "neginf": "-inf",
           "overflow": "1e400", "underflow": "1e-400", "hex": "0x10", "text": "fast",
           "blank": ""}


def number_cases() -> list[Case]:
    k = "numbers"
    out = []
    for role in ("scale", "horizon", "lr"):
        for tag, v in NUMBERS.items():
            out.append(table_case(f"{role}_{tag}", k, cell(GOOD, 7, role, v),
                                  needles=(f"column '{role}'", "row 7")))
    for tag, v in NUMBERS.items():  # loss: NaN/inf/blank are diverged runs, negative is fine
        expect = 0 if tag in ("nan", "inf", "neginf", "blank", "neg", "zero", "overflow",
                              "underflow") else 2
        out.append(table_case(f"loss_{tag}", k, cell(GOOD, 3, "loss", v), expect=expect,
                              needles=() if expect == 0 else ("column 'loss'", "row 3")))
    chin = csv(chin_rows())
    for tag in ("neg", "zero"):
        out.append(table_case(f"chinchilla_loss_{tag}", k, cell(chin, 5, "loss", NUMBERS[tag]),
                              cmd="chinchilla", needles=("row 5", "column 'loss'")))
    out.append(table_case("chinchilla_loss_neg_after_diverged", k,
                          cell(cell(chin, 2, "loss", "nan"), 6, "loss", "-2.5"),
                          cmd="chinchilla", needles=("row 6", "-2.5")))
    iso = csv(iso_rows())
    for tag in ("neg", "zero", "inf", "text"):
        out.append(table_case(f"isoflop_flops_{tag}", k, cell(iso, 4, "flops", NUMBERS[tag]),
                              cmd="isoflop", needles=("column 'flops'", "row 4")))
    out.append(table_case("timestamp_as_lr_jsonl", k, jsonl([{**r, "timestamp": 1.7e12 + i}
                                                             for i, r in enumerate(rows())]),
                          "--lr", "timestamp", ext="jsonl", needles=("dates or times",)))
    stamped = pd.DataFrame(rows()).assign(when=pd.date_range("2024-01-01", periods=15))
    out.append(table_case("datetime_as_scale_parquet", k, parquet(stamped), "--scale", "when",
                          ext="parquet", needles=("column 'when'", "dates or times")))
    out.append(table_case("huge_values_everywhere", k,
                          csv(rows(scales=(1e300, 1e301, 1e302), horizons=(1e305,))),
                          expect=None))
    out.append(table_case("subnormal_lrs", k, csv(rows(lrs=(1e-310, 1e-309, 1e-308, 1e-307,
                                                             1e-306))), expect=None))
    flags = [
        ("ci_nan", ["--ci", "nan"], ("--ci",)), ("ci_inf", ["--ci", "inf"], ("--ci",)),
        ("ci_zero", ["--ci", "0"], ("--ci",)), ("ci_100", ["--ci", "100"], ("--ci",)),
        ("boot_negative", ["--boot", "-1"], ("--boot",)),
        ("boot_float", ["--boot", "2.5"], ("--boot",)),
        ("boot_astronomical", ["--boot", "9" * 30], ("--boot",)),
        ("window_astronomical", ["--window", "9" * 30], ("--window",)),
        ("seed_negative", ["--seed", "-1"], ("--seed",)),
        ("seed_huge", ["--seed", "9" * 40], None),
        ("blowup_nan", ["--blowup", "nan"], ("blowup",)),
        ("blowup_below_one", ["--blowup", "0.5"], ("blowup",)),
        ("blowup_text", ["--blowup", "lots"], ("blowup",)),
        ("diverged_above_nan", ["--diverged-above", "nan"], ("--diverged-above",)),
        ("diverged_above_negative", ["--diverged-above", "-2"], ("--diverged-above",)),
        ("diverged_above_inf", ["--diverged-above", "inf"], ("--diverged-above",)),
        ("max_misfit_overflow", ["--max-misfit", "1e400"], ("--max-misfit",)),
        ("floor_gap_subnormal", ["--floor-gap", "5e-324"], None),
        ("optima_level_one", ["--optima-level", "1"], ("--optima-level",)),
    ]
    for tag, extra, needles in flags:
        out.append(Case(f"flag_{tag}", k, fit_cmd(*extra), files={"runs.csv": GOOD},
                        expect=None if needles is None else 2, needles=needles or ()))
    out.append(Case("chinchilla_seed_negative", k,
                    ["chinchilla", "{d}/runs.csv", "--boot", "2", "--seed", "-1", "-q"],
                    files={"runs.csv": csv(chin_rows())}, needles=("--seed",)))
    out.append(Case("chinchilla_huber_subnormal", k,
                    ["chinchilla", "{d}/runs.csv", "--huber-delta", "5e-324", "-q"],
                    files={"runs.csv": csv(chin_rows())}, expect=None))
    out.append(Case("isoflop_budget_tol_one", k,
                    ["isoflop", "{d}/runs.csv", "--budget-tol", "1", "-q"],
                    files={"runs.csv": csv(iso_rows())}, needles=("--budget-tol",)))
    for tag, extra in (("exponent_huge", ["--b", "1e300"]),
                       ("exponent_neg_huge", ["--b", "-1e300"]),
                       ("beta_huge", ["--beta", "1e300"]), ("ratio_huge", ["--b", "5"])):
        to = "1e300" if tag == "ratio_huge" else "1e12"
        out.append(Case(f"transfer_{tag}", k, ["transfer", "--lr", "1e-3", "--from", "1e-300",
                                               "--to", to, *extra], expect=2,
                        needles=("transfer",), json_out=False))
    out.append(Case("transfer_lr_huge", k, ["transfer", "--lr", "1e300", "--from", "1e9",
                                             "--to", "1e12", "--b", "10"], needles=("lr",),
                    json_out=False))
    for tag, s, h in (("huge", "1e308", "1e308"), ("tiny", "1e-300", "1e-300")):
        out.append(Case(f"predict_{tag}_scale", k, ["predict", "{d}/fit.json", "--scale", s,
                                                    "--horizon", h], expect=None, needs="fit"))
    for tag, lr in (("tiny", "1e-300"), ("huge", "1e300")):
        out.append(Case(f"audit_lr_{tag}", k, ["audit", "{d}/fit.json", "--lr", lr, "--scale",
                                                "1e9", "--horizon", "1e10"], expect=None,
                        needs="fit"))
    for tag, b in (("huge", "1e308"), ("tiny", "1e-300")):
        out.append(Case(f"allocate_budget_{tag}", k, ["allocate", "{d}/law.json", "--budget", b],
                        expect=None, needs="law"))
    return out


def column_cases() -> list[Case]:
    k = "columns"
    g = GOOD.splitlines()
    body = "\n".join(g[1:]) + "\n"
    wide = ",".join(f"c{i}" for i in range(5000)) + "\n" + ",".join("1" for _ in range(5000))
    return [
        table_case("duplicate_header", k, "scale,lr,lr,loss\n1e8,1e-3,1e-3,2\n",
                   needles=("'lr'", "more than once")),
        table_case("duplicate_after_strip", k, "scale,lr, lr ,loss\n1e8,1e-3,1e-3,2\n",
                   needles=("'lr'", "more than once")),
        table_case("duplicate_in_case", k, "scale,LR,lr,loss\n1e8,1e-3,1e-3,2\n",
                   needles=("--lr",)),
        table_case("empty_header_name", k, g[0].replace("lr", "") + "\n" + body,
                   needles=("no lr column",)),
        table_case("header_of_commas", k, ",,,\n" + body, needles=("no lr column",)),
        table_case("numbers_as_header", k, body, needles=("no lr column",)),
        table_case("missing_lr", k, csv([{k2: v for k2, v in r.items() if k2 != "lr"}
                                          for r in rows()]), needles=("no lr column",)),
        table_case("missing_loss", k, csv([{k2: v for k2, v in r.items() if k2 != "loss"}
                                            for r in rows()]), needles=("no loss column",)),
        table_case("given_lr_missing", k, GOOD, "--lr", "peak", needles=("'peak'",)),
        table_case("by_missing", k, GOOD, "--by", "wd", needles=("'wd'", "--by")),
        table_case("by_is_lr", k, GOOD, "--by", "lr", needles=("'lr'", "--by")),
        table_case("by_is_status", k, csv(rows(extra=lambda r: {"status": "ok"})), "--by",
                   "status", expect=None),
        table_case("by_twice", k, csv(rows(extra=lambda r: {"p": "a"})), "--by", "p", "p",
                   expect=0),
        table_case("status_is_loss", k, GOOD, "--status", "loss", expect=None),
        table_case("scale_and_horizon_same", k, GOOD, "--scale", "lr", "--lr", "lr",
                   needles=("two roles",)),
        table_case("header_only", k, g[0] + "\n", needles=("no rows",)),
        table_case("many_columns_no_lr", k, wide, needles=("no lr column",)),
        table_case("by_all_missing", k, csv(rows(extra=lambda r: {"p": None})), "--by", "p",
                   expect=0),
        table_case("optima_table_by_is_horizon", k, OPTIMA, "--by", "horizon",
                   needles=("'horizon'", "--by")),
        table_case("optima_table_duplicate_after_strip", k,
                   "".join(line + (", horizon\n" if i == 0 else ",1e9\n")
                           for i, line in enumerate(OPTIMA.splitlines())),
                   needles=("'horizon'", "more than once")),
        table_case("extra_fields_in_row", k, GOOD + "1e9,1e9,1e-3,2.5,7,8\n",
                   needles=("line 17",)),
    ]


def flag_cases() -> list[Case]:
    k = "flags"
    grouped = csv(rows(extra=lambda r: {"p": "a"}) + [
        {**r, "p": "b", "loss": r["loss"] + 0.01} for r in rows()])
    return [
        Case("b_and_beta", k, ["transfer", "--lr", "1e-3", "--from", "1B", "--to", "2B", "--b",
                               "-0.3", "--beta", "0.3"], needles=("--beta",), json_out=False),
        Case("group_without_fit", k, ["transfer", "--lr", "1e-3", "--from", "1B", "--to", "2B",
                                      "--b", "-0.3", "--group", "p=a"], needles=("--group",
                                                                                  "--fit")),
        Case("json_stdout_and_report", k, fit_cmd("--json", "-", "--report", "{d}/rep"),
             files={"runs.csv": GOOD}, expect=None, json_out=False),
        Case("json_inside_report", k, fit_cmd("--json", "{d}/rep/report.md", "--report",
                                              "{d}/rep"),
             files={"runs.csv": GOOD, "rep/report.md": "old report\n"},
             needles=("report.md",), json_out=False),
        Case("reference_without_by", k, fit_cmd("--reference", "a"), files={"runs.csv": GOOD},
             needles=("--reference",)),
        Case("reference_unknown", k, fit_cmd("--by", "p", "--reference", "zzz"),
             files={"runs.csv": grouped}, needles=("zzz",)),
        Case("optima_flag_on_runs", k, fit_cmd("--optima"), files={"runs.csv": GOOD},
             needles=("optimum column",)),
        Case("format_parquet_on_csv", k, fit_cmd("--format", "parquet"),
             files={"runs.csv": GOOD}, needles=("parquet",)),
        Case("format_jsonl_on_csv", k, fit_cmd("--format", "jsonl"), files={"runs.csv": GOOD},
             needles=("jsonl",)),
        Case("format_json_on_jsonl", k, ["fit", "{d}/runs.jsonl", "--format", "json", "--boot",
                                         "0", "-q"], files={"runs.jsonl": jsonl(rows())},
             needles=("json",)),
        Case("include_status_bogus", k, fit_cmd("--include-status", "great"),
             files={"runs.csv": GOOD}, needles=("--include-status",)),
        Case("group_without_equals", k, ["predict", "{d}/fit.json", "--scale", "1e9",
                                         "--horizon", "1e10", "--group", "mup"],
             needles=("KEY=VALUE",), needs="fit"),
        Case("group_unknown_key", k, ["predict", "{d}/fit.json", "--scale", "1e9", "--horizon",
                                      "1e10", "--group", "zz=1"], needles=("zz",), needs="fit"),
        Case("allocate_ci_without_draws", k, ["allocate", "{d}/law0.json", "--budget", "1e21",
                                              "--ci", "0.9"], needles=("draws",), needs="law"),
        Case("unknown_option", k, fit_cmd("--lrr", "x"), files={"runs.csv": GOOD},
             needles=("--lrr",)),
        Case("no_command", k, ["--boot", "5"], needles=("--boot",), json_out=False),
        Case("compare_without_by", k, ["compare", "{d}/runs.csv", "--boot", "0"],
             files={"runs.csv": GOOD}, needles=("--by",)),
    ]


def binary_cases() -> list[Case]:
    k = "binary"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
    pq = parquet(pd.DataFrame(rows()))
    return [
        table_case("random_bytes", k, bytes((i * 97 + 13) % 256 for i in range(4096)),
                   needles=("binary",)),
        table_case("png", k, b"\x89PNG\r\n\x1a\n" + bytes(200), needles=("PNG",)),
        table_case("gzip_csv", k, gzip.compress(GOOD.encode(), mtime=0), needles=("gzip",)),
        table_case("xlsx", k, buf.getvalue(), needles=("zip",)),
        table_case("elf", k, b"\x7fELF\x02\x01\x01" + bytes(300), needles=("binary",)),
        table_case("parquet_named_csv", k, pq, needles=("Parquet", "--format parquet")),
        table_case("csv_named_parquet", k, GOOD, ext="parquet", needles=("parquet",)),
        table_case("truncated_parquet", k, pq[: len(pq) // 2], ext="parquet",
                   needles=("parquet",)),
        table_case("nul_only", k, bytes(5000), needles=("binary",)),
        table_case("sqlite", k, b"SQLite format 3\x00" + bytes(100), needles=("SQLite",)),
        Case("stdin_binary", k, ["fit", "-", "--boot", "0", "-q"],
             stdin=bytes((i * 31 + 7) % 256 for i in range(3000)),
             needles=("<stdin>", "binary")),
        Case("stdin_invalid_utf8", k, ["chinchilla", "-", "-q"],
             stdin=csv(chin_rows()).encode() + b"1e9,1e9,\xff\xfe\xfa\n",
             needles=("<stdin>", "row 13")),
        Case("stdin_parquet_as_csv", k, ["fit", "-", "--boot", "0", "-q"], stdin=pq,
             needles=("Parquet",)),
    ]


def _mkfifo(name: str):
    def setup(d: Path):
        os.mkfifo(d / name)
    return setup


def stream_cases() -> list[Case]:
    k = "streams"

    def symlink_loop(d):
        os.symlink(d / "b.csv", d / "a.csv")
        os.symlink(d / "a.csv", d / "b.csv")

    def dangling(d):
        os.symlink(d / "gone.csv", d / "runs.csv")

    def unreadable(d):
        (d / "runs.csv").chmod(0)

    def fifo_fit(d):
        os.mkfifo(d / "fit.json")

    def socket_file(d):
        import socket
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(d / "sock.csv"))
        return s.close

    return [
        Case("stdin_empty", k, ["fit", "-", "--boot", "0", "-q"], stdin=b"",
             needles=("<stdin>", "empty")),
        Case("stdin_whitespace", k, ["fit", "-", "--boot", "0", "-q"], stdin=b" \n\n\t\n",
             needles=("<stdin>", "empty")),
        Case("stdin_good", k, ["fit", "-", "--boot", "0", "-q"], stdin=GOOD.encode(), expect=0,
             shows=("15 runs",)),
        Case("stdin_parquet", k, ["fit", "-", "--format", "parquet", "--boot", "0", "-q"],
             stdin=parquet(pd.DataFrame(rows())), expect=0, shows=("15 runs",)),
        Case("dev_null", k, ["fit", "/dev/null", "--boot", "0", "-q"], needles=("empty",)),
        Case("dev_zero", k, ["fit", "/dev/zero", "--boot", "0", "-q"], needles=("binary",),
             process=True, timeout=30),
        Case("dev_urandom", k, ["fit", "/dev/urandom", "--boot", "0", "-q"],
             needles=("binary",), process=True, timeout=30),
        Case("process_substitution", k, [], files={"runs.csv": GOOD}, expect=0, process=True,
             shell='sf fit <(cat "$D/runs.csv") --boot 0 -q'),
        Case("fifo_with_writer", k, [], files={"runs.csv": GOOD}, expect=0, process=True,
             setup=_mkfifo("pipe.csv"),
             shell='(cat "$D/runs.csv" > "$D/pipe.csv" &) ; sf fit "$D/pipe.csv" '
                   '--boot 0 -q'),
        Case("dev_stdin_pipe", k, [], files={"runs.csv": GOOD}, expect=0, process=True,
             shell='cat "$D/runs.csv" | sf fit /dev/stdin --boot 0 -q'),
        Case("directory", k, ["fit", "{d}", "--boot", "0", "-q"], needles=("directory",)),
        Case("symlink_loop", k, ["fit", "{d}/a.csv", "--boot", "0", "-q"], setup=symlink_loop,
             needles=("a.csv", "symbolic link")),
        Case("dangling_symlink", k, ["fit", "{d}/runs.csv", "--boot", "0", "-q"],
             setup=dangling, needles=("runs.csv", "gone.csv")),
        Case("unreadable_file", k, fit_cmd(), files={"runs.csv": GOOD}, setup=unreadable,
             needles=("runs.csv", "ermission"), needs="nonroot"),
        Case("unix_socket", k, ["fit", "{d}/sock.csv", "--boot", "0", "-q"], setup=socket_file,
             needles=("sock.csv",)),
        Case("fit_json_symlink_loop", k, ["predict", "{d}/a.csv", "--scale", "1e9"],
             setup=symlink_loop, needles=("a.csv", "symbolic link")),
        Case("fit_json_from_empty_fifo", k, [], process=True, setup=fifo_fit,
             shell='(: > "$D/fit.json" &) ; sf predict "$D/fit.json" --scale 1e9 '
                   '--horizon 1e10', needles=("fit.json",), json_out=False),
        Case("stdout_full", k, [], files={"runs.csv": GOOD}, process=True, needs="devfull",
             shell='sf fit "$D/runs.csv" --boot 0 -q > "$FULL"',
             needles=("standard output",)),
        Case("stdout_closed_early", k, [], files={"runs.csv": GOOD}, process=True, expect=0,
             shell='set -o pipefail; sf fit "$D/runs.csv" --boot 0 -q | head -c 1 '
                   '>/dev/null'),
        Case("stdin_closed", k, [], process=True, shell="sf fit - --boot 0 -q <&-",
             needles=("standard input",)),
        Case("fit_json_on_stdin_dash", k, ["predict", "-", "--scale", "1e9", "--horizon",
                                           "1e10"], stdin=b"{}", needles=("not a scalefit",)),
    ]


def nested_cases() -> list[Case]:
    k = "nested"
    base = rows()
    out = [
        table_case("jsonl_dict_by", k, jsonl([{**r, "p": {"a": 1}} for r in base]), "--by", "p",
                   ext="jsonl", needles=("column 'p'", "row 1")),
        table_case("jsonl_list_by", k, jsonl([{**r, "p": [1, 2]} for r in base]), "--by", "p",
                   ext="jsonl", needles=("column 'p'", "row 1")),
        table_case("jsonl_dict_unused", k, jsonl([{**r, "meta": {"a": i}}
                                                  for i, r in enumerate(base)]), ext="jsonl",
                   expect=0),
        table_case("jsonl_dict_lr", k, jsonl([{**r, "lr": {"v": 1}} for r in base]),
                   ext="jsonl", needles=("column 'lr'", "row 1")),
        table_case("jsonl_list_loss", k, jsonl([{**r, "loss": [2.0]} for r in base]),
                   ext="jsonl", needles=("column 'loss'", "row 1")),
        table_case("jsonl_dict_status", k, jsonl([{**r, "status": {"s": "ok"}} for r in base]),
                   ext="jsonl", needles=("column 'status'", "row 1")),
        table_case("jsonl_array_line", k, jsonl(base) + "[1, 2, 3]\n", ext="jsonl",
                   needles=("jsonl",)),
        table_case("jsonl_garbage_line", k, jsonl(base) + "{not json\n", ext="jsonl",
                   needles=("line 16",)),
        table_case("json_scalar", k, "5\n", ext="json", needles=("a single value",)),
        table_case("json_object_of_scalars", k, json.dumps(base[0]), ext="json",
                   needles=("one object",)),
        table_case("json_string", k, '"runs"', ext="json", needles=("a single value",)),
        table_case("json_null", k, "null", ext="json", needles=("a single value",)),
        table_case("json_array_of_arrays", k, json.dumps([[1, 2], [3, 4]]), ext="json",
                   needles=("no lr column",)),
        table_case("json_array_of_scalars", k, json.dumps([1, 2, 3]), ext="json",
                   needles=("no lr column",)),
        table_case("json_columns_orient", k, pd.DataFrame(base).to_json(), ext="json",
                   expect=0),
        table_case("json_deeply_nested", k, "[" * 100000 + "]" * 100000, ext="json",
                   needles=("json",)),
        table_case("parquet_struct_by", k, parquet(pd.DataFrame([{**r, "p": {"a": 1}}
                                                                 for r in base])),
                   "--by", "p", ext="parquet", needles=("column 'p'", "row 1")),
        table_case("parquet_list_lr", k, parquet(pd.DataFrame([{**r, "lr": [r["lr"]]}
                                                               for r in base])),
                   ext="parquet", needles=("column 'lr'", "row 1")),
        table_case("optima_table_dict_by", k, jsonl([{"scale": s, "lr_opt": 1e-3 * s ** -0.1,
                                                      "p": {"a": 1}} for s in (1e7, 1e8, 1e9)]),
                   "--by", "p", ext="jsonl", needles=("column 'p'", "row 1")),
        table_case("optima_table_list_unused", k, jsonl([{"scale": s, "lr_opt": 1e-3 * s ** -0.1,
                                                          "meta": [1, 2]}
                                                         for s in (1e7, 1e8, 1e9)]),
                   ext="jsonl", expect=0),
        table_case("jsonl_dict_extract", k, jsonl([{**r, "name": {"lr": 1}} for r in base]),
                   "--extract", "name:(?P<x>a)", ext="jsonl", needles=("column 'name'",)),
    ]
    return out


def huge_cases() -> list[Case]:
    k = "huge"
    big = "x" * (20 << 20)
    return [
        table_case("huge_lr_cell", k, cell(GOOD, 2, "lr", big), needles=("row 2", "...")),
        table_case("huge_by_label", k, csv(rows(extra=lambda r: {"p": big[:1 << 20]})), "--by",
                   "p", expect=0),
        table_case("huge_status", k, csv(rows(extra=lambda r: {"status": "ok"})).replace(
            ",ok\n", f",{big}\n", 1), expect=None),
        table_case("huge_column_name", k, GOOD.replace("lr", big, 1), needles=("no lr column",)),
        table_case("huge_pooled_text", k, csv(rows(extra=lambda r: {
            "note": ("y" * (1 << 20)) + str(round(r["lr"] * 1e4) % 2)})), expect=0),
        table_case("huge_extract_miss", k, csv(rows(extra=lambda r: {"name": big[:1 << 20]})),
                   "--extract", "name:_lr(?P<x>[0-9.]+)", needles=("row 1", "does not match")),
        table_case("huge_jsonl_line", k, jsonl(rows(extra=lambda r: {"p": big[:1 << 20]})),
                   ext="jsonl", expect=0),
        table_case("huge_header_only", k, big + "\n", needles=("no lr column",)),
    ]


def _tamper(fn) -> Callable[[dict], bytes]:
    def make(d: dict) -> bytes:
        d = json.loads(json.dumps(d))
        fn(d)
        return json.dumps(d).encode()
    return make


def _relabel(label: str) -> Callable[[dict], bytes]:
    """The saved fit with the group label 'mup' replaced by ``label`` everywhere."""
    def make(d: dict) -> bytes:
        return json.dumps(d).replace('"mup"', json.dumps(label)).encode()
    return make


def saved_fit_cases() -> list[Case]:
    k = "saved_fit"
    pred = ["predict", "{d}/bad.json", "--scale", "1e9", "--horizon", "1e10"]

    def law0(d):
        return d["laws"][0]

    raw = {
        "empty_file": b"", "not_json": b"hello", "json_bom": None, "utf16_json": None,
        "nan_constant": None, "deeply_nested": b"[" * 100000 + b"]" * 100000,
        "scalar": b"3", "list": b"[]", "binary": bytes(range(256)),
    }
    tamper = {
        "exponent_huge": lambda d: law0(d)["params"].update(a=1e300, b=1e300),
        "constant_negative": lambda d: law0(d)["params"].update(C=-1.0),
        "laws_empty": lambda d: d.update(laws=[]),
        "draws_strings": lambda d: law0(d).update(draws=[["x"] * len(law0(d)["params"])]),
        "schema_bool": lambda d: d.update(schema_version=True),
        "laws_duplicated": lambda d: d["laws"].append(d["laws"][0]),
        "ci_level_two": lambda d: d["settings"].update(ci=2),
        "params_missing": lambda d: law0(d).pop("params"),
        "optima_not_list": lambda d: d.update(optima={"a": 1}),
        "curvature_negative": lambda d: [law.update(params={**law["params"], "C": -5.0})
                                         for law in d["laws"] if law["target"] == "curvature"],
    }
    out = []
    for name in raw:
        readable = name in ("json_bom", "utf16_json")  # decoded as tables are
        out.append(Case(f"fit_{name}", k, pred, needles=() if readable else ("bad.json",),
                        expect=0 if readable else 2, needs="fit"))
    for name in tamper:
        exp = None if name == "curvature_negative" else 2
        out.append(Case(f"fit_{name}", k, pred, needles=("bad.json",) if exp else (),
                        expect=exp, needs="fit"))
    out.append(Case("fit_exponent_huge_audit", k, ["audit", "{d}/bad2.json", "--lr", "1e-3",
                                                    "--scale", "1e9", "--horizon", "1e10"],
                    needles=("bad2.json",), needs="fit"))
    out.append(Case("fit_exponent_huge_transfer", k, ["transfer", "--lr", "1e-3", "--from",
                                                       "1e9", "--to", "1e12", "--fit",
                                                       "{d}/bad2.json"],
                    needles=("bad2.json",), needs="fit"))
    chin = {
        "alpha_huge": lambda d: d["params"].update(alpha=1e300),
        "alpha_tiny": lambda d: d["params"].update(alpha=1e-320),
        "draws_negative": lambda d: [r.__setitem__(1, -1.0) for r in d["draws"]],
        "range_missing": lambda d: d.pop("range", None),
        "E_negative": lambda d: d["params"].update(E=-5.0),
        "form_other": lambda d: d.update(form="loss = 1"),
    }
    for name in chin:
        out.append(Case(f"law_{name}", k, ["allocate", "{d}/bad.json", "--budget", "1e21"],
                        expect=None if name in ("range_missing", "E_negative", "alpha_huge")
                        else 2,
                        needles=(), needs="law"))
    out.append(Case("law_given_to_predict", k, ["predict", "{d}/law.json", "--scale", "1e9",
                                                "--horizon", "1e10"],
                    needles=("law.json", "not a scalefit fit"), needs="law"))
    out.append(Case("fit_given_to_allocate", k, ["allocate", "{d}/fit.json", "--budget", "1e21"],
                    needles=("fit.json", "not a Chinchilla fit"), needs="fit"))
    TAMPER.update({f"fit_{n}": _tamper(f) for n, f in tamper.items()})
    TAMPER.update({f"law_{n}": _tamper(f) for n, f in chin.items()})
    TAMPER["fit_exponent_huge_audit"] = TAMPER["fit_exponent_huge_transfer"] = \
        _tamper(tamper["exponent_huge"])
    RAW.update({f"fit_{n}": v for n, v in raw.items()})
    for name, label in (("group_escape", "\x1b[2Jmup\u202e\r"), ("group_huge", "m" * 100000)):
        TAMPER[f"fit_{name}"] = _relabel(label)
        out.append(Case(f"fit_{name}", k, pred, expect=0, needs="fit"))
    return out


TAMPER: dict[str, Callable] = {}  # case name -> tamper function of the saved fit's dict
RAW: dict[str, bytes | None] = {}  # case name -> the bytes of bad.json (None: made from fit)


def raw_fit(name: str, good: bytes) -> bytes:
    """The bytes of a case's bad.json built from a good saved fit."""
    if name == "fit_json_bom":
        return b"\xef\xbb\xbf" + good
    if name == "fit_utf16_json":
        return good.decode().encode("utf-16")
    if name == "fit_nan_constant":
        d = json.loads(good)
        d["laws"][0]["params"]["C"] = float("nan")
        return json.dumps(d).encode()
    return RAW[name]


def _mount_tmpfs(size: str, ro: bool = False, fill: dict | None = None):
    """setup(d): a tmpfs of ``size`` at d/mnt (files ``fill`` in it), read-only if ``ro``."""
    def setup(d: Path):
        import subprocess
        m = d / "mnt"
        m.mkdir(exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(m)],
                       check=True, capture_output=True)
        for name, content in (fill or {}).items():
            p = m / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(content)
        if ro:
            subprocess.run(["mount", "-o", "remount,ro", str(m)], check=True,
                           capture_output=True)
        return lambda: subprocess.run(["umount", "-l", str(m)], capture_output=True)
    return setup


def output_cases() -> list[Case]:
    k = "outputs"
    old_report = {"rep/report.md": b"old md\n", "rep/report.html": b"<p>old</p>\n",
                  "rep/figures/sweeps.png": b"old png"}

    def full_node(d: Path):
        os.mknod(d / "full", stat.S_IFCHR | 0o666, os.makedev(1, 7))

    def fill_disk(d: Path):
        """A 64 KiB tmpfs holding an old report and an old JSON, filled up to the last few
        KiB."""
        teardown = _mount_tmpfs("64k", fill={"out.json": OLD_JSON, **{
            "rep/" + n: c for n, c in (("report.md", b"old md\n"),
                                       ("report.html", b"<p>old</p>\n"),
                                       ("figures/sweeps.png", b"old png"))}})(d)
        try:
            with open(d / "mnt" / "filler", "wb", buffering=0) as f:
                f.write(bytes(56 << 10))
        except OSError:  # full already: fine
            pass
        return teardown

    return [
        Case("json_under_a_file", k, fit_cmd("--json", "{d}/runs.csv/out.json"),
             files={"runs.csv": GOOD}, needles=("runs.csv", "not a folder"), json_out=False),
        Case("json_is_a_directory", k, fit_cmd("--json", "{d}/sub"),
             files={"runs.csv": GOOD, "sub/keep": "x"}, needles=("directory",), json_out=False),
        Case("json_missing_folder", k, fit_cmd("--json", "{d}/no/such/out.json"),
             files={"runs.csv": GOOD}, needles=("does not exist",), json_out=False),
        Case("json_over_the_input", k, fit_cmd("--json", "{d}/runs.csv"),
             files={"runs.csv": GOOD}, needles=("input",), json_out=False),
        Case("json_to_full_device", k, fit_cmd("--json", "{d}/full"), files={"runs.csv": GOOD},
             setup=full_node, needles=("full", "No space"), json_out=False, needs="mknod"),
        Case("json_read_only_folder", k, fit_cmd("--json", "{d}/mnt/out.json"),
             files={"runs.csv": GOOD}, setup=_mount_tmpfs("64k", ro=True, fill={
                 "out.json": OLD_JSON}), needles=("out.json", "ead-only"), json_out=False,
             needs="mount"),
        Case("report_read_only_folder", k, fit_cmd("--report", "{d}/mnt/rep"),
             files={"runs.csv": GOOD}, setup=_mount_tmpfs("64k", ro=True, fill={
                 "rep/report.md": b"old md\n"}), needles=("rep", "ead-only"), needs="mount"),
        Case("report_full_disk", k, fit_cmd("--report", "{d}/mnt/rep"),
             files={"runs.csv": GOOD}, setup=fill_disk, needles=("No space",), needs="mount",
             timeout=120),
        Case("report_new_folder_full_disk", k, fit_cmd("--report", "{d}/mnt/new/rep"),
             files={"runs.csv": GOOD}, setup=fill_disk, needles=("No space",), needs="mount",
             timeout=120),
        Case("json_and_report_full_disk", k, fit_cmd("--json", "{d}/mnt/out.json", "--report",
                                                     "{d}/mnt/rep"),
             files={"runs.csv": GOOD}, setup=fill_disk, needles=("No space",), needs="mount",
             json_out=False, timeout=120),
        Case("report_under_a_file", k, fit_cmd("--report", "{d}/runs.csv/rep"),
             files={"runs.csv": GOOD}, needles=("not a folder",)),
        Case("report_figures_is_a_file", k, fit_cmd("--report", "{d}/rep"),
             files={"runs.csv": GOOD, "rep/figures": "a file", **{
                 n: c for n, c in old_report.items() if "figures" not in n}},
             needles=("figures",)),
        Case("isoflop_figures_full_disk", k, ["isoflop", "{d}/runs.csv", "--boot", "0", "-q",
                                              "--figures", "{d}/mnt/figs"],
             files={"runs.csv": csv(iso_rows())}, setup=fill_disk, needles=("No space",),
             needs="mount", timeout=120),
        Case("predict_json_full_device", k, ["predict", "{d}/fit.json", "--scale", "1e9",
                                             "--horizon", "1e10", "--json", "{d}/full"],
             setup=full_node, needles=("No space",), json_out=False, needs="fit+mknod"),
    ]


def regex_cases() -> list[Case]:
    k = "regex"
    named = csv(rows(extra=lambda r: {"name": f"run_lr{r['lr']}_s{r['scale']:g}"}))
    named_nolr = csv([{k2: v for k2, v in r.items() if k2 != "lr"}
                      for r in rows(extra=lambda r: {"name": f"run_lr{r['lr']}_x"})])
    slow = csv(rows(extra=lambda r: {"name": "a" * 40 + "!"}))
    return [
        table_case("compile_error", k, named, "--extract", "name:(?P<x>", needles=("--extract",
                                                                                  "regular")),
        table_case("repeat_overflow", k, named, "--extract", "name:(?P<x>a{4294967296})",
                   needles=("--extract",)),
        table_case("nested_2000", k, named, "--extract",
                   "name:" + "(" * 2000 + "(?P<x>a)" + ")" * 2000, needles=("--extract",)),
        table_case("catastrophic_backtracking", k, slow, "--extract", "name:(?P<x>(a+)+$)",
                   needles=("--extract", "row 1", "was still matching")),
        table_case("no_named_group", k, named, "--extract", "name:lr([0-9.e-]+)",
                   needles=("named group",)),
        table_case("group_is_a_column", k, named, "--extract", "name:(?P<lr>[0-9.e-]+)",
                   needles=("'lr'",)),
        table_case("missing_colon", k, named, "--extract", "name", needles=("COL:REGEX",)),
        table_case("unknown_column", k, named, "--extract", "nom:(?P<x>.)", needles=("'nom'",)),
        table_case("lr_from_name", k, named_nolr, "--extract", r"name:_lr(?P<lr>[0-9.e-]+)_",
                   expect=0),
        table_case("empty_match", k, named_nolr, "--extract", "name:(?P<lr>z*)",
                   needles=("column 'lr'", "row 1")),
        table_case("duplicate_group_name", k, named, "--extract", "name:(?P<x>a)(?P<x>b)",
                   needles=("--extract",)),
        table_case("bad_group_name", k, named, "--extract", "name:(?P<x\x1b>a)",
                   needles=("--extract",)),
        table_case("lookbehind_variable", k, named, "--extract", "name:(?<=a+)(?P<x>b)",
                   needles=("--extract",)),
        table_case("group_with_escape_values", k,
                   csv(rows(extra=lambda r: {"name": "\x1b[31mred\x1b[0m"})), "--extract",
                   "name:(?P<tag>.+)", "--by", "tag", expect=0),
    ]


def chinchilla_cases() -> list[Case]:
    k = "chinchilla"
    one_n = [r for r in chin_rows() if r["N"] == 1e8]
    one_d = [r for r in chin_rows() if r["D"] == 1e9]
    two_n = [r for r in chin_rows() if r["N"] in (1e7, 1e8)]
    return [
        table_case("one_model_size", k, csv(one_n * 2), "--keep-duplicates", cmd="chinchilla",
                   needles=("1 model size", "A and alpha")),
        table_case("one_token_count", k, csv(one_d * 2), "--keep-duplicates", cmd="chinchilla",
                   needles=("1 token count", "B and beta")),
        table_case("two_model_sizes", k, csv(two_n), cmd="chinchilla",
                   needles=("2 model sizes",)),
        table_case("too_few_runs", k, csv(chin_rows()[:3]), cmd="chinchilla",
                   needles=("at least 5",)),
        table_case("good_grid", k, csv(chin_rows()), cmd="chinchilla", expect=0),
        table_case("no_horizon", k, csv([{"N": r["N"], "loss": r["loss"]} for r in chin_rows()]),
                   cmd="chinchilla", needles=("--horizon",)),
    ]


def control_cases() -> list[Case]:
    k = "control"
    esc = "\x1b[31mred\x1b[0m\u202e\r\x07"
    return [
        table_case("escape_in_header", k, GOOD.replace("lr", "l\x1b[2Jr", 1),
                   needles=("no lr column", "\\x1b")),
        table_case("escape_in_by_label", k, csv(rows(extra=lambda r: {"p": esc}), quote_all=True),
                   "--by", "p",
                   expect=0),
        table_case("escape_in_status", k, csv(rows(extra=lambda r: {
            "status": "ok" if r["lr"] != 3e-4 else esc}), quote_all=True), expect=0),
        table_case("escape_in_bad_cell", k, cell(GOOD, 4, "lr", esc.replace("\r", "")),
                   needles=("row 4", "\\x1b")),
        Case("escape_in_file_name", k, ["fit", "{d}/r\x1b[31mns.csv", "--boot", "0"],
             files={"r\x1b[31mns.csv": GOOD}, expect=0),
        Case("escape_in_missing_file_name", k, ["fit", "{d}/\x1b]0;title\x07.csv"],
             needles=("no such file",)),
        table_case("escape_in_pooled_column", k, csv(rows(extra=lambda r: {
            "p": esc + str(round(r["scale"]) % 3)}), quote_all=True), expect=0),
        table_case("bidi_in_by_label", k, csv(rows(extra=lambda r: {"p": "abc\u2066\u202edef"})),
                   "--by", "p", expect=0),
        Case("escape_in_report", k, fit_cmd("--by", "p", "--report", "{d}/rep"),
             files={"runs.csv": csv(rows(extra=lambda r: {"p": esc}), quote_all=True)}, expect=0),
        table_case("escape_in_isoflop_label", k, csv([{**r, "p": esc} for r in iso_rows()],
                                                      quote_all=True), "--by", "p",
                   cmd="isoflop", expect=0),
        table_case("escape_in_compare_label", k, csv(rows(extra=lambda r: {
            "p": esc + ("a" if r["scale"] > 5e7 else "b")}), quote_all=True), "--by", "p",
                   cmd="compare", expect=None),
        Case("escape_in_chinchilla_file_name", k, ["chinchilla", "{d}/c\x1b[2Jh.csv", "-q"],
             files={"c\x1b[2Jh.csv": csv(chin_rows())}, expect=0),
        Case("mathtext_in_report_labels", k, fit_cmd("--by", "p", "--report", "{d}/rep"),
             files={"runs.csv": csv(rows(extra=lambda r: {
                 "p": "x$\\frac{$" + ("a" if r["scale"] > 5e7 else "b")}), quote_all=True)},
             expect=0),
        Case("mathtext_and_escape_in_isoflop_figures", k,
             ["isoflop", "{d}/runs.csv", "--by", "p", "--boot", "0", "-q", "--figures",
              "{d}/figs"], files={"runs.csv": csv([{**r, "p": "$\\undefined$" + esc}
                                                   for r in iso_rows()], quote_all=True)},
             expect=0),
        Case("escape_in_saved_group", k, ["audit", "{d}/bad.json", "--lr", "1e-3", "--scale", "1e9",
                                          "--horizon", "1e10"], expect=0, needs="fit"),
    ]


def flat_cases() -> list[Case]:
    k = "flat"
    flat = csv([{**r, "loss": 2.5} for r in rows()])
    almost = csv([{**r, "loss": 2.5 + 1e-12 * i} for i, r in enumerate(rows())])
    return [
        table_case("flat_loss", k, flat, needles=("flat", "same loss")),
        table_case("flat_to_rounding", k, almost, needles=("flat",)),
        table_case("flat_one_sweep_of_three", k, csv(
            [{**r, "loss": 2.5} if r["scale"] == 1e8 else r for r in rows()]), expect=0),
    ]


def next_cases() -> list[Case]:
    """``scalefit next``: budgets, targets, candidates and the to-do file."""
    k = "next"

    def nxt(*extra):
        return ["next", "{d}/runs.csv", "--boot", "0", "-q", *extra]

    todo = b"scale,horizon,lr\n1e8,1e9,0.001\n"

    def full_node(d: Path):
        os.mknod(d / "full", stat.S_IFCHR | 0o666, os.makedev(1, 7))

    return [
        Case("next_ok", k, nxt("--budget", "3"), files={"runs.csv": GOOD}, expect=0,
             shows=("Next runs: 3 of a budget of 3",)),
        Case("next_budget_zero", k, nxt("--budget", "0"), files={"runs.csv": GOOD},
             needles=("--budget",)),
        Case("next_budget_huge", k, nxt("--budget", "1000000000"), files={"runs.csv": GOOD},
             needles=("--budget", "1000")),
        Case("next_budget_text", k, nxt("--budget", "1e3"), files={"runs.csv": GOOD},
             needles=("--budget",)),
        Case("next_target_negative", k, nxt("--budget", "2", "--target-scale", "-1"),
             files={"runs.csv": GOOD}, needles=("--target-scale",)),
        Case("next_target_inf", k, nxt("--budget", "2", "--target-horizon", "inf"),
             files={"runs.csv": GOOD}, needles=("--target-horizon",)),
        Case("next_out_is_input", k, nxt("--budget", "2", "--out", "{d}/runs.csv"),
             files={"runs.csv": GOOD}, needles=("runs.csv", "overwrite")),
        Case("next_out_kept_on_failure", k, nxt("--budget", "2", "--group", "p=zz", "--out",
                                                "{d}/todo.csv"),
             files={"runs.csv": GOOD, "todo.csv": todo}, needles=("p",)),
        Case("next_on_optima_table", k, nxt("--budget", "2"), files={"runs.csv": OPTIMA},
             needles=("optima",)),
        Case("next_candidates_missing", k, nxt("--budget", "2", "--candidates",
                                               "{d}/nope.csv"),
             files={"runs.csv": GOOD}, needles=("nope.csv",)),
        Case("next_candidates_negative_lr", k, nxt("--budget", "2", "--candidates",
                                                   "{d}/cand.csv"),
             files={"runs.csv": GOOD, "cand.csv": "scale,horizon,lr\n1e8,1e9,-1\n"},
             needles=("cand.csv", "lr", "row 1")),
        Case("next_candidates_text_lr", k, nxt("--budget", "2", "--candidates",
                                               "{d}/cand.csv"),
             files={"runs.csv": GOOD, "cand.csv": "scale,horizon,lr\n1e8,1e9,abc\n"},
             needles=("cand.csv", "row 1")),
        Case("next_out_full_device_keeps_json", k, nxt("--budget", "2", "--out", "{d}/full"),
             files={"runs.csv": GOOD}, setup=full_node, needles=("No space",), needs="mknod"),
        Case("next_all_diverged", k, nxt("--budget", "2"),
             files={"runs.csv": csv([{**r, "loss": math.inf} for r in rows()])}, expect=0,
             shows=("every run diverged",)),
    ]


def joint_cases() -> list[Case]:
    """``scalefit fit --joint COL``: the joint column missing, not numeric, a role."""
    k = "joint"
    with_bs = lambda v: csv([{**r, "bs": v} for r in rows()])  # noqa: E731
    return [
        table_case("joint_missing_column", k, GOOD, "--joint", "bs", needles=("--joint", "bs")),
        table_case("joint_text_value", k, with_bs("abc"), "--joint", "bs",
                   needles=("--joint", "row 1", "abc")),
        table_case("joint_negative", k, with_bs(-64), "--joint", "bs",
                   needles=("--joint", "-64")),
        table_case("joint_zero", k, with_bs(0), "--joint", "bs", needles=("--joint",)),
        table_case("joint_is_the_lr", k, GOOD, "--joint", "lr", needles=("lr",)),
        table_case("joint_one_value", k, with_bs(64), "--joint", "bs", expect=0,
                   shows=("too_few",)),
        table_case("joint_on_optima_table", k, OPTIMA, "--joint", "bs", needles=("bs",)),
    ]


def all_cases() -> list[Case]:
    from cases_outputs import more_cases  # issue 25's outputs (it imports this module)

    cases = [*encoding_cases(), *separator_cases(), *number_cases(), *column_cases(),
             *flag_cases(), *binary_cases(), *stream_cases(), *nested_cases(), *huge_cases(),
             *saved_fit_cases(), *output_cases(), *regex_cases(), *chinchilla_cases(),
             *control_cases(), *flat_cases(), *next_cases(),
             *joint_cases(), *more_cases(), *row_cases()]
    TAMPER["escape_in_saved_group"] = TAMPER["fit_group_escape"]
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


CASES = all_cases()
