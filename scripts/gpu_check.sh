#!/usr/bin/env bash
# The GPU check, in one go, on a Linux machine with an NVIDIA GPU and, for the PyTorch side, a
# Python with CUDA PyTorch (`PYTHON`, default python3).
#
#   scripts/gpu_check.sh                  # builds here (needs Rust and a Vulkan loader)
#   scripts/gpu_check.sh --binary PATH    # an ista-nas already built
#   scripts/gpu_check.sh --prebuilt DIR   # a bare GPU machine: DIR from scripts/gpu_pack.sh
#   scripts/gpu_check.sh --prebuilt DIR --unpack-only   # unpack and check the pack, run nothing
#   scripts/gpu_check.sh ... --smoke-only # stop after the smoke step
#
# With --prebuilt it checks DIR's SHA256SUMS and unpacks the binary and the Vulkan loader
# packages into a scratch folder under /tmp (WORK; UNPACK_ROOT for the packages, put on
# LD_LIBRARY_PATH; UNPACK_ROOT=/ installs them and runs ldconfig), never into the results.
# NVIDIA's Vulkan manifest (NVIDIA_ICD, default /usr/local/nvidia/share/vulkan/icd.d/
# nvidia_icd.json) is added with VK_ADD_DRIVER_FILES whenever it exists, beside whatever other
# manifest (lavapipe's) is installed; every run names `--device vulkan`, and the check stops at
# once unless the adapter is a hardware GPU (`auto` would fall back to the CPU with only a note).
# What it runs, ≤ 8 min all told:
#   1. smoke, ≤ 60 s: the adapter, one ISTA-NAS step at C=8 L=5 batch 8 on the GPU and on wgpu's
#      noop backend (host work only);
#   2. `bench --shapes` and `bench` at the paper's search scale (C=16, L=8, batches 64 and 256):
#      ista, darts, pc-darts, 2 warm-up + 5 timed steps, with --profile; bench --host-only beside;
#   3. scripts/parity.sh 64 256: the same ISTA-NAS step in ista-nas and in PyTorch on CUDA.
# Everything goes under $OUT (default runs/gpu-check-<time>); every table and log also goes into
# one archive, $OUT/gpu-check.tar.gz (≤ 16 MiB), beside a short $OUT/summary.md, so a machine that
# hands back only a few small files hands back everything.
set -uo pipefail
cd "$(dirname "$0")/.."
PREBUILT="" UNPACK_ONLY=0 SMOKE_ONLY=0 BIN="${BIN:-}"
while [ $# -gt 0 ]; do
    case "$1" in
        --prebuilt) PREBUILT="${2:?--prebuilt takes the folder gpu_pack.sh wrote}"; shift 2 ;;
        --binary) BIN="${2:?--binary takes the path of an ista-nas}"; shift 2 ;;
        --unpack-only) UNPACK_ONLY=1; shift ;;
        --smoke-only) SMOKE_ONLY=1; shift ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
OUT="${OUT:-runs/gpu-check-$(date +%s)}"
WORK="${WORK:-$(mktemp -d /tmp/ista-nas-gpu-check.XXXXXX)}"
NVIDIA_ICD="${NVIDIA_ICD:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}"
mkdir -p "$OUT" "$WORK"
status=0
step() { echo "== $1"; }

# The archive of every table and log (no binaries), and the summary beside it; called on exit.
finish() {
    local code=$?
    [ "$code" = 0 ] && code=$status
    {
        echo "# GPU check, $(date -u +%Y-%m-%dT%H:%MZ), exit $code"
        echo
        sed -n 's/^device: /adapter: /p' "$OUT/device.log" 2>/dev/null | head -3
        grep -h "^GPU " "$OUT/device.log" 2>/dev/null | head -3
        for table in smoke/bench.md smoke-host/bench.md bench/bench.md host/bench.md parity/parity.md; do
            [ -f "$OUT/$table" ] && { echo; echo "## $table"; cat "$OUT/$table"; }
        done
    } > "$OUT/summary.md"
    (cd "$OUT" && find . -type f \( -name '*.md' -o -name '*.csv' -o -name '*.log' -o -name '*.json' \
        -o -name '*.svg' \) ! -name gpu-check.tar.gz -print0 |
        tar --null -czf gpu-check.tar.gz -T - 2>/dev/null)
    local size
    size=$(stat -c %s "$OUT/gpu-check.tar.gz" 2>/dev/null || echo 0)
    if [ "$size" -gt $((16 * 1024 * 1024)) ]; then
        (cd "$OUT" && find . -type f \( -name '*.md' -o -name '*.csv' \) -print0 |
            tar --null -czf gpu-check.tar.gz -T - 2>/dev/null)
        echo "(archive over 16 MiB with logs: tables only)" >> "$OUT/summary.md"
    fi
    echo "results in $OUT: summary.md, gpu-check.tar.gz (exit $code)"
    exit "$code"
}
trap finish EXIT

