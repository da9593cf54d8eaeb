"""A byte-level BPE tokenizer, small enough to read: train merges, encode, cache.

Text is first cut into chunks (a run of letters, of digits, of other symbols, each with the
whitespace before it, or whitespace alone), so merges never cross a chunk. Training
repeatedly merges the most frequent adjacent pair of tokens over the chunks' counts (ties:
the smallest pair, so training is deterministic); encoding applies the merges to each
chunk in the order they were learned (lowest rank first), as GPT-2's tokenizer does.
Vocabulary: the 256 bytes, then one token per merge.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np

CHUNK = re.compile(rb"\s*[A-Za-z_]+|\s*[0-9]+|\s*[^\sA-Za-z_0-9]+|\s+")
VERSION = 1  # bump when training or encoding changes: the cache key includes it


def chunks(data: bytes) -> list[bytes]:
    """`data` cut into the chunks merges stay inside; b"".join(chunks(data)) == data."""
    return CHUNK.findall(data)


def train(data: bytes, vocab_size: int) -> list[tuple[int, int]]:
    """The merges (pair of token ids each; merge i makes token 256 + i) learned on `data`,
    vocab_size - 256 of them (fewer if no pair repeats)."""
    counts = Counter(chunks(data))
    words = [list(w) for w in counts]             # each chunk as a list of token ids
    freq = [counts[w] for w in counts]
    pairs: Counter = Counter()
    where: dict[tuple[int, int], set[int]] = {}   # pair -> indices of words holding it
    for i, w in enumerate(words):
        for p in zip(w, w[1:]):
            pairs[p] += freq[i]
            where.setdefault(p, set()).add(i)
    merges = []
    while len(merges) < vocab_size - 256 and pairs:
        best = max(pairs.items(), key=lambda kv: (kv[1], -kv[0][0], -kv[0][1]))
        if best[1] < 2:
            break
        pair, new = best[0], 256 + len(merges)
        merges.append(pair)
        for i in sorted(where.pop(pair, ())):
            w, f = words[i], freq[i]
            for p in zip(w, w[1:]):               # forget the word's old pairs
                pairs[p] -= f
                if pairs[p] <= 0:
                    del pairs[p]
            words[i] = w = _merge(w, pair, new)
            for p in zip(w, w[1:]):
                pairs[p] += f
                where.setdefault(p, set()).add(i)
    return merges


def _merge(word: list[int], pair: tuple[int, int], new: int) -> list[int]:
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == pair[0] and word[i + 1] == pair[1]:
            out.append(new)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


def encode(data: bytes, merges: list[tuple[int, int]]) -> np.ndarray:
    """`data` as token ids (uint16): every chunk's bytes merged in rank order."""
    rank = {p: i for i, p in enumerate(merges)}
    memo: dict[bytes, list[int]] = {}
    out: list[int] = []
    for c in chunks(data):
        ids = memo.get(c)
        if ids is None:
            ids = list(c)
            while len(ids) > 1:
                p = min(zip(ids, ids[1:]), key=lambda q: rank.get(q, len(rank)))
                if p not in rank:
                    break
                ids = _merge(ids, p, 256 + rank[p])
            memo[c] = ids
        out += ids
    return np.asarray(out, dtype=np.uint16)


def decode(tokens, merges: list[tuple[int, int]]) -> bytes:
    """The bytes behind token ids (inverse of `encode`)."""
    table = [bytes([i]) for i in range(256)]
    for a, b in merges:
        table.append(table[a] + table[b])
    return b"".join(table[int(t)] for t in tokens)


def cached_encode(train_bytes: bytes, data: bytes, vocab_size: int) -> np.ndarray:
    """`data` encoded with merges trained on `train_bytes`, cached on disk (under
    $REFERENCE_TRAINER_CACHE or ~/.cache/reference-trainer) by a hash of both inputs,
    the vocabulary size and VERSION; the cache is written atomically."""
    h = hashlib.sha256()
    for part in (str(VERSION).encode(), str(vocab_size).encode(), train_bytes, data):
        h.update(hashlib.sha256(part).digest())
    root = Path(os.environ.get("REFERENCE_TRAINER_CACHE",
                               Path.home() / ".cache" / "reference-trainer"))
    path = root / f"bpe{vocab_size}-{h.hexdigest()[:16]}.npy"
    if path.is_file():
        try:
            return np.load(path)
        except (OSError, ValueError):
            pass  # a damaged cache: rebuild it
    tokens = encode(data, train(train_bytes, vocab_size))
    root.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, tokens)
    os.replace(tmp, path)
    return tokens
