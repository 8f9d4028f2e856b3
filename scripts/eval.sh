#!/usr/bin/env bash
# The accuracy harness: installs what it needs (the peers of scripts/peers.sh, FluidSynth,
# espeak-ng, music21 and mido), builds the ground-truth cases once into
# ~/.cache/warpflow/eval-cases, scores warpflow, matchmaker and offline DTW on them, measures
# `locate` on snippets cut from them (examples/locate_eval.rs), and measures `sync` on talking
# heads with their audio moved and on mismatched pictures and sounds (benches/eval/sync_eval.py,
# cases in ~/.cache/warpflow/sync-cases).
# Usage: ./scripts/eval.sh [FEATURES [FOLLOW OPTIONS...]], e.g. ./scripts/eval.sh chroma
#        ./scripts/eval.sh logmel-flux --lookahead-frames 10
#        ./scripts/eval.sh sync        (the sync harness alone)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

sync_harness() {
  cargo build --quiet --release --bin warpflow
  "$VIRTUAL_ENV/bin/python" benches/eval/sync_eval.py target/release/warpflow \
    "${WARPFLOW_CACHE:-$HOME/.cache/warpflow}/media" "${WARPFLOW_CACHE:-$HOME/.cache/warpflow}/sync-cases"
}
if [ "${1:-}" = "sync" ]; then
  source scripts/env.sh
  sync_harness
  exit 0
fi

./scripts/peers.sh
source scripts/env.sh
PY="$VIRTUAL_ENV/bin/python"

missing=()
for tool in fluidsynth espeak-ng; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
"$PY" -c "import music21, mido" >/dev/null 2>&1 || "$PY" -m pip install --quiet music21 mido

CASES="${WARPFLOW_EVAL_CASES:-$HOME/.cache/warpflow/eval-cases}"
"$PY" benches/eval/cases.py "$CASES"
"$PY" benches/eval/run.py "$CASES" "${@:-logmel-flux}"
# And `locate` on snippets of the same cases, with the same features (and key estimate).
locate_args=("${1:-logmel-flux}")
for arg in "$@"; do
  if [ "$arg" = "--transposition" ]; then
    locate_args+=(--transposition)
  fi
done
cargo run --quiet --release --example locate_eval -- "$CASES" "${locate_args[@]}"
sync_harness
