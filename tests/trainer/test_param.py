"""Each preset and switch gives the documented init std, forward multipliers and
per-group LR (docs/trainer.md, "Parameterization"), checked on built models."""

import math

import pytest
import torch

from reference_trainer import optim, param
from reference_trainer.build import build_model
from reference_trainer.config import RunConfig

# The documented table, as powers of m (independent of param.py's own tables):
# (lr emb, lr hidden, lr readout, lr norm, init hidden, init readout, mult readout, attn exp)
DOC = {
    "sp": (0, 0, 0, 0, 0, 0, 0, 0.5),
    "mup": (0, -1, 0, 0, -0.5, 0, -1, 1.0),
    "sp_emb": (1, 0, 0, 0, 0, 0, 0, 0.5),
    "sp+hidden_lr": (0, -1, 0, 0, 0, 0, 0, 0.5),
    "sp+hidden_init": (0, 0, 0, 0, -0.5, 0, 0, 0.5),
    "sp+readout_mult": (0, 0, 0, 0, 0, 0, -1, 0.5),
    "sp+readout_lr": (0, 0, -1, 0, 0, -1, 0, 0.5),
    "sp+attn": (0, 0, 0, 0, 0, 0, 0, 1.0),
    "mup-readout_mult+readout_lr": (0, -1, -1, 0, -0.5, -1, 0, 1.0),
    "mup+emb_lr": (1, -1, 0, 0, -0.5, 0, -1, 1.0),
}
WIDTH, BASE, SIGMA, LR, DEPTH = 512, 64, 0.02, 1e-3, 2
M = WIDTH / BASE


def build(name, **kw):
    cfg = RunConfig(param=name, width=WIDTH, base_width=BASE, depth=DEPTH, head_dim=32,
                    init_std=SIGMA, lr=LR, seq_len=64, **kw)
    model, tbl = build_model(cfg, vocab_size=256)
    return cfg, model, tbl


@pytest.mark.parametrize("name", list(DOC))
def test_documented_init_lr_and_multipliers(name):
    lr_e, lr_h, lr_r, lr_n, init_h, init_r, mult_r, attn = DOC[name]
    cfg, model, tbl = build(name)
    # init std, measured on the tensors
    expect = {"emb": SIGMA, "hidden": SIGMA * M ** init_h, "readout": SIGMA * M ** init_r}
    for pname, p in model.named_parameters():
        t = param.tensor_type(pname, p.ndim)
        if t == "norm":
            assert torch.all(p == (1.0 if pname.endswith("weight") else 0.0)), pname
            continue
        want = expect[t]
        if pname.endswith(("attn.c_proj.weight", "mlp.c_proj.weight")):
            want /= math.sqrt(2 * DEPTH)
        got = p.detach().std().item()
        assert got == pytest.approx(want, rel=0.03), (name, pname, got, want)
        assert abs(p.detach().mean().item()) < 0.05 * want
    # per-group learning rates
    opt = optim.build(model, tbl, cfg)
    lrs = {g["tensor_type"]: g["lr"] for g in opt.param_groups}
    want_lr = {"emb": LR * M ** lr_e, "hidden": LR * M ** lr_h, "readout": LR * M ** lr_r,
               "norm": LR * M ** lr_n}
    assert lrs == pytest.approx(want_lr, rel=1e-12)
    # forward multipliers and attention scale
    assert model.lm_head.mult == pytest.approx(M ** mult_r)
    assert model.blocks[0].attn.scale == pytest.approx(cfg.d_head ** -attn)
    assert model.wte.mult == 1.0 and model.blocks[0].mlp.c_fc.mult == 1.0


def test_sp_emb_differs_from_sp_only_in_embedding_lr():
    cfg_a, sp, tbl_a = build("sp")
    cfg_b, spe, tbl_b = build("sp_emb")
    for (na, pa), (nb, pb) in zip(sp.named_parameters(), spe.named_parameters(), strict=True):
        assert na == nb and torch.equal(pa, pb)
    ga = {g["tensor_type"]: g for g in optim.build(sp, tbl_a, cfg_a).param_groups}
    gb = {g["tensor_type"]: g for g in optim.build(spe, tbl_b, cfg_b).param_groups}
    for t in ga:
        factor = M if t == "emb" else 1.0
        assert gb[t]["lr"] == pytest.approx(ga[t]["lr"] * factor, rel=1e-12)
        assert gb[t]["wd"] == ga[t]["wd"]
    assert tbl_a.attn_exp == tbl_b.attn_exp
    mults = [{t: r.mult for t, r in tb.rules.items()} for tb in (tbl_a, tbl_b)]
    assert mults[0] == mults[1]


def test_every_preset_equals_sp_at_base_width_except_attention():
    for name in ("mup", "sp_emb", "mup-readout_mult+readout_lr"):
        a = param.table("sp", 64, 64)
        b = param.table(name, 64, 64)
        assert a.rules == b.rules


def test_constant_factors_and_zero_init():
    cfg, model, tbl = build("mup", lr_factor_emb=10.0, mult_emb=2.0, readout_zero_init=True)
    assert tbl.rules["emb"].lr_mult == 10.0 and model.wte.mult == 2.0
    assert torch.all(model.lm_head.weight == 0)
    lrs = {g["tensor_type"]: g["lr"] for g in optim.build(model, tbl, cfg).param_groups}
    assert lrs["emb"] == pytest.approx(10 * LR)


@pytest.mark.parametrize("name,canon", [
    ("sp", "sp"), ("sp+emb_lr", "sp_emb"),
    ("sp+hidden_lr+hidden_init+readout_mult+attn", "mup"),
    ("mup-attn", "mup-attn"), ("sp+emb_lr+attn", "sp_emb+attn"),
    ("mup+emb_lr", "mup+emb_lr"), ("sp+hidden_lr-hidden_lr", "sp"),
])
def test_canonical_names(name, canon):
    assert param.canonical_name(name) == canon
    assert RunConfig(param=name).param == canon


