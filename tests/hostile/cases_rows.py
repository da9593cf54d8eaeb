"""Hostile cases about input rows and names (issue 25): ragged rows, a torn last line, empty
losses, copied rows and run ids given twice, invisible characters in names, lone
surrogates. Registered in ``hostile_cases.all_cases``; they use its classes (separators,
numbers, columns, control) so the class list stays as it is.
"""

from __future__ import annotations

import json


def row_cases() -> list:
    from hostile_cases import GOOD, Case, csv, jsonl, rows, table_case

    lines = GOOD.splitlines(keepends=True)
    head, body, last = lines[0], "".join(lines[1:]), lines[-1]
    cut = "".join(lines[:-1])
    with_ids = csv(rows(extra=lambda r: {"run_id": f"r{int(r['lr'] * 1e5)}_{r['scale']:g}"}))
    id_lines = with_ids.splitlines(keepends=True)
    conflict = with_ids + id_lines[3].replace(",3.", ",4.")
    fourteen = ("14 runs", "3 sweeps (3 ok)")
    k = "separators"
    out = [
        table_case("short_row_middle", k, cut.replace(lines[5], "1e8,1e9\n") + last,
                   needles=("runs.csv", "line 6 (row 5)", "2 fields", "header has 4")),
        table_case("long_row_middle", k, GOOD.replace(lines[5], lines[5][:-1] + ",7\n"),
                   needles=("line 6 (row 5)", "5 fields")),
        table_case("trailing_separator_rows_only", k, head + body.replace("\n", ",\n"),
                   needles=("line 2 (row 1)", "separator at the end")),
        table_case("short_last_row_with_newline", k, GOOD + "1e9,1e9\n",
                   needles=("line 17 (row 16)", "2 fields")),
        table_case("torn_last_line_short", k, cut + last[:9], expect=0,
                   shows=(*fourteen, "line 16 (row 15)", "line break")),
        table_case("torn_last_line_in_loss", k, cut + last[:-3], expect=0, shows=fourteen),
        table_case("torn_complete_last_line", k, GOOD.rstrip("\n"), expect=0,
                   shows=(*fourteen, "end the file with a line break")),
        table_case("torn_last_line_crlf", k, (cut + last[:-4]).replace("\n", "\r\n"),
                   expect=0, shows=fourteen),
        table_case("torn_last_line_open_quote", k, cut + '1e9,1e9,"0.0', expect=0,
                   shows=fourteen),
        table_case("whitespace_tail_is_no_row", k, GOOD + "   ", expect=0,
                   shows=("15 runs", "3 sweeps (3 ok)")),
        Case("torn_last_line_stdin", k, ["fit", "-", "--boot", "0", "-q"],
             stdin=(cut + last[:12]).encode(), expect=0, shows=fourteen),
        table_case("torn_jsonl_last_line", k, jsonl(rows())[:-20], ext="jsonl", expect=0,
                   shows=(*fourteen, "line 15")),
        table_case("jsonl_complete_last_object_kept", k, jsonl(rows()).rstrip("\n"),
                   ext="jsonl", expect=0, shows=("15 runs",)),
        table_case("torn_last_line_only_row", k, head + last[:-2],
                   needles=("header but no rows",)),
    ]
    k = "numbers"
    blank = _cell(GOOD, 3, "loss", "")
    out += [
        table_case("loss_blank_is_missing", k, blank, expect=0,
                   shows=("15 runs (0 diverged, 1 with an empty loss left out)", "line 4")),
        table_case("loss_blank_as_diverged", k, blank, "--missing-loss", "diverged", expect=0,
                   shows=("15 runs (1 diverged)",)),
        table_case("loss_na_is_missing", k, _cell(GOOD, 3, "loss", "NA"), expect=0,
                   shows=("1 with an empty loss left out",)),
        table_case("loss_nan_is_diverged", k, _cell(GOOD, 3, "loss", "NaN"), expect=0,
                   shows=("15 runs (1 diverged)",)),
        table_case("loss_null_jsonl_is_missing", k,
                   jsonl([{**r, "loss": None} if i == 2 else r for i, r in enumerate(rows())]),
                   ext="jsonl", expect=0, shows=("1 with an empty loss left out",)),
        table_case("loss_every_cell_blank", k, head + "".join(
            x.rsplit(",", 1)[0] + ",\n" for x in lines[1:]), needles=("loss", "empty",
                                                                    "--missing-loss")),
        table_case("missing_loss_bogus", k, GOOD, "--missing-loss", "maybe",
                   needles=("--missing-loss",)),
        table_case("loss_blank_status_diverged", k, csv([
            {**r, "loss": None, "status": "diverged"} if i == 4 else {**r, "status": "ok"}
            for i, r in enumerate(rows())]), expect=0, shows=("15 runs (1 diverged)",)),
    ]
    k = "columns"
    out += [
        table_case("every_row_twice", k, GOOD + body, expect=0,
                   shows=("30 runs (0 diverged, 15 duplicate rows counted once)",
                          "3 sweeps (3 ok)")),
        table_case("every_row_twice_kept", k, GOOD + body, "--keep-duplicates", expect=0,
                   shows=("30 runs (0 diverged)",)),
        table_case("run_id_twice_same_row", k, with_ids + id_lines[3], expect=0,
                   shows=("1 duplicate rows counted once",)),
        table_case("run_id_conflict", k, conflict,
                   needles=("run id 'r100_1e+07'", "line 4", "line 17", "--keep-duplicates")),
        table_case("run_id_conflict_kept", k, conflict, "--keep-duplicates", expect=0),
        Case("run_id_conflict_next", k, ["next", "{d}/runs.csv", "--budget", "2", "--boot", "0",
                                         "-q"], files={"runs.csv": conflict},
             needles=("run id",)),
    ]
    k = "control"
    labels = {"zwsp": "a\u200b", "alm": "a\u061c", "lsep": "a\u2028", "psep": "a\u2029",
              "bom": "\ufeffa", "wj": "a\u2060", "nbsp": "a\u00a0b", "shy": "a\u00ad"}
    for tag, label in labels.items():
        two = csv(rows(extra=lambda r: {"p": "a"}) + rows(extra=lambda r, v=label: {"p": v}),
                  quote_all=True)
        esc = label.encode("ascii", "backslashreplace").decode()
        out.append(table_case(f"invisible_in_label_{tag}", k, two, "--by", "p", expect=0,
                              shows=(esc, "6 sweeps")))
    out += [
        table_case("zero_width_in_column_name", k, GOOD.replace("lr", "lr\u200b", 1),
                   expect=0, shows=("lr=lr\\u200b",)),  # found by name, shown escaped
        table_case("lone_surrogate_labels_jsonl", k,
                   "".join(json.dumps({**r, "p": p}) + "\n" for p in ("a\ud800", "a\ud801")
                           for r in rows()), "--by", "p", ext="jsonl",
                   needles=("line 1", "lone surrogate")),
        Case("invisible_in_report_labels", k, ["fit", "{d}/runs.csv", "--by", "p", "--boot", "0",
                                               "-q", "--report", "{d}/rep"],
             files={"runs.csv": csv(rows(extra=lambda r: {"p": "a\u2028\u061c\u200b"}),
                                    quote_all=True)}, expect=0),
    ]
    return out


def _cell(text: str, row: int, col: str, value: str) -> str:
    from hostile_cases import cell

    return cell(text, row, col, value)
