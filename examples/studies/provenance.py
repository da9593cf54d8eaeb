"""The provenance table of a study's results files, for its sidecar (Markdown on stdout).

    python examples/studies/provenance.py examples/data/parameterization_cpu*.csv

Per file: runs (ok / diverged), the code revisions, devices and torch versions the rows
name, the training and evaluation time of the runs trained one by one (`wall_time_s`
summed; a batched run's `wall_time_s` is its batch's time so far, shared with the other
models of the batch, so batched runs are not summed: quote the study's elapsed time from
its log) and the total tokens (`tokens`, the horizon of every run, summed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def describe(path: Path) -> list[str]:
    df = pd.read_csv(path)
    status = df["status"].value_counts()
    revs = ", ".join(f"`{r}` ({n})" for r, n in df["git_rev"].value_counts().items())
    devs = ", ".join(f"{d} ({n})" for d, n in df["device"].str.replace(r" batch\d+", " batched",
                                                                     regex=True)
                     .value_counts().items())
    single = ~df["device"].str.contains("batch")
    return [f"| `{path.name}` | {len(df)} ({status.get('ok', 0)} ok, "
            f"{status.get('diverged', 0)} diverged) | {revs} | {devs} | "
            f"{', '.join(sorted(df['torch_version'].astype(str).unique()))} | "
            f"{df.loc[single, 'wall_time_s'].sum():,.0f} s in {int(single.sum())} runs | "
            f"{int(df['tokens'].sum()):,} |"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path)
    args = ap.parse_args(argv)
    lines = ["| file | runs | git revision (rows) | device (rows) | torch | wall time "
             "of unbatched runs (summed) | total tokens |", "|---|---|---|---|---|---|---|"]
    for f in args.files:
        lines += describe(f)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
