#!/usr/bin/env bash
# One prepared run on a lent GPU machine (python3 with torch, pytest and hypothesis;
# no network, no nox; tqdm and matplotlib optional). From the repository root:
#
#     bash benchmarks/gpu_check.sh
#
# Runs the GPU tests, then the benchmark on CUDA in float32 and bfloat16 (SDPA's
# flash, memory-efficient and math backends included), and writes everything to
# $OUT (default benchmarks/results/). Each step has its own time limit, so the
# whole script ends within about 6 minutes even if one step hangs.
set -u
OUT="${OUT:-benchmarks/results}"
mkdir -p "$OUT"
status=0
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"

echo "== pytest -m gpu"
PYTHONPATH=. timeout 100 python3 -m pytest -m gpu -q -p no:cacheprovider 2>&1 \
    | tee "$OUT/pytest-gpu.txt" | tail -15
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

for dtype in float32 bfloat16; do
    echo "== bench cuda $dtype"
    name=$(python3 -c "import torch,datetime; g=torch.cuda.get_device_name().lower(); \
print('cuda-'+'-'.join(''.join(c if c.isalnum() else ' ' for c in g).split()))")
    timeout 120 python3 benchmarks/bench.py --device cuda --dtype "$dtype" \
        --budget 1 --quiet --out "$OUT/$name-$dtype-$(date -u +%F).json" || status=1
done
echo "gpu_check: exit status $status"
exit $status
