#!/usr/bin/env bash
# Sets up what is missing, builds warpflow (release), puts it on PATH as ~/.cargo/bin/warpflow
# (where cargo install would; it finds libtorch in the cached venv wherever it is), and runs it
# with the given arguments.
#   ./scripts/run.sh sync --live 'test?av_offset_ms=80' --format pretty
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
source scripts/env.sh
cargo build --release --quiet --bin warpflow
INSTALLED="${CARGO_HOME:-$HOME/.cargo}/bin/warpflow"
if ! cmp -s target/release/warpflow "$INSTALLED"; then
  mkdir -p "$(dirname "$INSTALLED")"
  install -m 755 target/release/warpflow "$INSTALLED"
fi
exec target/release/warpflow "$@"
