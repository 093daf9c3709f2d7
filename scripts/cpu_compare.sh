#!/usr/bin/env bash
# The ISTA-NAS search step on a machine without a GPU, three ways side by side in one sitting:
# `--device auto` (Burn's CPU backend when there is no hardware GPU), `--device vulkan`
# (lavapipe) and PyTorch on the CPU, with the same thread count for ista-nas and PyTorch.
#
#   scripts/cpu_compare.sh            # C=8, L=5, batches 8 and 32, the embedded data's 1×32×32
#   CHANNELS=16 LAYERS=8 scripts/cpu_compare.sh 64
#
# Env: CHANNELS, LAYERS, STEPS, WARMUP, THREADS (default: the cores), PYTHON (with torch), BIN, OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
BATCHES="${*:-8 32}"
CHANNELS="${CHANNELS:-8}" LAYERS="${LAYERS:-5}" STEPS="${STEPS:-3}" WARMUP="${WARMUP:-1}"
PYTHON="${PYTHON:-python3}" THREADS="${THREADS:-$(nproc)}"
OUT="${OUT:-runs/cpu-compare-$(date +%s)}"
export RAYON_NUM_THREADS="$THREADS"
mkdir -p "$OUT"
# BIN: a prebuilt binary (e.g. a previous version, for a side-by-side check); else the release build
if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet
    BIN="${CARGO_TARGET_DIR:-target}/release/ista-nas"
fi
for device in auto vulkan; do
    "$BIN" bench --device "$device" --methods ista --batch-sizes "$(echo $BATCHES | tr ' ' ,)" \
        --channels "$CHANNELS" --layers "$LAYERS" --steps "$STEPS" --warmup "$WARMUP" \
        --recovery-draws 0 --out "$OUT/$device" > "$OUT/$device.log"
done
: > "$OUT/pytorch.txt"
for batch in $BATCHES; do
    "$PYTHON" scripts/pytorch_parity.py --channels "$CHANNELS" --layers "$LAYERS" --batch-size "$batch" \
        --steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS" 2>/dev/null >> "$OUT/pytorch.txt"
done
"$PYTHON" - "$OUT" "$CHANNELS" "$LAYERS" <<'PY'
import csv, json, sys
out, c, l = sys.argv[1:4]
ms = {d: {int(r["batch_size"]): float(r["ms_per_step"]) for r in csv.DictReader(open(f"{out}/{d}/bench.csv"))}
      for d in ("auto", "vulkan")}
names = {d: open(f"{out}/{d}/bench.md").readline().split(", ", 2)[2].strip() for d in ms}
torch = {r["batch_size"]: r for r in (json.loads(l.split(" ", 1)[1]) for l in open(f"{out}/pytorch.txt")
                                      if l.startswith("PARITY_RESULT "))}
batches = sorted(torch)
t = next(iter(torch.values()))
head = "| path | " + " | ".join(f"batch {b}" for b in batches) + " |"
rows = [head, "|---" * (len(batches) + 1) + "|"]
for d in ("auto", "vulkan"):
    rows.append(f"| `--device {d}`: {names[d]} | " + " | ".join(
        f"{ms[d][b]:.1f} ms ({torch[b]['ms_per_step'] / ms[d][b]:.2f}×)" for b in batches) + " |")
rows.append(f"| PyTorch {t['torch']} CPU, {t['threads']} threads | " + " | ".join(
    f"{torch[b]['ms_per_step']:.1f} ms" for b in batches) + " |")
table = (f"ISTA-NAS search step, C={c} L={l}; ms/step (time ratio PyTorch / path)\n\n" + "\n".join(rows))
print(table)
open(f"{out}/cpu_compare.md", "w").write(table + "\n")
PY