@pytest.mark.parametrize("bad", ["spp", "sp+foo", "mup+readout_lr", "mup*attn"])
def test_bad_names_say_what_to_use(bad):
    with pytest.raises(ValueError, match="sp|switch|readout"):
        param.parse(bad)


def test_run_id_stable_and_ignores_execution_fields():
    a = RunConfig(param="sp+emb_lr", lr=1e-3)
    b = RunConfig(param="sp_emb", lr=0.001, device="cpu", log_every=5, micro_batch_size=4)
    assert a.run_id == b.run_id
    assert a.run_id != RunConfig(param="sp_emb", lr=2e-3).run_id
    assert len(a.run_id) == 12


def test_run_id_hashes_only_settings_that_differ_from_their_defaults():
    """A new setting added with a default that keeps today's behaviour leaves every
    existing id unchanged: defaults are not hashed."""
    import dataclasses

    base = RunConfig(param="sp", lr=1e-3)
    explicit = RunConfig(param="sp", lr=1e-3, init_rel=0.0, attn_norm="none",
                         wd_transfer=False, init_factor_hidden=1.0)
    assert base.run_id == explicit.run_id
    for change in (dict(init_rel=0.5), dict(attn_norm="base"), dict(wd_transfer=True),
                   dict(init_factor_emb=2.0)):
        assert dataclasses.replace(base, **change).run_id != base.run_id, change


def test_init_relative_to_base_width_and_per_type_factors():
    rel, base = 0.6, 64
    cfg, model, tbl = build("mup", init_rel=rel, init_factor_emb=2.0, init_factor_readout=0.5)
    sigma = rel / math.sqrt(base)  # overrides init_std
    want = {"emb": 2.0 * sigma, "hidden": sigma / math.sqrt(M), "readout": 0.5 * sigma}
    assert {t: tbl.rules[t].init_std for t in want} == pytest.approx(want, rel=1e-12)
    got = model.blocks[0].mlp.c_fc.weight.detach().std().item()
    assert got == pytest.approx(want["hidden"], rel=0.03)
    assert model.wte.weight.detach().std().item() == pytest.approx(want["emb"], rel=0.03)


@pytest.mark.parametrize("name", ["mup", "sp", "sp+attn"])
def test_attention_normalised_at_the_base_width(name):
    """attn_norm=base: d_head^-e * d_base^(e - 1/2), so every preset has SP's scale at
    m = 1 and muP's 1/d_head only departs from it as the head grows."""
    e = 1.0 if name in ("mup", "sp+attn") else 0.5
    for n_heads, width in ((4, 64), (4, 512)):  # fixed head count: the head grows with width
        cfg = RunConfig(param=name, width=width, base_width=64, n_heads=n_heads,
                        attn_norm="base", depth=1, seq_len=32)
        d, d_base = width / n_heads, 64 / n_heads
        model, tbl = build_model(cfg, vocab_size=256)
        assert model.blocks[0].attn.scale == pytest.approx(d ** -e * d_base ** (e - 0.5))
    at_base = RunConfig(param=name, width=64, base_width=64, head_dim=16, attn_norm="base")
    assert param.table_for(at_base).attn_scale(16) == pytest.approx(16 ** -0.5)


def test_wd_transfer_keeps_lr_times_decay_per_type_constant_in_width():
    wd = 0.1
    products = []
    for width in (64, 512):
        cfg = RunConfig(param="mup", width=width, base_width=64, head_dim=32, depth=1,
                        seq_len=32, lr=LR, weight_decay=wd, wd_transfer=True)
        model, tbl = build_model(cfg, vocab_size=256)
        groups = {g["tensor_type"]: g for g in optim.build(model, tbl, cfg).param_groups}
        products.append({t: g["lr"] * g["wd"] for t, g in groups.items() if t != "norm"})
        assert groups["norm"]["wd"] == 0.0
    assert products[0] == pytest.approx(products[1], rel=1e-12)
    assert products[0]["hidden"] == pytest.approx(LR * wd)
    plain = RunConfig(param="mup", width=512, base_width=64, weight_decay=wd)
    assert param.table_for(plain).rules["hidden"].wd_mult == 1.0  # off: decay shrinks as 1/m


def test_sp_fanin_initialises_every_matrix_as_one_over_sqrt_fan_in():
    from reference_trainer import param

    for width in (16, 64, 256):
        t = param.table("sp_fanin", width, 16, init_std=1 / 16**0.5)   # init_rel 1
        assert abs(t.rules["hidden"].init_std - width**-0.5) < 1e-12
        assert abs(t.rules["readout"].init_std - width**-0.5) < 1e-12
        assert t.rules["emb"].init_std == 0.25                          # no fan-in: constant
        assert t.rules["hidden"].lr_mult == t.rules["readout"].lr_mult == 1.0
    assert param.canonical_name("sp+hidden_init+readout_init") == "sp_fanin"
    assert param.canonical_name("sp+hidden_init") == "sp+hidden_init"   # old names unchanged
    with pytest.raises(ValueError, match="readout_lr already sets"):
        param.parse("sp_fanin+readout_lr")


@pytest.mark.parametrize("name, why", [("mup+hidden_lr", "mup already has hidden_lr"),
                                       ("sp-attn", "sp does not have attn"),
                                       ("mup-attn-attn", "mup-attn does not have attn")])
def test_a_switch_that_changes_nothing_is_refused(name, why):
    with pytest.raises(ValueError, match=why):
        param.parse(name)
