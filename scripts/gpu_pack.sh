#!/usr/bin/env bash
# Prepares the GPU check for a bare GPU machine (an NVIDIA driver and CUDA PyTorch, but no Rust,
# no Vulkan loader and no network), on a build machine with this repository's toolchain:
#
#   scripts/gpu_pack.sh [DIR]        # default DIR: gpu-pack (ignored by git)
#
# DIR then holds, well under 64 MiB:
#   ista-nas.xz     the release binary, stripped and xz-compressed (~14 MB from ~73 MB stripped)
#   debs/*.deb      the Vulkan loader (libvulkan1) and the GL dispatch libraries NVIDIA's Vulkan
#                   driver links against (libglvnd0, libgl1, libglx0, libegl1, libgles2, libopengl0),
#                   fetched with `apt-get download` from this machine's package registry
#   SHA256SUMS      checksums of the above, checked by the unpacking side
# Take DIR and the repository to the GPU machine and run `scripts/gpu_check.sh --prebuilt DIR`.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${1:-gpu-pack}"
PACKAGES="libvulkan1 libglvnd0 libgl1 libglx0 libegl1 libgles2 libopengl0"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"

rm -rf "$DIR" && mkdir -p "$DIR/debs"
echo "== release build"
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/ista-nas"
echo "== strip and compress ($(du -h "$BIN" | cut -f1) built)"
strip -o "$DIR/ista-nas" "$BIN"
xz -9 -T0 -f "$DIR/ista-nas"
echo "== Vulkan loader packages: $PACKAGES"
# apt writes as the _apt user where it can; a folder of ours it cannot enter is fine (a warning)
(cd "$DIR/debs" && apt-get download $PACKAGES 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
for p in $PACKAGES; do
    ls "$DIR/debs/${p}_"*.deb >/dev/null 2>&1 || { echo "missing package $p in $DIR/debs" >&2; exit 1; }
done
(cd "$DIR" && sha256sum ista-nas.xz debs/*.deb > SHA256SUMS)
du -sh "$DIR"/ista-nas.xz "$DIR/debs" "$DIR"
size=$(du -sm "$DIR" | cut -f1)
[ "$size" -le 64 ] || { echo "$DIR is $size MiB, over the 64 MiB a GPU machine takes" >&2; exit 1; }
echo "packed into $DIR ($size MiB); on the GPU machine: scripts/gpu_check.sh --prebuilt $DIR"
