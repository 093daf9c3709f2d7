#!/usr/bin/env bash
# Times the same two-stage ISTA-NAS search step in ista-nas (`bench --methods ista`) and in
# PyTorch (scripts/pytorch_parity.py) on this machine, one after the other, and prints the ratios.
#
#   scripts/parity.sh                 # batches 64 and 256, C=16, L=8 (the paper's search net)
#   scripts/parity.sh 64 256 512      # other batch sizes
#   CHANNELS=8 LAYERS=5 STEPS=5 scripts/parity.sh 32
#
#   DEVICE=cpu CHANNELS=8 LAYERS=5 scripts/parity.sh 32   # both on the CPU, THREADS threads each
#
# Env: CHANNELS, LAYERS, STEPS, WARMUP, DEVICE (ista-nas --device), BIN (a prebuilt ista-nas), THREADS (CPU threads for both;
# default: the cores), PYTHON (one with torch), OUT. PyTorch uses CUDA when it has a GPU, else the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
BATCHES="${*:-64 256}"
CHANNELS="${CHANNELS:-16}" LAYERS="${LAYERS:-8}" STEPS="${STEPS:-10}" WARMUP="${WARMUP:-3}"
DEVICE="${DEVICE:-auto}" PYTHON="${PYTHON:-python3}" THREADS="${THREADS:-$(nproc)}"
export RAYON_NUM_THREADS="$THREADS"   # the threads of ista-nas's CPU backend
OUT="${OUT:-runs/parity-$(date +%s)}"
mkdir -p "$OUT"

# BIN: a prebuilt binary (the GPU check's); else the release build
if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet
    BIN="${CARGO_TARGET_DIR:-target}/release/ista-nas"
fi
"$BIN" genotype show ISTA_NAS --json > "$OUT/genotype.json"
"$BIN" bench --device "$DEVICE" --methods ista --batch-sizes "$(echo $BATCHES | tr ' ' ,)" \
    --channels "$CHANNELS" --layers "$LAYERS" --steps "$STEPS" --warmup "$WARMUP" \
    --genotype "$OUT/genotype.json" --recovery-draws 0 --out "$OUT/ista-nas"
: > "$OUT/pytorch.txt"
for batch in $BATCHES; do
    "$PYTHON" scripts/pytorch_parity.py --channels "$CHANNELS" --layers "$LAYERS" --batch-size "$batch" \
        --steps "$STEPS" --warmup "$WARMUP" --genotype "$OUT/genotype.json" --threads "$THREADS" \
        | tee -a "$OUT/pytorch.txt"
done

"$PYTHON" - "$OUT" <<'PY'
import csv, json, sys
out = sys.argv[1]
ours = {int(r["batch_size"]): r for r in csv.DictReader(open(f"{out}/ista-nas/bench.csv"))}
theirs = [json.loads(l.split(" ", 1)[1]) for l in open(f"{out}/pytorch.txt") if l.startswith("PARITY_RESULT ")]
mib = lambda b: f"{int(b) / 2**20:.0f} MiB" if b not in (None, "") else "n/a"
lines = ["| batch | ista-nas ms/step | PyTorch ms/step | time ratio (PyTorch / ista-nas) "
         "| ista-nas peak pool | PyTorch peak reserved (allocated) |", "|---|---|---|---|---|---|"]
for t in theirs:
    o = ours.get(t["batch_size"], {})
    ms = float(o["ms_per_step"]) if o.get("ms_per_step") else None
    ratio = f"{t['ms_per_step'] / ms:.2f}×" if ms else o.get("status", "not run")
    lines.append(f"| {t['batch_size']} | {ms if ms is None else f'{ms:.1f}'} | {t['ms_per_step']:.1f} | {ratio} "
                 f"| {mib(o.get('peak_memory_bytes'))} | {mib(t['peak_reserved_bytes'])} ({mib(t['peak_allocated_bytes'])}) |")
device = open(f"{out}/ista-nas/bench.md").readline().strip()
table = (f"ISTA-NAS search step, {device}; PyTorch {theirs[0]['torch']} on {theirs[0]['device']} "
         f"({theirs[0]['threads']} CPU threads)\n\n" + "\n".join(lines))
print("\n" + table)
open(f"{out}/parity.md", "w").write(table + "\n")
PY
echo "results in $OUT: parity.md, ista-nas/bench.csv, pytorch.txt"
