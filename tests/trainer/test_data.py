"""Data: tokenizer, token files, default corpus, disjoint splits, batches."""

import numpy as np
import pytest
import torch

from reference_trainer import data


def test_byte_tokenizer_round_trip():
    text = "def f(x):\n    return 'é' + x  # ünïcode\n"
    toks = data.encode(text)
    assert toks.dtype == np.uint16 and toks.max() < 256
    assert data.decode(toks) == text


def test_default_corpus_is_offline_stdlib_and_splits_disjoint():
    ds = data.load("stdlib", 0.05)
    assert ds.name.startswith("stdlib:py") and ds.vocab_size == 256
    assert len(ds.train) > 1_000_000 and len(ds.val) > 10_000
    n = len(ds.train) + len(ds.val)
    assert len(ds.val) == int(n * 0.05)
    # disjoint ranges of one stream: val starts where train ends
    start = ds.train.__array_interface__["data"][0]
    assert ds.val.__array_interface__["data"][0] == start + ds.train.nbytes
    assert not np.shares_memory(ds.train, ds.val)
    assert data.stdlib_files() == data.stdlib_files()  # fixed order


def test_nanogpt_bin_files(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "train.bin").write_bytes(rng.integers(0, 50257, 10_000, dtype=np.uint16)
                                         .tobytes())
    (tmp_path / "val.bin").write_bytes(rng.integers(0, 50257, 2_000, dtype=np.uint16)
                                       .tobytes())
    ds = data.load(str(tmp_path), 0.05)
    assert isinstance(ds.train, np.memmap) and len(ds.train) == 10_000 and len(ds.val) == 2_000
    assert ds.vocab_size % 64 == 0 and ds.vocab_size > int(max(ds.train.max(), ds.val.max()))
    single = data.load(str(tmp_path / "train.bin"), 0.1)
    assert len(single.train) == 9_000 and len(single.val) == 1_000
    np.testing.assert_array_equal(np.concatenate([single.train, single.val]), ds.train)


def test_text_file_and_errors(tmp_path):
    f = tmp_path / "corpus.txt"
    f.write_text("hello world\n" * 1000)
    ds = data.load(str(f), 0.1)
    assert ds.vocab_size == 256 and len(ds.train) + len(ds.val) == 12_000
    assert data.decode(ds.train) + data.decode(ds.val) == "hello world\n" * 1000
    with pytest.raises(ValueError, match="train.bin"):
        data.load(str(tmp_path), 0.1)
    with pytest.raises(ValueError, match="not 'stdlib'"):
        data.load(str(tmp_path / "missing"), 0.1)


def test_batches_reproducible_and_sharded_like_the_global_batch():
    toks = np.arange(5000, dtype=np.uint16)
    full = data.Batches(toks, 16, 8, seed=1)
    r0 = data.Batches(toks, 16, 8, seed=1, rank=0, world=2)
    r1 = data.Batches(toks, 16, 8, seed=1, rank=1, world=2)
    for _ in range(3):
        x, y = full.next()
        x0, _ = r0.next()
        x1, _ = r1.next()
        assert torch.equal(torch.cat([x0, x1]), x)
        assert torch.equal(y[:, :-1], x[:, 1:])
    state = full.state_dict()
    a = full.next()[0]
    full.load_state_dict(state)
    assert torch.equal(full.next()[0], a)


def test_eval_windows_cover_held_out_tokens_without_overlap():
    starts = data.eval_windows(np.zeros(1000, np.uint16), 64, 10_000)
    assert starts == [64 * i for i in range(len(starts))] and starts[-1] + 64 < 1000
