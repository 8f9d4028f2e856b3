#!/usr/bin/env bash
# Installs what warpflow needs to build and run, skipping whatever is already there:
#   - Debian's GStreamer 1.22 development packages and plugins (apt), and the RTSP server's
#     Python bindings, with which a test runs a server in a process of its own to kill it;
#   - torch==2.11.0 from PyPI into a venv cached outside the checkout, for tch =0.24.0;
#   - librosa into the same venv, which the encoder tests compare with;
#   - Silero VAD's TorchScript model (silero-vad from PyPI, MIT licence) with its contract, into
#     ~/.cache/warpflow/models, and espeak-ng, whose speech the VAD test listens to.
#   - Debian's Chromium and playwright-core (npm, cached beside the venv), with which the
#     browser test drives the live page;
#   - ffmpeg and real recordings of people speaking to a camera (scripts/real_media.sh), which
#     the lip-sync tests shift by known amounts;
#   - cargo-fuzz (crates.io) and a nightly toolchain, for the fuzzing pass (scripts/fuzz.sh).
# Safe to run any number of times; a second run on a set-up machine takes about a second.
set -euo pipefail

WARPFLOW_CACHE="${WARPFLOW_CACHE:-$HOME/.cache/warpflow}"
VENV="$WARPFLOW_CACHE/venv"
TORCH_VERSION="2.11.0"
LIBROSA_VERSION="0.11.0"
SILERO_VAD_VERSION="6.2.3"

APT_PACKAGES=(
  pkg-config
  libgstreamer1.0-dev
  libgstreamer-plugins-base1.0-dev
  gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad
  gstreamer1.0-libav
  gstreamer1.0-tools
  libgstrtspserver-1.0-dev
  gir1.2-gst-rtsp-server-1.0
  python3-gi
  espeak-ng
  chromium
  nodejs
  ffmpeg
  csmash-demosong
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's own nodejs comes without npm (NodeSource's carries it).
if ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing npm" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
fi

# playwright-core drives the system's Chromium; it never downloads a browser of its own.
BROWSER="$WARPFLOW_CACHE/browser"
PLAYWRIGHT_VERSION="1.65.1"
if [ ! -f "$BROWSER/node_modules/playwright-core/package.json" ] \
   || ! grep -q "\"version\": \"$PLAYWRIGHT_VERSION\"" "$BROWSER/node_modules/playwright-core/package.json"; then
  echo "setup: installing playwright-core@$PLAYWRIGHT_VERSION into $BROWSER" >&2
  mkdir -p "$BROWSER"
  npm install --silent --no-audit --no-fund --prefix "$BROWSER" "playwright-core@$PLAYWRIGHT_VERSION" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
  echo "setup: cargo is missing; install the Rust toolchain with rustup (https://rustup.rs) first" >&2
  exit 1
fi

# A finished pip install leaves the dist-info folder; looking for it is much faster than importing torch.
if ! compgen -G "$VENV/lib/python3*/site-packages/torch-$TORCH_VERSION.dist-info/RECORD" >/dev/null \
   || ! compgen -G "$VENV/lib/python3*/site-packages/torch/lib/libtorch_cpu.so" >/dev/null; then
  echo "setup: installing torch==$TORCH_VERSION into $VENV (about 4.7 GB, a few minutes)" >&2
  mkdir -p "$WARPFLOW_CACHE"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  # torch's own CPU library links against the CUDA runtime wheels, so its dependencies come too.
  "$VENV/bin/python" -m pip install --quiet "torch==$TORCH_VERSION"
fi

# librosa: the tests compare the built-in audio encoders with it (numpy < 2 as the aligner
# peers in scripts/peers.sh need).
if ! compgen -G "$VENV/lib/python3*/site-packages/librosa-$LIBROSA_VERSION.dist-info/RECORD" >/dev/null; then
  echo "setup: installing librosa==$LIBROSA_VERSION into $VENV" >&2
  "$VENV/bin/python" -m pip install --quiet "numpy<2" "librosa==$LIBROSA_VERSION"
fi

# Silero VAD: only its TorchScript file is needed (its other dependencies would pull another
# torch), so the wheel comes without them, and the model is copied beside its contract.
MODELS="$WARPFLOW_CACHE/models"
if [ ! -f "$MODELS/silero_vad.jit" ]; then
  if ! compgen -G "$VENV/lib/python3*/site-packages/silero_vad-$SILERO_VAD_VERSION.dist-info/RECORD" >/dev/null; then
    echo "setup: installing silero-vad==$SILERO_VAD_VERSION (model file only) into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --no-deps "silero-vad==$SILERO_VAD_VERSION"
  fi
  mkdir -p "$MODELS"
  cp "$(compgen -G "$VENV/lib/python3*/site-packages/silero_vad/data/silero_vad.jit" | head -n 1)" "$MODELS/silero_vad.jit"
fi
cp "$(dirname "$0")/../models/silero_vad.toml" "$MODELS/silero_vad.toml"

# cargo fuzz and a nightly toolchain, for the libFuzzer pass over the parsers
# (scripts/fuzz.sh). Where rustup cannot fetch nightly, that pass is skipped and the stable
# replay of the corpus (tests/fuzz_corpus.rs) stands alone.
CARGO_FUZZ_VERSION="0.13.2"
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  echo "setup: installing cargo-fuzz $CARGO_FUZZ_VERSION" >&2
  cargo install --quiet --locked "cargo-fuzz@$CARGO_FUZZ_VERSION" || echo "setup: cargo-fuzz could not be installed; the libFuzzer pass will be skipped" >&2
fi
if ! cargo +nightly --version >/dev/null 2>&1 && command -v rustup >/dev/null 2>&1; then
  echo "setup: installing the nightly toolchain for cargo fuzz" >&2
  rustup toolchain install nightly --profile minimal >/dev/null 2>&1 || echo "setup: no nightly toolchain; the libFuzzer pass will be skipped" >&2
fi

"$(dirname "$0")/real_media.sh"
