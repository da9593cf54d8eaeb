#!/bin/bash
# Everything that needs a GPU, in one go (about 10 minutes on one H100):
#   bash benchmarks/gpu.sh [OUTDIR]        (default: gpu-results/)
# 1. the trainer's CUDA tests (tests/trainer/test_cuda.py: bf16, TF32, fused AdamW,
#    torch.compile, batched vs sequential, divergence in a batch, a GPU sweep, NCCL DDP
#    when two GPUs are visible);
# 2. benchmarks/trainer.py: MFU at width 768, depth 12, seq 1024, bf16 (batch 16 and 32,
#    and without torch.compile);
# 3. benchmarks/batched.py: batched vs sequential tokens/s, widths 128..1024, K 1..32.
# Each step has a time limit and writes its own file, so one failure does not stop the
# rest. The two example sweeps are separate (examples/sweeps/*.toml), being longer.
set -u
OUT=${1:-gpu-results}; mkdir -p "$OUT"
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 MPLBACKEND=Agg
T0=$(date +%s); el() { echo "$(( $(date +%s) - T0 )) s"; }
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import sys, torch; print(sys.version.split()[0], torch.__version__, torch.version.cuda, torch.cuda.get_device_name())"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
timeout 300 python3 -m pytest -q -p no:cacheprovider -rA tests/trainer/test_cuda.py \
  > "$OUT/test_cuda.log" 2>&1
echo "CUDA tests ($(el)): $(tail -1 "$OUT/test_cuda.log")"
for args in "" "--batch-size 32" "--no-compile"; do
  timeout 180 python3 benchmarks/trainer.py $args 2>&1 | grep '^{' >> "$OUT/trainer.jsonl"
done
echo "trainer benchmark ($(el)):"; cat "$OUT/trainer.jsonl"
timeout 300 python3 benchmarks/batched.py > "$OUT/batched.log" 2>&1
echo "batched benchmark ($(el)):"; sed -n '/^width/,$p' "$OUT/batched.log"
