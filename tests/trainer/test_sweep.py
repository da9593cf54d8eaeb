"""Sweeps end to end through the CLI: results read by scalefit, resume, divergence, grid
files, several workers, help and errors (kills and other faults: test_faults.py)."""

import csv
import math
import time

import pytest
from trainer_helpers import cli_env, run_cli, tiny_flags

from reference_trainer.results import ResultsFile


def read(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_tiny_sweep_end_to_end_read_by_scalefit(tmp_path):
    out = tmp_path / "runs.csv"
    t0 = time.perf_counter()
    p = run_cli("sweep", *tiny_flags(tokens=4096), "--param", "mup", "--widths", "32,64",
                "--lrs", "1e-2,3e-2,1e-1", "--seeds", "0", "--device", "cpu", "--out", out)
    assert time.perf_counter() - t0 < 120
    assert "6 ok" in p.stderr and "[6/6 done, 0 running, 0 failed, eta 0 s] cpu" in p.stderr
    rows = read(out)
    assert len(rows) == 6 and len({r["run_id"] for r in rows}) == 6
    assert {r["status"] for r in rows} == {"ok"}
    for col in ("parameterization", "n_params", "n_params_total", "tokens", "lr",
                "lr_mult_emb", "lr_mult_hidden", "lr_mult_readout", "lr_mult_norm",
                "readout_mult", "attn_scale", "weight_decay", "wd_mode", "schedule",
                "warmup_tokens", "batch_size", "seq_len", "seed", "val_loss", "train_loss",
                "steps", "wall_time_s", "tokens_per_s", "device", "torch_version", "git_rev"):
        assert col in rows[0], col
    for alias in ("N", "params", "D", "learning_rate", "peak_lr", "loss", "final_loss",
                  "horizon", "scale"):
        assert alias not in rows[0]
    import scalefit

    res = scalefit.fit(out, n_boot=50)
    assert len(res.optima) == 2  # one LR sweep per width
    # running the same command again trains nothing
    again = run_cli("sweep", *tiny_flags(tokens=4096), "--param", "mup", "--widths", "32,64",
                    "--lrs", "1e-2,3e-2,1e-1", "--device", "cpu", "--out", out)
    assert "6 runs, all already in" in again.stderr and len(read(out)) == 6


def test_batched_sweep_writes_the_rows_of_the_sequential_sweep(tmp_path):
    grid = [*tiny_flags(), "--param", "sp,mup", "--lrs", "1e-2,3e-2,1e3", "--seeds", "0,1",
            "--device", "cpu"]
    a, b = tmp_path / "batched.csv", tmp_path / "sequential.csv"
    pa = run_cli("sweep", *grid, "--out", a)
    pb = run_cli("sweep", *grid, "--out", b, "--no-batch")
    assert "in 1 batch of up to 12" in pa.stderr and "to train on 1x cpu\n" in pb.stderr
    assert "8 ok, 4 diverged" in pa.stderr and "8 ok, 4 diverged" in pb.stderr
    ra, rb = ({r["run_id"]: r for r in read(f)} for f in (a, b))
    assert len(ra) == 12 and set(ra) == set(rb)
    assert list(read(a)[0]) == list(read(b)[0])  # the same columns, in the same order
    for rid, x in ra.items():
        y = rb[rid]
        assert x["device"] == "cpu batch12" and y["device"] == "cpu"
        for col in ("status", "steps", "tokens", "lr", "n_params", "parameterization"):
            assert x[col] == y[col], col
        if y["status"] == "ok":
            assert float(x["val_loss"]) == pytest.approx(float(y["val_loss"]), rel=1e-4)
        else:
            assert x["val_loss"] == y["val_loss"] == ""
    import scalefit

    fa, fb = (scalefit.fit(f, by=["parameterization"], n_boot=0) for f in (a, b))
    assert len(fa.optima) == len(fb.optima) == 2  # one LR sweep per parameterization
    for oa, ob in zip(fa.optima.itertuples(), fb.optima.itertuples(), strict=True):
        assert oa.n_runs == ob.n_runs and oa.n_diverged == ob.n_diverged
        assert oa.lr_best == ob.lr_best


def test_diverged_run_is_recorded_and_sweep_goes_on(tmp_path):
    out = tmp_path / "runs.csv"
    ckpts = tmp_path / "ckpt"
    p = run_cli("sweep", *tiny_flags(tokens=32 * 8 * 20), "--lrs", "1000,1e-2", "--out", out,
                "--device", "cpu", "--ckpt-dir", ckpts, "--ckpt-every", "4")
    assert "1 ok, 1 diverged" in p.stderr
    assert ckpts.is_dir() and not list(ckpts.iterdir())  # checkpoints go once rows are in
    rows = {float(r["lr"]): r for r in read(out)}
    bad, good = rows[1000.0], rows[0.01]
    assert bad["status"] == "diverged" and bad["val_loss"] == "" and int(bad["steps"]) < 20
    assert good["status"] == "ok" and float(good["val_loss"]) < math.log(256)


def test_grid_files_dry_run_and_workers(tmp_path):
    toml = tmp_path / "grid.toml"
    toml.write_text('param = ["sp", "sp_emb"]\nwidths = [32, 64]\nlrs = "1e-2:2e-2:x2"\n'
                    f'out = "{tmp_path / "runs.csv"}"\n'
                    + "".join(f"{k} = {v}\n" for k, v in dict(depth=1, head_dim=16, seq_len=32,
                                                              batch_size=8, tokens=2048,
                                                              eval_tokens=512,
                                                              base_width=32).items()))
    dry = run_cli("sweep", "--config", toml, "--dry-run", "--no-probe").stdout.splitlines()
    assert len(dry) == 9 and all(" todo " in line for line in dry[:-1])
    assert "sp_emb w=64" in dry[-2] and dry[-1].startswith("8 runs: 0 done, 8 to train")
    p = run_cli("sweep", "--config", toml, "--device", "cpu", "--workers", "2",
                "--lrs", "1e-2")  # a flag overrides the file
    assert "4 ok" in p.stderr and "2x cpu" in p.stderr
    rows = ResultsFile(tmp_path / "runs.csv").rows()
    assert len(rows) == 4 and {r["parameterization"] for r in rows} == {"sp", "sp_emb"}
    yaml = pytest.importorskip("yaml")
    yml = tmp_path / "grid.yaml"
    yml.write_text(yaml.safe_dump({"widths": [32, 48], "lr": 0.01, "head_dim": 16}))
    assert len(run_cli("sweep", "--config", yml, "--out", tmp_path / "y.csv",
                       "--dry-run", "--no-probe").stdout.splitlines()) == 3


def test_train_command_prints_row_and_appends(tmp_path):
    import json

    out = tmp_path / "one.csv"
    p = run_cli("train", *tiny_flags(), "--out", out, "--param", "sp+hidden_lr")
    row = json.loads(p.stdout)
    assert row["parameterization"] == "sp+hidden_lr" and row["status"] == "ok"
    assert read(out)[0]["run_id"] == row["run_id"]
    assert "step" in p.stderr  # progress on stderr


@pytest.mark.parametrize("cmd", ["train", "sweep", "coord", "table"])
def test_help_has_examples(cmd):
    p = run_cli(cmd, "--help")
    assert "examples:" in p.stdout and f"reference-trainer {cmd}" in p.stdout


@pytest.mark.parametrize("args,msg", [
    (["sweep", "--widths", "64,abc", "--out", "x.csv"], "--width"),
    (["sweep", "--param", "mup+nope", "--out", "x.csv", "--dry-run"], "unknown switch"),
    (["sweep", "--widths", "64"], "--out is required"),
    (["train", "--width", "60", "--head-dim", "16"], "not a multiple"),
    (["sweep", "--widths", "64", "--tokens", "4096", "--tokens-per-param", "20", "--out",
      "x.csv"], "not both"),
    (["sweep", "--widths", "64", "--tokens-per-param", "twenty", "--out", "x.csv"],
     "expected numbers"),
])
def test_bad_input_one_line_no_traceback(tmp_path, args, msg):
    p = run_cli(*args, check=False, cwd=tmp_path)
    assert p.returncode == 2
    assert msg in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_tokens_per_param_sets_each_widths_horizon(tmp_path, tiny):
    from reference_trainer.build import build_model, non_embedding_params
    from reference_trainer.sweep import expand

    runs = expand({"width": [32, 64], "depth": 1, "head_dim": 16, "seq_len": 32,
                   "batch_size": 8, "tokens_per_param": [2, 4], "lr": [1e-3, 3e-3]})
    assert len(runs) == 8
    for cfg in runs:
        n = build_model(cfg, 256)[0].n_params()[0]  # what the results row will say
        assert non_embedding_params(cfg) == n
        assert cfg.tokens % cfg.tokens_per_step == 0
        ratio = cfg.tokens / n
        assert abs(ratio - round(ratio)) * n <= cfg.tokens_per_step / 2 + 1e-6  # whole steps
    assert {round(c.tokens / non_embedding_params(c)) for c in runs} == {2, 4}
    p = run_cli("sweep", "--widths", "32,64", "--depth", "1", "--head-dim", "16",
                "--seq-len", "32", "--batch-size", "8", "--tokens-per-param", "2",
                "--out", tmp_path / "r.csv", "--dry-run", "--no-probe")
    tokens = [int(line.split("tokens=")[1].split()[0]) for line in p.stdout.splitlines()
              if " todo " in line]
    assert tokens == [c.tokens for c in runs if c.lr == 1e-3 and round(
        c.tokens / non_embedding_params(c)) == 2]


def test_cpu_sweep_batches_only_where_it_pays(tmp_path):
    """Default on a CPU: widths <= 64 in batches, wider runs one by one; --batch forces."""
    grid = [*tiny_flags(), "--widths", "64,128", "--lrs", "1e-2,3e-2", "--device", "cpu"]
    p = run_cli("sweep", *grid, "--out", tmp_path / "a.csv")
    rows = read(tmp_path / "a.csv")
    assert {r["width"]: r["device"] for r in rows} == {"64": "cpu batch2", "128": "cpu"}
    assert "in 3 batches of up to 2" in p.stderr
    run_cli("sweep", *grid, "--out", tmp_path / "b.csv", "--batch")
    assert {r["device"] for r in read(tmp_path / "b.csv")} == {"cpu batch2"}


def test_ray_is_optional_and_asked_for_in_one_line(tmp_path, monkeypatch, capsys):
    """Without Ray installed, --ray says how to get it; nothing else needs Ray."""
    import sys as sys_mod

    from reference_trainer import cli

    monkeypatch.setitem(sys_mod.modules, "ray", None)  # `import ray` fails
    code = cli.main(["sweep", *tiny_flags(), "--device", "cpu", "--out",
                     str(tmp_path / "runs.csv"), "--ray", "auto"])
    err = capsys.readouterr().err
    assert code == 2 and err == ("reference-trainer sweep: error: --ray needs Ray: pip install "
                                 "-e \".[cluster]\" (or pip install ray)\n")
    assert not (tmp_path / "runs.csv").exists()
    assert cli.main(["sweep", *tiny_flags(), "--device", "cpu", "--out",
                     str(tmp_path / "runs.csv")]) == 0  # the lock was released


def test_cpu_sweep_with_the_probe_writes_every_row(tmp_path, monkeypatch):
    """The default batching on a CPU (REFERENCE_TRAINER_CPU_BATCH=auto) probes each shape
    with more than one run, logs its rates and choice, and trains every run either way."""
    monkeypatch.setenv("REFERENCE_TRAINER_CPU_BATCH", "auto")
    grid = [*tiny_flags(), "--widths", "32,64", "--lrs", "1e-2,3e-2,1e-1", "--device", "cpu"]
    p = run_cli("sweep", *grid, "--out", tmp_path / "a.csv")
    probes = [line for line in p.stderr.splitlines() if line.startswith("cpu batch probe:")]
    assert len(probes) == 2, p.stderr
    for line, w in zip(probes, (32, 64), strict=True):
        assert f" w={w} " in line and "(3 runs): model-tokens/s K=1 " in line and " K=3 " in line
        assert line.endswith(("-> one by one", "-> batches of up to 3"))
    rows = read(tmp_path / "a.csv")
    assert len(rows) == 6 and {r["status"] for r in rows} == {"ok"}


def test_cpu_batch_env_pins_the_choice(tmp_path):
    grid = [*tiny_flags(), "--lrs", "1e-2,3e-2", "--device", "cpu"]
    for mode, device in (("off", "cpu"), ("on", "cpu batch2")):
        out = tmp_path / f"{mode}.csv"
        p = run_cli("sweep", *grid, "--out", out,
                    env=cli_env() | {"REFERENCE_TRAINER_CPU_BATCH": mode})
        assert "cpu batch probe" not in p.stderr
        assert {r["device"] for r in read(out)} == {device}
    p = run_cli("sweep", *grid, "--out", tmp_path / "bad.csv", check=False,
                env=cli_env() | {"REFERENCE_TRAINER_CPU_BATCH": "sometimes"})
    assert p.returncode == 2 and "REFERENCE_TRAINER_CPU_BATCH='sometimes'" in p.stderr
    assert "Traceback" not in p.stderr
