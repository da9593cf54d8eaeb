"""Public sweep tables (../shared/datasets): every group gets a status and the result serializes."""

import json

import numpy as np

import scalefit
from scalefit.schema import validate


def test_misfitting_last_checkpoint(datasets):
    path = datasets / "misfitting-scaling_laws" / "scaling_results_last_ckpt_only.csv"
    r = scalefit.fit(path, scale="N", horizon="D", lr="peak_lr", n_boot=200)
    o = r.optima
    assert len(o) > 10
    assert o["status"].isin(["ok", "edge", "too_few", "not_convex", "all_diverged", "bad_fit",
                             "off_grid", "div_bracketed"]).all()
    # 261 rows, two of which are the same run exported twice (every column equal): counted once
    assert r.input["rows"] == 261 and r.input["duplicates"] == 1
    assert o["n_runs"].sum() == 260
    d = r.to_dict()
    assert validate(d) == []
    json.dumps(d, allow_nan=False)
    ok = o[o["status"] == "ok"]
    # ok optima lie inside the LRs they were fitted on; an interval that runs off the
    # tried LRs is open-ended there, never a number far beyond them
    assert ((ok["lr_opt"] >= ok["lr_window_lo"]) & (ok["lr_opt"] <= ok["lr_window_hi"])).all()
    closed_lo = ok["lr_opt_ci_open"].isin(["", "high"])
    assert np.isfinite(ok.loc[closed_lo, "lr_opt_lo"]).all()
    assert (ok["lr_opt_hi"].dropna() <= ok["lr_tried_hi"].max()).all()


def test_steplaw_dense_grouped_by_batch_size(datasets):
    path = datasets / "steplaw" / "dense_lr_bs_loss.csv"
    r = scalefit.fit(path, by=["bs"], n_boot=100)
    assert r.input["columns"]["scale"] == "N" and r.input["columns"]["horizon"] == "D"
    o = r.optima
    assert (o["status"] == "ok").sum() >= 20
    assert validate(r.to_dict()) == []
    # the steplaw grids are 12 LRs over ~2 decades: optima are well inside
    ok = o[o["status"] == "ok"]
    assert ((ok["lr_opt"] > 2.4e-4) & (ok["lr_opt"] < 2.3e-2)).all()
