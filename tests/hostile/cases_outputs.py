"""Hostile cases of issue 25's outputs, streams, JSON and saved fits (registered in
``hostile_cases.all_cases``): an output over the file behind standard input (by path,
hard link or symbolic link), two outputs naming one file, /dev/stdout and FIFOs written
in place, FIFOs no program writes (table and FIT.json), a FIT.json from /dev/zero or
over its size limit, a saved fit whose fields contradict each other, a Chinchilla fit
whose JSON would hold inf."""

from __future__ import annotations

import os
from pathlib import Path

from hostile_cases import GOOD, TAMPER, Case, _tamper, chin_rows, csv

PRED = ["--scale", "1e9", "--horizon", "1e10"]
WAIT = "SCALEFIT_STREAM_WAIT=1 "  # a FIFO no program writes is refused after 1 s


def _links(d: Path):
    os.link(d / "runs.csv", d / "hard.csv")
    os.symlink(d / "runs.csv", d / "soft.csv")


def _fifo(name: str):
    def setup(d: Path):
        os.mkfifo(d / name)
    return setup


def _big_fit(d: Path):
    with open(d / "big.json", "wb") as f:  # sparse: 300 MiB that take no disk
        f.truncate(300 << 20)


def stdin_cases() -> list[Case]:
    k = "outputs"
    out = []
    for tag, target in (("path", "runs.csv"), ("hard_link", "hard.csv"),
                        ("symlink", "soft.csv")):
        out.append(Case(f"json_over_stdin_{tag}", k, [], files={"runs.csv": GOOD},
                        setup=_links, process=True, json_out=False,
                        shell=f'sf fit - --json "$D/{target}" --boot 0 -q < "$D/runs.csv"',
                        needles=(target, "standard input", "--json")))
    out += [
        Case("report_over_stdin_file", k, [], files={"rep/report.md": GOOD}, process=True,
             shell='sf fit - --report "$D/rep" --boot 0 -q < "$D/rep/report.md"',
             needles=("report.md", "standard input", "--report"), json_out=False),
        Case("predict_json_over_stdin_fit", k, [], process=True, needs="fit",
             shell=f'sf predict - {" ".join(PRED)} --json "$D/fit.json" < "$D/fit.json"',
             needles=("fit.json", "standard input"), json_out=False),
        Case("next_out_over_stdin_file", k, [], files={"runs.csv": GOOD}, process=True,
             shell='sf next - --budget 2 --boot 0 -q --out "$D/runs.csv" < "$D/runs.csv"',
             needles=("runs.csv",), json_out=False),
    ]
    return out


def target_cases() -> list[Case]:
    k = "outputs"

    def nxt(*extra):
        return ["next", "{d}/runs.csv", "--budget", "2", "--boot", "0", "-q", *extra]

    def hard_todo(d: Path):
        os.link(d / "todo.csv", d / "todo2.csv")

    return [
        Case("next_out_and_json_same", k, nxt("--out", "{d}/x.csv", "--json", "{d}/x.csv"),
             files={"runs.csv": GOOD}, needles=("x.csv", "--json", "--out"), json_out=False),
        Case("next_out_and_json_hard_link", k, nxt("--out", "{d}/todo.csv", "--json",
                                                   "{d}/todo2.csv"),
             files={"runs.csv": GOOD, "todo.csv": "old\n"}, setup=hard_todo,
             needles=("--json", "--out"), json_out=False),
        Case("next_out_and_json_dev_null", k, nxt("--out", "/dev/null", "--json", "/dev/null"),
             files={"runs.csv": GOOD}, expect=0, json_out=False),
        Case("json_dev_stdout_to_file", k, [], files={"runs.csv": GOOD}, process=True,
             expect=0, json_out=False,
             shell='sf fit "$D/runs.csv" --boot 0 -q --json /dev/stdout > "$D/o.txt"; rc=$?; '
                   '{ test ! -e /dev/stdout || test -L /dev/stdout || test -c /dev/stdout; } '
                   '&& head -c 1 "$D/o.txt" | grep -q "{" && grep -q "15 runs" "$D/o.txt" '
                   '|| exit 1; exit $rc'),
        Case("json_to_fifo_with_reader", k, [], files={"runs.csv": GOOD}, process=True,
             expect=0, json_out=False, setup=_fifo("p.json"),
             shell='(cat "$D/p.json" > "$D/got.txt" &); sf fit "$D/runs.csv" --boot 0 -q '
                   '--json "$D/p.json"; rc=$?; sleep 0.2; test -p "$D/p.json" && '
                   'grep -q schema_version "$D/got.txt" || exit 1; exit $rc'),
    ]


