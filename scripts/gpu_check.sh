#!/usr/bin/env bash
# The GPU check, in one go, on a Linux machine with an NVIDIA GPU and, for the PyTorch side, a
# Python with CUDA PyTorch (`PYTHON`, default python3).
#
#   scripts/gpu_check.sh                  # builds here (needs Rust and a Vulkan loader)
#   scripts/gpu_check.sh --prebuilt DIR   # a bare GPU machine: DIR from scripts/gpu_pack.sh
#   scripts/gpu_check.sh --prebuilt DIR --unpack-only   # unpack and check the pack, run nothing
#
# With --prebuilt it checks DIR's SHA256SUMS, unpacks the binary, extracts the Vulkan loader
# packages (`dpkg -x` into UNPACK_ROOT, default /, then `ldconfig`; a scratch UNPACK_ROOT is put on
# LD_LIBRARY_PATH instead) and, where no Vulkan driver manifest is installed, points
# VK_DRIVER_FILES at NVIDIA's (/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json or the other
# usual places). Everything goes under $OUT (default runs/gpu-check-<time>). What it runs, in ~8 min:
#   1. `ista-nas device` and `nvidia-smi -L`, to name the GPU;
#   2. `bench --shapes` at the paper's search scale (C=16, L=8, batches 64 and 256): the planned
#      launches beside the timings;
#   3. `bench` at that scale: ista, darts, pc-darts; 2 warm-up + 5 timed steps, with --profile;
#   4. scripts/parity.sh 64 256: the same ISTA-NAS step in ista-nas and in PyTorch on CUDA.
# Tables: $OUT/shapes/shapes.md, $OUT/bench/bench.md, $OUT/bench/profile.md, $OUT/parity/parity.md.
set -uo pipefail
cd "$(dirname "$0")/.."
PREBUILT="" UNPACK_ONLY=0
while [ $# -gt 0 ]; do
    case "$1" in
        --prebuilt) PREBUILT="${2:?--prebuilt takes the folder gpu_pack.sh wrote}"; shift 2 ;;
        --unpack-only) UNPACK_ONLY=1; shift ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
OUT="${OUT:-runs/gpu-check-$(date +%s)}"
mkdir -p "$OUT"
status=0
step() { echo "== $1"; }

# The Vulkan driver manifests the loader would find on its own.
has_icd() {
    ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json /usr/local/share/vulkan/icd.d/*.json \
        >/dev/null 2>&1
}

if [ -n "$PREBUILT" ]; then
    step "unpack $PREBUILT" | tee "$OUT/unpack.log"
    (cd "$PREBUILT" && sha256sum --quiet -c SHA256SUMS) >>"$OUT/unpack.log" 2>&1 ||
        { echo "checksums of $PREBUILT do not match: $OUT/unpack.log"; exit 1; }
    ROOT="${UNPACK_ROOT:-/}"
    mkdir -p "$OUT/bin" "$ROOT"
    xz -dc "$PREBUILT/ista-nas.xz" > "$OUT/bin/ista-nas" && chmod +x "$OUT/bin/ista-nas"
    for deb in "$PREBUILT"/debs/*.deb; do
        dpkg -x "$deb" "$ROOT" >>"$OUT/unpack.log" 2>&1 || { echo "cannot extract $deb"; exit 1; }
    done
    if [ "$ROOT" = "/" ]; then
        ldconfig
    else
        export LD_LIBRARY_PATH="$ROOT/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
    if ! has_icd && [ -z "${VK_DRIVER_FILES:-}" ]; then
        for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json \
            /usr/local/nvidia/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.x86_64.json; do
            if [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd"; break; fi
        done
    fi
    BIN="$OUT/bin/ista-nas"
    ls -l "$BIN" | tee -a "$OUT/unpack.log"
    ldd "$BIN" 2>&1 | grep -i "vulkan\|not found" | tee -a "$OUT/unpack.log"
    echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-} LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}" | tee -a "$OUT/unpack.log"
    "$BIN" --version | tee -a "$OUT/unpack.log" || { echo "the unpacked binary does not run"; exit 1; }
    [ "$UNPACK_ONLY" = 1 ] && { echo "unpacked into $OUT/bin and $ROOT"; exit 0; }
else
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
    BIN="$CARGO_TARGET_DIR/release/ista-nas"
    step "build ($(nproc) cores)" | tee "$OUT/build.log"
    start=$(date +%s)
    cargo build --release >>"$OUT/build.log" 2>&1 || { echo "build failed: $OUT/build.log"; exit 1; }
    echo "build: $(( $(date +%s) - start )) s" | tee -a "$OUT/build.log"
fi
export BIN

step "device" | tee "$OUT/device.log"
{ nvidia-smi -L 2>&1 || true; "$BIN" device 2>&1; } | tee -a "$OUT/device.log"

step "planned launches, paper scale" | tee "$OUT/shapes.log"
"$BIN" bench --shapes --channels 16 --layers 8 --batch-sizes 64,256 --out "$OUT/shapes" \
    >>"$OUT/shapes.log" 2>&1 || status=1

step "bench, paper scale" | tee "$OUT/bench.log"
start=$(date +%s)
timeout 300 "$BIN" bench --methods ista,darts,pc-darts --batch-sizes 64,256 --channels 16 --layers 8 \
    --warmup 2 --steps 5 --profile --recovery-draws 100 --out "$OUT/bench" >>"$OUT/bench.log" 2>&1 || status=1
echo "bench: $(( $(date +%s) - start )) s" | tee -a "$OUT/bench.log"
cat "$OUT/bench/bench.md" 2>/dev/null

step "parity with PyTorch" | tee "$OUT/parity.log"
start=$(date +%s)
OUT="$OUT/parity" STEPS=5 WARMUP=2 timeout 180 scripts/parity.sh 64 256 >>"$OUT/parity.log" 2>&1 || status=1
echo "parity: $(( $(date +%s) - start )) s" | tee -a "$OUT/parity.log"
cat "$OUT/parity/parity.md" 2>/dev/null

echo "results in $OUT (exit $status)"
exit $status
