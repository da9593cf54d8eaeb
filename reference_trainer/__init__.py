"""Reference trainer: a nanoGPT-style GPT with muP, SP and per-layer multipliers that
writes one results row per run for `scalefit fit`. Needs torch (extra ``trainer``).

    reference-trainer train --width 128 --lr 3e-3
    reference-trainer sweep --param sp,mup --widths 64,128 --lrs 1e-3,3e-3 --out runs.csv
"""
