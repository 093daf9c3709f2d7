#!/usr/bin/env bash
# The planned launches of one search step at the paper's three scales (no GPU needed, nothing runs):
# the two-stage search (C=16, L=8, batch 256, 32×32), one-stage (C=36, L=20, batch 96) and
# ImageNet (C=48, L=14, batch 1024, 224×224). Tables on stdout, CSVs under $OUT (default runs/shapes).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-runs/shapes}"
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/release/ista-nas}"
[ -x "$BIN" ] || cargo build --release --quiet
"$BIN" bench --shapes --channels 16 --layers 8 --batch-sizes 256 --out "$OUT/search"
"$BIN" bench --shapes --channels 36 --layers 20 --batch-sizes 96 --out "$OUT/one-stage"
"$BIN" bench --shapes --channels 48 --layers 14 --batch-sizes 1024 --image-size 224 --net imagenet \
    --out "$OUT/imagenet"
