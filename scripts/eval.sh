#!/usr/bin/env bash
# The accuracy harness: installs what it needs (the peers of scripts/peers.sh, FluidSynth,
# espeak-ng, music21 and mido), builds the ground-truth cases once into
# ~/.cache/warpflow/eval-cases, scores warpflow, matchmaker and offline DTW on them, and
# measures `locate` on snippets cut from them (examples/locate_eval.rs).
# Usage: ./scripts/eval.sh [FEATURES [FOLLOW OPTIONS...]], e.g. ./scripts/eval.sh chroma
#        ./scripts/eval.sh logmel-flux --lookahead-frames 10
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
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
