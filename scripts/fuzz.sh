#!/usr/bin/env bash
# Fuzzes warpflow's parsers of untrusted input (fuzz/src/lib.rs: sources, test? queries, cue
# files, .wfr references, pipeline files, the feed's query strings) under libFuzzer, with
# cargo fuzz on a nightly toolchain.
#
#   scripts/fuzz.sh                  every target for 180 s; new inputs that reach new code are
#                                    merged into fuzz/corpus/TARGET (commit them)
#   scripts/fuzz.sh --seconds N T…   targets T… for N s each
#   scripts/fuzz.sh --short          every target for 10 s, the corpus left as it is (the pass
#                                    ./scripts/test.sh runs)
#
# A crash stops the run: its input is copied to fuzz/regressions/TARGET/, which
# tests/fuzz_corpus.rs replays on stable Rust from then on, and the script exits 1.
# Without nightly or cargo-fuzz (scripts/setup.sh installs them where it can) it says so and
# exits 0: tests/fuzz_corpus.rs still replays the corpus and edits of it on stable.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=180
SHORT=0
TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_EACH="$2"; shift 2 ;;
    --short) SHORT=1; SECONDS_EACH=10; shift ;;
    -*) echo "fuzz.sh: unknown option $1 (expected --seconds N or --short)" >&2; exit 2 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
if [ ${#TARGETS[@]} -eq 0 ]; then
  mapfile -t TARGETS < <(ls fuzz/fuzz_targets | sed 's/\.rs$//')
fi

if ! cargo +nightly --version >/dev/null 2>&1 || ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: no nightly toolchain or cargo-fuzz here; libFuzzer pass skipped (tests/fuzz_corpus.rs replays the corpus on stable)"
  exit 0
fi
source scripts/env.sh
# The targets link libtorch (through warpflow), which the venv's torch carries.
TORCH_LIB="$(compgen -G "$VIRTUAL_ENV/lib/python3*/site-packages/torch/lib" | head -n 1)"
export LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# Kept outside the checkout, so that a clean clone does not build the instrumented tree again.
FUZZ_TARGET_DIR="${WARPFLOW_CACHE:-$HOME/.cache/warpflow}/fuzz-target"
# No sanitizer: the targets are safe Rust, and what is sought is panics, aborts and hangs
# (libtorch, linked in, is not built for AddressSanitizer).
FUZZ=(cargo +nightly fuzz run --sanitizer none --target-dir "$FUZZ_TARGET_DIR")
# Each input within 5 s and 2 GB: a slower one is a hang, a larger one a runaway allocation.
LIBFUZZER_LIMITS=(-timeout=5 -rss_limit_mb=2048 -max_len=8192)

for target in "${TARGETS[@]}"; do
  scratch="$(mktemp -d)"
  echo "fuzz.sh: $target for ${SECONDS_EACH} s"
  if ! "${FUZZ[@]}" "$target" "$scratch" "fuzz/corpus/$target" -- \
      "${LIBFUZZER_LIMITS[@]}" -max_total_time="$SECONDS_EACH" -print_final_stats=1 2>"$scratch.log"; then
    if ! compgen -G "fuzz/artifacts/$target/*" >/dev/null; then
      tail -20 "$scratch.log" >&2
      echo "fuzz.sh: $target did not run" >&2
      exit 1
    fi
    grep -E "panicked|ERROR|SUMMARY|Test unit written" "$scratch.log" | head -20 >&2 || true
    mkdir -p "fuzz/regressions/$target"
    mv fuzz/artifacts/"$target"/* "fuzz/regressions/$target/"
    echo "fuzz.sh: $target crashed; its input is in fuzz/regressions/$target/ (replayed by tests/fuzz_corpus.rs)" >&2
    exit 1
  fi
  grep -E "stat::number_of_executed_units|stat::new_units_added" "$scratch.log" | tr '\n' ' ' | sed "s/^/  /"; echo
  if [ "$SHORT" -eq 0 ]; then
    # Keeps only the new inputs that reach code the corpus did not.
    "${FUZZ[@]}" "$target" "fuzz/corpus/$target" "$scratch" -- -merge=1 "${LIBFUZZER_LIMITS[@]}" 2>/dev/null
  fi
  rm -rf "$scratch" "$scratch.log"
done
