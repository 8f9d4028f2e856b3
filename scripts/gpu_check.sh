#!/usr/bin/env bash
# The GPU check (examples/gpu_check/): every encoder on the device against the CPU, throughput
# side by side, and a whole follow and sync compared; results as JSON and a table in OUT.
#
# Here (cargo at hand) it first prepares what the GPU machine needs in .gpu_check/ (git-ignored,
# about 50 MB): the check built in release, and a TorchScript ResNet-18 (random weights: timing
# and parity only) with contracts for 224×224 and 1280×720 frames. There (no cargo, no
# GStreamer; torch 2.11.0 under /opt/torch/.venv) it runs what .gpu_check/ holds, against that
# torch's libraries (WARPFLOW_TORCH_PYTHON names another torch's python). With --device cpu it runs every step on this machine's CPU: a try of the
# script, whose numbers are CPU numbers and are labelled so.
#
# Usage: ./scripts/gpu_check.sh [--device cuda|cpu] [--out DIR] [--quick]
#   e.g. here:           ./scripts/gpu_check.sh --device cpu --quick
#   on the GPU machine:  bash scripts/gpu_check.sh --device cuda --out "$OUT"   (carry .gpu_check)
set -euo pipefail
cd "$(dirname "$0")/.."

DEVICE=cuda
OUT=gpu_check_results
QUICK=()
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --quick) QUICK=(--quick); shift ;;
    *) echo "gpu_check: unknown option '$1' (expected --device cuda|cpu, --out DIR, --quick)" >&2; exit 2 ;;
  esac
done
CARRY=.gpu_check

if command -v cargo >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/cargo" ]; then
  ./scripts/setup.sh
  source scripts/env.sh
  cargo build --quiet --release --example gpu_check
  mkdir -p "$CARRY"
  cp target/release/examples/gpu_check "$CARRY/gpu_check"
  if [ ! -f "$CARRY/resnet18.pt" ]; then
    "$VIRTUAL_ENV/bin/python" -c "import torchvision" 2>/dev/null ||
      "$VIRTUAL_ENV/bin/python" -m pip install --quiet torchvision==0.26.0
    "$VIRTUAL_ENV/bin/python" scripts/export_model.py resnet18 "$CARRY/resnet18.pt"
  fi
  TORCH_PYTHON="$VIRTUAL_ENV/bin/python"
else
  [ -x "$CARRY/gpu_check" ] || { echo "gpu_check: $CARRY/gpu_check is missing: prepare it where cargo is, and carry $CARRY" >&2; exit 2; }
  TORCH_PYTHON="${WARPFLOW_TORCH_PYTHON:-/opt/torch/.venv/bin/python}"
fi

# The same network at 720p: a ResNet pools whatever size it is given, so only the contract
# differs.
[ -e "$CARRY/resnet18_720p.pt" ] || ln -s resnet18.pt "$CARRY/resnet18_720p.pt"
sed -e 's/^width = .*/width = 1280/' -e 's/^height = .*/height = 720/' "$CARRY/resnet18.toml" >"$CARRY/resnet18_720p.toml"

TORCH_LIB="$("$TORCH_PYTHON" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
export LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

NAME=()
if [ "$DEVICE" = cuda ] && command -v nvidia-smi >/dev/null 2>&1; then
  NAME=(--device-name "$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1)")
fi
mkdir -p "$OUT"
"$CARRY/gpu_check" --device "$DEVICE" --out "$OUT" \
  --model "$CARRY/resnet18.pt" --model "$CARRY/resnet18_720p.pt" ${NAME[@]+"${NAME[@]}"} ${QUICK[@]+"${QUICK[@]}"}
cat "$OUT/results.md"
