#!/usr/bin/env bash
# Checks the fusion builds against the default build on this machine's GPU (or, with
# DEVICE=vulkan, on lavapipe): the same bench case (ISTA-NAS and DARTS, C=16, L=8, batch 64,
# 1 warm-up + 5 steps) in each build, the training loss of every step compared to 1e-4 relative,
# and ms/step and dispatches/step side by side. Prints a table; writes $OUT/fusion.md.
#
#   scripts/gpu_check_fusion.sh       # after scripts/gpu_check.sh; two more builds (~3-4 min each
#                                     # cold on 16 cores, in their own target folders)
#
# Env: DEVICE (default auto), CHANNELS, LAYERS, BATCH, OUT, CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-runs/fusion-check-$(date +%s)}"
DEVICE="${DEVICE:-auto}" CHANNELS="${CHANNELS:-16}" LAYERS="${LAYERS:-8}" BATCH="${BATCH:-64}"
BASE="${CARGO_TARGET_DIR:-target}"
mkdir -p "$OUT"
for build in default fusion fusion-autotune; do
    dir="$BASE"; features=()
    if [ "$build" != default ]; then dir="$BASE-$build"; features=(--features "$build"); fi
    start=$(date +%s)
    CARGO_TARGET_DIR="$dir" cargo build --release "${features[@]}" >"$OUT/build-$build.log" 2>&1
    echo "$build build: $(( $(date +%s) - start )) s"
    for method in ista darts; do
        case="{\"method\":\"$method\",\"batch_size\":$BATCH,\"channels\":$CHANNELS,\"layers\":$LAYERS,\"warmup\":1,\"steps\":5,\"seed\":0}"
        "$dir/release/ista-nas" bench-case --device "$DEVICE" --case "$case" \
            | sed -n 's/^BENCH_CASE_RESULT //p' > "$OUT/$build-$method.json"
    done
done
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
rows = ["| build | method | ms/step | dispatches/step | max relative loss difference vs default | verdict |",
        "|---|---|---|---|---|---|"]
for method in ("ista", "darts"):
    base = json.load(open(f"{out}/default-{method}.json"))
    for build in ("default", "fusion", "fusion-autotune"):
        r = json.load(open(f"{out}/{build}-{method}.json"))
        diff = max(abs(a - b) / abs(b) for a, b in zip(r["losses"], base["losses"]))
        ok = "same" if diff <= 1e-4 else "DIFFERENT"
        d = r.get("dispatches_per_step")
        rows.append(f"| {build} | {method} | {r['ms_per_step']:.1f} | {d if d is None else f'{d:.0f}'} | {diff:.2e} | {ok} |")
table = "\n".join(rows)
print(table)
open(f"{out}/fusion.md", "w").write(table + "\n")
PY
