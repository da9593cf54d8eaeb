"""The BPE vocabulary: merges learned as counted, a lossless encoding, the stdlib-bpeV
data source with its own split and an on-disk cache."""

import numpy as np
import pytest

from reference_trainer import bpe, data

TEXT = (b"def forward(self, x):\n    return self.proj(x) + x\n\n" * 40
        + b"class Model:\n    def __init__(self, width=128):\n        self.width = width\n" * 30)


def test_chunks_cover_the_text():
    assert b"".join(bpe.chunks(TEXT)) == TEXT


def test_first_merge_is_the_most_frequent_pair_and_training_is_deterministic():
    merges = bpe.train(TEXT, 300)
    counts = {}
    for c in bpe.chunks(TEXT):
        for p in zip(c, c[1:]):
            counts[p] = counts.get(p, 0) + 1
    top = max(counts.values())
    assert counts[merges[0]] == top
    assert merges == bpe.train(TEXT, 300)
    assert len(merges) <= 300 - 256


def test_round_trip_and_compression():
    merges = bpe.train(TEXT, 400)
    ids = bpe.encode(TEXT, merges)
    assert ids.dtype == np.uint16 and ids.max() < 256 + len(merges)
    assert bpe.decode(ids, merges) == TEXT
    assert len(ids) < len(TEXT) / 3          # repeated words become single tokens
    other = b"unseen \xff\x00 bytes"
    assert bpe.decode(bpe.encode(other, merges), merges) == other


def test_stdlib_bpe_source_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REFERENCE_TRAINER_CACHE", str(tmp_path))
    data.load.cache_clear()
    try:
        ds = data.load("stdlib-bpe300", 0.05)
        assert ds.vocab_size == 300 and ds.name.endswith(":bpe300")
        assert int(ds.train.max()) < 300 and int(ds.val.max()) < 300
        assert len(list(tmp_path.glob("bpe300-*.npy"))) == 2   # train and val, cached
        data.load.cache_clear()
        again = data.load("stdlib-bpe300", 0.05)
        assert np.array_equal(again.train, ds.train)
    finally:
        data.load.cache_clear()


@pytest.mark.parametrize("bad", ["stdlib-bpe", "stdlib-bpe256", "stdlib-bpex", "stdlib-bpe70000"])
def test_bad_vocabulary_is_refused(bad):
    with pytest.raises(ValueError, match="stdlib-bpeV"):
        data.load(bad)
