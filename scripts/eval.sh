#!/usr/bin/env bash
# The accuracy harness: installs what it needs (the peers of scripts/peers.sh, FluidSynth,
# espeak-ng, music21 and mido), builds the ground-truth cases once into
# ~/.cache/warpflow/eval-cases, scores warpflow, matchmaker and offline DTW on them, measures
# `locate` on snippets cut from them (examples/locate_eval.rs), and measures `sync` on talking
# heads with their audio moved and on mismatched pictures and sounds (benches/eval/sync_eval.py,
# cases in ~/.cache/warpflow/sync-cases).
# The cases: synthetic ones with exact truth (benches/eval/cases.py) and real performances with
# measure starts marked by people (benches/eval/real_cases.py, from ./scripts/real_media.sh).
# Usage: ./scripts/eval.sh [FEATURES [FOLLOW OPTIONS...]] (default: follow's defaults), e.g.
#        ./scripts/eval.sh logmel-flux --no-transposition
#        ./scripts/eval.sh semitone-flux --lookahead-frames 10
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
for tool in fluidsynth espeak-ng rubberband; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  packages=("${missing[@]/rubberband/rubberband-cli}")
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
"$PY" -c "import music21, mido" >/dev/null 2>&1 || "$PY" -m pip install --quiet music21 mido

CASES="${WARPFLOW_EVAL_CASES:-$HOME/.cache/warpflow/eval-cases}"
"$PY" benches/eval/cases.py "$CASES"
"$PY" benches/eval/real_cases.py "$CASES" "${WARPFLOW_CACHE:-$HOME/.cache/warpflow}/media"
"$PY" benches/eval/run.py "$CASES" "$@"
# And `locate` on snippets of the same cases, with the same features (and key estimate).
locate_args=()
for arg in "$@"; do
  case "$arg" in
    --transposition | --no-transposition | logmel | logmel-flux | semitone-flux | chroma) locate_args+=("$arg") ;;
  esac
done
cargo run --quiet --release --example locate_eval -- "$CASES" ${locate_args[@]+"${locate_args[@]}"}
sync_harness
