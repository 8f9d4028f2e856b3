#!/usr/bin/env bash
# Installs the peers warpflow's aligners are compared with into the project's venv, skipping
# what is there: dtaidistance (C DTW), librosa (its DTW) and pymatchmaker (CPJKU's online
# aligner). Needs ./scripts/setup.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
PY="$VIRTUAL_ENV/bin/python"

if ! "$PY" -c "import dtaidistance, librosa, matchmaker" >/dev/null 2>&1; then
  # pymatchmaker 0.3.0 needs numpy < 2.
  "$PY" -m pip install --quiet "numpy<2" dtaidistance librosa pymatchmaker
fi

# Importing matchmaker makes partitura look for a soundfont it would otherwise download (and
# this machine is offline): give it Debian's General MIDI soundfont.
if ! dpkg-query -W -f='${Status}' fluid-soundfont-gm 2>/dev/null | grep -q "install ok installed"; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends fluid-soundfont-gm >/dev/null
fi
ASSETS=$("$PY" -c "import importlib.util, os; print(os.path.join(os.path.dirname(importlib.util.find_spec('partitura').origin), 'assets'))")
mkdir -p "$ASSETS"
[ -e "$ASSETS/MuseScore_General.sf3" ] || ln -s /usr/share/sounds/sf2/FluidR3_GM.sf2 "$ASSETS/MuseScore_General.sf3"
