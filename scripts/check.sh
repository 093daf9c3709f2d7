#!/usr/bin/env bash
# Everything a change must pass before it lands: formatting, clippy, and the test suite (on lavapipe
# or any Vulkan adapter). Uses the same warm build directory as CI.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ista-nas/target}"
cargo fmt --check
cargo clippy --release --all-targets -- -D warnings
cargo test --release