if [ -n "$PREBUILT" ]; then
    step "unpack $PREBUILT into $WORK" | tee "$OUT/unpack.log"
    (cd "$PREBUILT" && sha256sum --quiet -c SHA256SUMS) >>"$OUT/unpack.log" 2>&1 ||
        { echo "checksums of $PREBUILT do not match: $OUT/unpack.log"; exit 1; }
    ROOT="${UNPACK_ROOT:-$WORK/root}"
    mkdir -p "$WORK/bin" "$ROOT"
    xz -dc "$PREBUILT/ista-nas.xz" > "$WORK/bin/ista-nas" && chmod +x "$WORK/bin/ista-nas"
    for deb in "$PREBUILT"/debs/*.deb; do
        dpkg -x "$deb" "$ROOT" >>"$OUT/unpack.log" 2>&1 || { echo "cannot extract $deb"; exit 1; }
    done
    if [ "$ROOT" = "/" ]; then
        ldconfig
    else
        export LD_LIBRARY_PATH="$ROOT/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
    BIN="$WORK/bin/ista-nas"
    ls -l "$BIN" | tee -a "$OUT/unpack.log"
    echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}" | tee -a "$OUT/unpack.log"
    "$BIN" --version | tee -a "$OUT/unpack.log" || { echo "the unpacked binary does not run"; exit 1; }
    [ "$UNPACK_ONLY" = 1 ] && { echo "unpacked into $WORK/bin and $ROOT"; exit 0; }
elif [ -z "$BIN" ]; then
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
    BIN="$CARGO_TARGET_DIR/release/ista-nas"
    step "build ($(nproc) cores)" | tee "$OUT/build.log"
    start=$(date +%s)
    cargo build --release >>"$OUT/build.log" 2>&1 || { echo "build failed: $OUT/build.log"; exit 1; }
    echo "build: $(( $(date +%s) - start )) s" | tee -a "$OUT/build.log"
fi
export BIN

step "smoke: loader, adapter, one step" | tee "$OUT/device.log"
# The loader is opened at run time (dlopen), so ldd would not show it: ask ldconfig, or look in
# the unpacked root. (grep reads all of ldconfig's list: `grep -q` stops at the first match, and
# under pipefail ldconfig's SIGPIPE would then fail the test now and then.)
if ldconfig -p | grep 'libvulkan\.so\.1' >/dev/null ||
    ls "${LD_LIBRARY_PATH%%:*}"/libvulkan.so.1 >/dev/null 2>&1; then
    echo "Vulkan loader: found" | tee -a "$OUT/device.log"
else
    echo "no Vulkan loader (libvulkan.so.1) in ldconfig -p or LD_LIBRARY_PATH" | tee -a "$OUT/device.log"
    exit 1
fi
if [ -f "$NVIDIA_ICD" ]; then
    export VK_ADD_DRIVER_FILES="$NVIDIA_ICD${VK_ADD_DRIVER_FILES:+:$VK_ADD_DRIVER_FILES}"
fi
echo "VK_ADD_DRIVER_FILES=${VK_ADD_DRIVER_FILES:-}" | tee -a "$OUT/device.log"
{ nvidia-smi -L 2>&1 || true; timeout 30 "$BIN" device --device vulkan 2>&1; } | tee -a "$OUT/device.log"
adapter=$(grep -m1 '^device: ' "$OUT/device.log" || true)
if ! echo "$adapter" | grep -Eq '/ (DiscreteGpu|IntegratedGpu|VirtualGpu)\]'; then
    echo "stopping: the Vulkan adapter is not a hardware GPU (${adapter:-none found}); nothing measured" |
        tee -a "$OUT/device.log"
    exit 1
fi
small=(--methods ista --channels 8 --layers 5 --batch-sizes 8 --warmup 1 --steps 2 --recovery-draws 0)
timeout 45 "$BIN" bench --device vulkan "${small[@]}" --out "$OUT/smoke" >>"$OUT/device.log" 2>&1 || status=1
timeout 15 "$BIN" bench --host-only "${small[@]}" --out "$OUT/smoke-host" >>"$OUT/device.log" 2>&1 || status=1
cat "$OUT/smoke/bench.md" "$OUT/smoke-host/bench.md" 2>/dev/null
[ "$SMOKE_ONLY" = 1 ] && exit "$status"

step "planned launches and bench, paper scale" | tee "$OUT/bench.log"
ISTA_NAS_KERNELS=gpu "$BIN" bench --shapes --channels 16 --layers 8 --batch-sizes 64,256 --out "$OUT/shapes" \
    >>"$OUT/bench.log" 2>&1 || status=1
start=$(date +%s)
timeout 240 "$BIN" bench --device vulkan --methods ista,darts,pc-darts --batch-sizes 64,256 --channels 16 \
    --layers 8 --warmup 2 --steps 5 --profile --recovery-draws 100 --out "$OUT/bench" >>"$OUT/bench.log" 2>&1 || status=1
timeout 60 "$BIN" bench --host-only --methods ista,darts,pc-darts --batch-sizes 64,256 --channels 16 \
    --layers 8 --warmup 2 --steps 5 --out "$OUT/host" >>"$OUT/bench.log" 2>&1 || status=1
echo "bench: $(( $(date +%s) - start )) s" | tee -a "$OUT/bench.log"
cat "$OUT/bench/bench.md" "$OUT/host/bench.md" 2>/dev/null

step "parity with PyTorch" | tee "$OUT/parity.log"
start=$(date +%s)
OUT="$OUT/parity" DEVICE=vulkan STEPS=5 WARMUP=2 timeout 120 scripts/parity.sh 64 256 >>"$OUT/parity.log" 2>&1 || status=1
echo "parity: $(( $(date +%s) - start )) s" | tee -a "$OUT/parity.log"
cat "$OUT/parity/parity.md" 2>/dev/null