def stream_cases() -> list[Case]:
    k = "streams"
    return [
        Case("table_fifo_no_writer", k, [], process=True, setup=_fifo("pipe.csv"),
             shell=WAIT + 'sf fit "$D/pipe.csv" --boot 0 -q', timeout=30,
             needles=("pipe.csv", "no data came", "SCALEFIT_STREAM_WAIT"), json_out=False),
        Case("fit_json_fifo_no_writer", k, [], process=True, setup=_fifo("f.json"),
             shell=WAIT + f'sf predict "$D/f.json" {" ".join(PRED)}', timeout=30,
             needles=("f.json", "no data came"), json_out=False),
        Case("fit_json_dev_zero", k, ["predict", "/dev/zero", *PRED], process=True,
             timeout=60, needles=("/dev/zero", "256 MiB")),
        Case("fit_json_stdin_dev_zero", k, [], process=True, timeout=60, json_out=False,
             shell=f'sf audit - --lr 1e-3 {" ".join(PRED)} < /dev/zero', needles=("256 MiB",)),
        Case("fit_json_over_size_limit", k, ["transfer", "--lr", "1e-3", "--from", "1e9",
                                              "--to", "1e10", "--fit", "{d}/big.json"],
             setup=_big_fit, needles=("big.json", "256 MiB")),
    ]


def _scale_c(factor: float):
    def edit(d: dict) -> None:
        law = d["laws"][0]
        law["params"]["C"] *= factor
    return edit


def saved_fit_cases() -> list[Case]:
    k = "saved_fit"
    tamper = {
        "c_edited": (_scale_c(2.0), ("bad.json", "$.laws[0].params.C", "ln_C")),
        "c_round_trip": (_scale_c(1 + 1e-13), None),
        "c_without_ln_c": (lambda d: [d["laws"][0].pop("ln_C"), _scale_c(2.0)(d)], None),
        "form_edited": (lambda d: d["laws"][0].update(form="lr_opt = 0.001"),
                        ("bad.json", "$.laws[0].form")),
        "form_other_exponents": (lambda d: d["laws"][0].update(
            form=d["laws"][0]["form"].replace("^a", "^b")), ("$.laws[0].form",)),
        "curvature_form_edited": (lambda d: [law.update(form=law["form"] + " * 2") for law in
                                             d["laws"] if law["target"] == "curvature"],
                                  ("form",)),
        "loss_law_form_edited": (lambda d: [law.update(form="loss_opt = 2.0") for law in
                                            d["laws"] if law["target"] == "loss_opt"],
                                 ("form", "loss_opt")),
    }
    out = []
    for name, (fn, needles) in tamper.items():
        TAMPER[f"fit_{name}"] = _tamper(fn)
        out.append(Case(f"fit_{name}", k, ["predict", "{d}/bad.json", *PRED], needs="fit",
                        expect=0 if needles is None else 2, needles=needles or ()))
    return out


def chinchilla_cases() -> list[Case]:
    k = "chinchilla"
    huge = csv([{**r, "N": r["N"] * 1e290, "D": r["D"] * 1e290} for r in chin_rows()])
    return [
        Case("chinchilla_extreme_n_json", k, ["chinchilla", "{d}/runs.csv", "-q"],
             files={"runs.csv": huge}, expect=0),
        Case("chinchilla_extreme_n_json_stdout", k, ["chinchilla", "{d}/runs.csv", "-q",
                                                     "--json", "-"],
             files={"runs.csv": huge}, expect=0, json_out=False, shows=('"range"',)),
    ]


def more_cases() -> list[Case]:
    """The cases of this module, for ``hostile_cases.all_cases``."""
    return [*stdin_cases(), *target_cases(), *stream_cases(), *saved_fit_cases(),
            *chinchilla_cases()]
