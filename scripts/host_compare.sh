#!/usr/bin/env bash
# Host work and launches of one search step, ista-nas beside PyTorch, in one sitting:
# `ista-nas bench --host-only` (wgpu's noop backend: the real step, empty kernels) against
# scripts/pytorch_parity.py on PyTorch's meta device (host work, no kernels), the launches of
# each (ours and Burn's; PyTorch's kernel count from torch.profiler on the CPU, as
# pytorch_parity.py says), the bytes each moves (ours: the `bench --shapes` walk of our own
# kernels; PyTorch's: its leaf ops), and the estimate bytes / 3 TB/s + launches × 5 µs.
#
#   scripts/host_compare.sh                     # C=8 L=5 b8, C=16 L=8 b256, C=36 L=20 b96
#   CASES="16:8:256" scripts/host_compare.sh
#
# The ImageNet scale (C=48 L=14 b1024, 224²) is not run: `bench` times the CIFAR skeleton on the
# data it is given, and the noop backend keeps every buffer in host memory.
# Env: CASES (C:L:batch ...), METHODS (ours, default ista,darts,pc-darts), STEPS, WARMUP, THREADS
# (default: the cores), PYTHON (with torch), BIN, OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
CASES="${CASES:-8:5:8 16:8:256 36:20:96}"
METHODS="${METHODS:-ista,darts,pc-darts}"
STEPS="${STEPS:-3}" WARMUP="${WARMUP:-2}"
PYTHON="${PYTHON:-python3}" THREADS="${THREADS:-$(nproc)}"
OUT="${OUT:-runs/host-compare-$(date +%s)}"
export RAYON_NUM_THREADS="$THREADS"
mkdir -p "$OUT"
if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet
    BIN="${CARGO_TARGET_DIR:-target}/release/ista-nas"
fi
for case in $CASES; do
    IFS=: read -r c l b <<< "$case"
    dir="$OUT/c$c-l$l-b$b"
    "$BIN" bench --host-only --methods "$METHODS" --channels "$c" --layers "$l" --batch-sizes "$b" \
        --steps "$STEPS" --warmup "$WARMUP" --out "$dir" > "$dir.log" 2>&1 ||
        echo "ista-nas bench failed at $case: see $dir.log"
    ISTA_NAS_KERNELS=gpu "$BIN" bench --shapes --channels "$c" --layers "$l" --batch-sizes "$b" \
        --out "$dir/shapes" > /dev/null
    "$PYTHON" scripts/pytorch_parity.py --device meta --count-kernels --channels "$c" --layers "$l" \
        --batch-size "$b" --steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS" > "$dir.pytorch" 2>&1 ||
        echo "pytorch_parity.py failed at $case: see $dir.pytorch"
done
"$PYTHON" - "$OUT" "$THREADS" "$CASES" <<'PY'
import csv, json, os, sys, datetime
out, threads, cases = sys.argv[1], sys.argv[2], sys.argv[3].split()
LAUNCH_S, BANDWIDTH = 5e-6, 3e12
print(f"host work per search step, {datetime.date.today()}, {os.uname().nodename}, {threads} threads "
      "(ista-nas: wgpu noop backend; PyTorch: meta device)\n")
print("| C | L | batch | method | ista-nas host ms | PyTorch host ms | host vs PyTorch | dispatches (own + Burn's) "
      "| PyTorch kernels | dispatches vs kernels | own GB (walk) | PyTorch GB | est. ms ours | est. ms PyTorch | est. vs PyTorch |")
print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for case in cases:
    c, l, b = case.split(":")
    d = f"{out}/c{c}-l{l}-b{b}"
    torch = {}
    try:
        for line in open(d + ".pytorch"):
            if line.startswith("PARITY_RESULT "):
                torch = json.loads(line[len("PARITY_RESULT "):])
    except OSError:
        pass
    def walked(name):
        total = 0
        try:
            for r in csv.DictReader(open(f"{d}/shapes/{name}")):
                total += int(r["calls_per_step"]) * (int(r["bytes_read"]) + int(r["bytes_written"]))
        except OSError:
            pass
        return total
    walks = {"ista": walked("shapes-support.csv"), "full": walked("shapes.csv")}
    rows = list(csv.DictReader(open(f"{d}/bench.csv"))) if os.path.exists(f"{d}/bench.csv") else []
    for r in rows:
        def f(key):
            return float(r[key]) if r.get(key) else None
        ms, disp, own, burn = f("ms_per_step"), f("dispatches_per_step"), f("own_dispatches_per_step"), f("burn_dispatches_per_step")
        ista = r["method"] == "ista"
        walk = walks["ista" if ista else "full"]
        t_ms = torch.get("ms_per_step") if ista else None
        t_k = torch.get("kernels_per_step") if ista else None
        t_b = torch.get("bytes_per_step") if ista else None
        ours_est = (walk / BANDWIDTH + (disp or 0) * LAUNCH_S) * 1e3 if disp else None
        theirs_est = (t_b / BANDWIDTH + t_k * LAUNCH_S) * 1e3 if t_k else None
        def n(v, fmt="{:.1f}"):
            return "–" if v is None else fmt.format(v)
        def ratio(a, b):
            return "–" if a is None or not b else f"{a / b:.2f}×"
        status = "" if r["status"] == "ok" else f" ({r['status']})"
        print(f"| {c} | {l} | {b} | {r['method']}{status} | {n(ms)} | {n(t_ms)} | {ratio(ms, t_ms)} "
              f"| {n(disp, '{:.0f}')} ({n(own, '{:.0f}')} + {n(burn, '{:.0f}')}) | {n(t_k, '{:.0f}')} | {ratio(disp, t_k)} "
              f"| {walk / 1e9:.2f} | {n(t_b and t_b / 1e9, '{:.2f}')} | {n(ours_est)} | {n(theirs_est)} | {ratio(ours_est, theirs_est)} |")
print("\nown GB: the `bench --shapes` walk of our own kernels (ISTA-NAS: the ISTA_NAS genotype's support; DARTS and"
      " PC-DARTS: every op on every edge at full width, more than PC-DARTS moves); PyTorch GB: the ISTA-NAS step's"
      " leaf ops. The estimates: GB / 3 TB/s + launches × 5 µs. PyTorch runs ISTA-NAS only.")
PY
