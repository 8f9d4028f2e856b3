#!/usr/bin/env bash
# Sets up what is missing, builds warpflow (release) and runs it with the given arguments.
#   ./scripts/run.sh sync --live 'test?av_offset_ms=80' --output pretty
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
source scripts/env.sh
cargo build --release --quiet --bin warpflow
exec target/release/warpflow "$@"
