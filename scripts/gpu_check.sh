#!/usr/bin/env bash
# The GPU check, in one go, on a Linux machine with an NVIDIA GPU (its Vulkan driver installed)
# and, for the PyTorch side, a Python with CUDA PyTorch (`PYTHON`, default python3).
#
#   scripts/gpu_check.sh              # everything goes under $OUT (default runs/gpu-check-<time>)
#
# What it runs, and what each part took on a 16-core machine with one H100/H200 (budget 8 min):
#   1. the release build, timed (cold: about 3-4 min on 16 cores; seconds when target/ is warm);
#   2. `ista-nas device` and `nvidia-smi -L`, to name the GPU;
#   3. `bench` at the paper's search scale: C=16, L=8; ista, darts, pc-darts; batches 64 and 256;
#      2 warm-up + 5 timed steps, with --profile (about 1-2 min);
#   4. scripts/parity.sh 64 256: the same ISTA-NAS step in ista-nas and in PyTorch on CUDA (~1 min).
# Tables: $OUT/bench/bench.md, $OUT/bench/profile.md, $OUT/parity/parity.md; logs: $OUT/*.log.
# The fusion builds are checked by scripts/gpu_check_fusion.sh (a second build; run it after).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-runs/gpu-check-$(date +%s)}"
mkdir -p "$OUT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
BIN="$CARGO_TARGET_DIR/release/ista-nas"
status=0
step() { echo "== $1"; }

step "build ($(nproc) cores)" | tee "$OUT/build.log"
start=$(date +%s)
cargo build --release >>"$OUT/build.log" 2>&1 || { echo "build failed: $OUT/build.log"; exit 1; }
echo "build: $(( $(date +%s) - start )) s" | tee -a "$OUT/build.log"

step "device" | tee "$OUT/device.log"
{ nvidia-smi -L 2>&1 || true; "$BIN" device 2>&1; } | tee -a "$OUT/device.log"

step "bench, paper scale" | tee "$OUT/bench.log"
start=$(date +%s)
"$BIN" bench --methods ista,darts,pc-darts --batch-sizes 64,256 --channels 16 --layers 8 \
    --warmup 2 --steps 5 --profile --recovery-draws 100 --out "$OUT/bench" >>"$OUT/bench.log" 2>&1 || status=1
echo "bench: $(( $(date +%s) - start )) s" | tee -a "$OUT/bench.log"
cat "$OUT/bench/bench.md" 2>/dev/null

step "parity with PyTorch" | tee "$OUT/parity.log"
start=$(date +%s)
OUT="$OUT/parity" STEPS=5 WARMUP=2 scripts/parity.sh 64 256 >>"$OUT/parity.log" 2>&1 || status=1
echo "parity: $(( $(date +%s) - start )) s" | tee -a "$OUT/parity.log"
cat "$OUT/parity/parity.md" 2>/dev/null

echo "results in $OUT (exit $status)"
exit $status
