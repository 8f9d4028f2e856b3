#!/usr/bin/env bash
# The whole test suite: sets up what is missing, then formatting, lints and every test
# (unit, property, integration against real GStreamer pipelines and libtorch, doctests), then a
# short fuzzing pass.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
source scripts/env.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# The gst-launch test loads the plugin as GStreamer would: the cdylib must be built.
cargo build --workspace
cargo test --workspace
# A short libFuzzer pass over every parser of untrusted input (10 s each; skipped without nightly).
./scripts/fuzz.sh --short
