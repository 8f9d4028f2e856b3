"""Real cases for warpflow's accuracy harness: real performances, with the truth marked by people.

From synctoolbox 1.4.2's source archive (fetched by scripts/real_media.sh): two performances each
of two songs from Schubert's Winterreise, another singer and another pianist in each, with every
measure start marked by people. A case's truth is one line per measure both performances have:
its start in the live recording and in the reference.

Kinds (the harness pools and reports each on its own line):
- `real`: D911-01 "Gute Nacht" (5 min, strophic: the same music four times), each performance
  followed against the other. The cases defaults may be chosen on.
- `real held-out`: D911-03 "Gefrorne Tränen" (2.5 min), both ways. Kept out of all tuning: its
  line is what a user's unseen recording gets.
- `real room`: D911-01 heard through a room microphone: reverberant (RT60 0.8 s),
  band-limited (150 Hz to 5 kHz) and pink noise 25 dB below the music.
- `real late`: D911-01 joined 4 minutes into the performance, in its fourth verse (the one in
  the major). Joined in one of the first three, no follower can tell which: they are the same
  music, and the reference's first verse is as good a place as the right one.
- `real late held-out`: D911-03 joined 50 s into the performance (SC06 against HU33). D911-03
  stays out of all tuning.
- `real late check`: D911-03 joined 30 s and 90 s into the other performance (HU33 against
  SC06): joins that no setting was chosen on, to check what was chosen with the held-out join
  in view.
- `real late held-out sweep`: D911-03 joined every 10 s from 15 s in, each performance against
  the other (21 joins). One join says little: much of the song's music comes back in its last
  stanza (a passage's own frames match a stretch 25-50 s later as well as the other
  performance matches the passage), so where a join lands is decided by which stretch the
  search happens to find first. The sweep gives how often a join is placed within 5 s, and how
  soon, over the whole song.
- `real jump`: a set whose reference is D911-01 followed by a real song (Debian's
  csmash-demosong): the live stream leaves D911-01 after its first verse for the song 10 s in
  (a skip to the next number), then goes back to the song's 10th second from its 60th (a
  rehearsal restart). A skipped verse or a restart of a strophic song is no case: its verses
  are the same music, and only their words tell them apart.
- `real tempo`: a real song (Debian's csmash-demosong) played under a tempo map between 0.8x
  and 1.25x by rubberband (±12 ms on real music); the truth is a grid of reference times every
  half second, carried through the map.
- `real steady`: the same song played 10% slower throughout (rubberband), whose tempo should
  read steady.
- `negative`: a live stream that is not the reference at all: a LibriVox reading, and another
  song by other performers, against D911-01; the reading again against D911-03, and D911-03
  against D911-01 by the same singer and pianist (the features must hear the piece, not the
  performers). No truth; the harness reports how often the confidence says 0.5 or more.

Run with the venv's python: `python benches/eval/real_cases.py OUT_DIR MEDIA_DIR` (skips cases
already there).
"""

import json
import os
import subprocess
import sys

import numpy as np
import scipy.signal
import soundfile

RATE_HZ = 22050
LATE_JOIN_S = 240.0
LATE_JOIN_HELD_OUT_S = 50.0
LATE_JOIN_CHECK_S = (30.0, 90.0)
LATE_JOIN_SWEEP_FIRST_S = 15
LATE_JOIN_SWEEP_EVERY_S = 10
# A join's stream lasts at least this long, so that it has time to be placed.
LATE_JOIN_SWEEP_MIN_LEFT_S = 30


def read_audio(path):
    samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    samples = samples.mean(axis=1)
    if rate != RATE_HZ:
        samples = scipy.signal.resample_poly(samples, RATE_HZ, rate).astype(np.float32)
    return samples


def write_wav(path, samples):
    peak = max(1e-9, float(np.max(np.abs(samples))))
    soundfile.write(path, (samples / peak * 0.8).astype(np.float32), RATE_HZ, subtype="PCM_16")


def measures(media, song, performer):
    """{measure: start s} as marked by people."""
    table = np.loadtxt(os.path.join(media, f"Schubert_{song}_{performer}.csv"), delimiter=";", skiprows=1, ndmin=2)
    return {float(m): float(t) for t, m in table}


def measure_truth(live_marks, ref_marks):
    return sorted((live_marks[m], ref_marks[m]) for m in live_marks if m in ref_marks)


def cut(samples, marks, segments):
    """The performance played in `segments` (lists of (first measure, measure after the last),
    None for the end), and the marks of what was played at their new live times."""
    pieces, played, now_s = [], [], 0.0
    ordered = sorted(marks)
    for first, after in segments:
        start_s = marks[first]
        end_s = marks[after] if after is not None else len(samples) / RATE_HZ
        pieces.append(samples[round(start_s * RATE_HZ):round(end_s * RATE_HZ)])
        played += [(m, now_s + marks[m] - start_s) for m in ordered if first <= m and (after is None or m < after)]
        now_s += end_s - start_s
    return np.concatenate(pieces), played


def room(samples, rng):
    """Through a room microphone: reverb, a band of 150 Hz to 5 kHz, pink noise 25 dB down."""
    rt60_s = 0.8
    t = np.arange(int(1.2 * RATE_HZ)) / RATE_HZ
    response = rng.normal(0.0, 1.0, len(t)) * np.exp(-6.9 * t / rt60_s)
    response[0] = 8.0 * np.max(np.abs(response))
    wet = scipy.signal.fftconvolve(samples, response)[:len(samples)]
    band = scipy.signal.butter(4, [150.0, 5000.0], btype="bandpass", fs=RATE_HZ, output="sos")
    wet = scipy.signal.sosfilt(band, wet)
    white = np.fft.rfft(rng.normal(0.0, 1.0, len(wet)))
    white[1:] /= np.sqrt(np.arange(1, len(white)))
    pink = np.fft.irfft(white, len(wet))
    pink *= np.sqrt(np.mean(wet**2) / np.mean(pink**2) / 10 ** (25 / 10))
    return (wet + pink).astype(np.float32)


def tempo_mapped(samples, tmp, rng):
    """The song under a tempo curve between 0.8x and 1.25x, and its truth on a half-second grid."""
    source_s = len(samples) / RATE_HZ
    grid = np.arange(0.0, source_s, 0.01)
    factor = np.exp(np.log(1.25) * np.sin(2 * np.pi * grid / 23.0 + rng.uniform(0, 2 * np.pi)))
    live_at = np.concatenate([[0.0], np.cumsum(0.01 / factor)[:-1]])
    source, target = os.path.join(tmp, "song.wav"), os.path.join(tmp, "song-mapped.wav")
    soundfile.write(source, samples, RATE_HZ, subtype="PCM_16")
    timemap = os.path.join(tmp, "song.timemap")
    with open(timemap, "w") as f:
        for s in np.arange(1.0, source_s, 1.0):
            f.write(f"{round(s * RATE_HZ)} {round(np.interp(s, grid, live_at) * RATE_HZ)}\n")
    total = round(np.interp(source_s, grid, live_at) * RATE_HZ)
    subprocess.run(["rubberband", "--timemap", timemap, "-D", f"{total / RATE_HZ:.6f}", "-q", source, target],
                   check=True, capture_output=True)
    loud = np.nonzero(np.abs(samples) > 0.05 * np.max(np.abs(samples)))[0]
    first_s, last_s = loud[0] / RATE_HZ, loud[-1] / RATE_HZ
    truth = [(float(np.interp(r, grid, live_at)), float(r)) for r in np.arange(np.ceil(first_s), last_s - 1.0, 0.5)]
    return read_audio(target), truth


def stretched(samples, tmp, ratio):
    """The song played `ratio` times as long, and its truth on a half-second grid."""
    source, target = os.path.join(tmp, "song.wav"), os.path.join(tmp, "song-stretched.wav")
    soundfile.write(source, samples, RATE_HZ, subtype="PCM_16")
    subprocess.run(["rubberband", "--time", str(ratio), "-q", source, target], check=True, capture_output=True)
    loud = np.nonzero(np.abs(samples) > 0.05 * np.max(np.abs(samples)))[0]
    first_s, last_s = loud[0] / RATE_HZ, loud[-1] / RATE_HZ
    truth = [(ratio * r, float(r)) for r in np.arange(np.ceil(first_s), last_s - 1.0, 0.5)]
    return read_audio(target), truth


def write_case(out, name, kind, reference, live, truth, source, live_source=None, in_library=True):
    """A case folder. `source` names the reference recording (cases with the same one share it
    in `locate`'s library), `live_source` the live one when it is a recording of its own (a
    library searched for a snippet of it leaves it out); `in_library` false keeps the case out
    of `locate`'s evaluation (a reference made of recordings the library holds already)."""
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    write_wav(os.path.join(folder, "reference.wav"), reference)
    write_wav(os.path.join(folder, "live.wav"), live)
    if truth is not None:
        with open(os.path.join(folder, "truth.csv"), "w") as f:
            f.write("live_s,ref_s\n")
            for live_s, ref_s in truth:
                f.write(f"{live_s:.4f},{ref_s:.4f}\n")
    with open(os.path.join(folder, "case.json"), "w") as f:
        extra = {"live_source": live_source} if live_source else {}
        if not in_library:
            extra["in_library"] = False
        json.dump({"kind": kind, "source": source, **extra}, f)


def recording(song, performer):
    return f"Schubert {song} {performer} (synctoolbox 1.4.2)"


def write_late_join(out, name, kind, audio, marks, song, ref, live, join_s):
    """`live`'s performance of `song` joined `join_s` seconds in, followed against `ref`'s."""
    late = {m: t - join_s for m, t in marks[song, live].items() if t >= join_s}
    write_case(out, name, kind, audio[song, ref], audio[song, live][round(join_s * RATE_HZ):],
               measure_truth(late, marks[song, ref]), recording(song, ref), recording(song, live))


def main():
    out, media = sys.argv[1], sys.argv[2]
    tmp = os.path.join(out, ".tmp")
    os.makedirs(tmp, exist_ok=True)
    rng = np.random.default_rng(26)
    audio, marks = {}, {}
    for song in ("D911-01", "D911-03"):
        for performer in ("HU33", "SC06"):
            audio[song, performer] = read_audio(os.path.join(media, f"Schubert_{song}_{performer}.wav"))
            marks[song, performer] = measures(media, song, performer)

    def wanted(name):
        return not os.path.exists(os.path.join(out, name, "case.json"))

    for song, kind in (("D911-01", "real"), ("D911-03", "real held-out")):
        for ref, live in (("HU33", "SC06"), ("SC06", "HU33")):
            name = f"winterreise-{song}-{live}-against-{ref}"
            if wanted(name):
                write_case(out, name, kind, audio[song, ref], audio[song, live],
                           measure_truth(marks[song, live], marks[song, ref]), recording(song, ref),
                           recording(song, live))
    source = recording("D911-01", "HU33")

    reference, ref_marks = audio["D911-01", "HU33"], marks["D911-01", "HU33"]
    live, live_marks = audio["D911-01", "SC06"], marks["D911-01", "SC06"]
    if wanted("winterreise-D911-01-room"):
        write_case(out, "winterreise-D911-01-room", "real room", reference, room(live, rng),
                   measure_truth(live_marks, ref_marks), source, recording("D911-01", "SC06"))
    if wanted("winterreise-D911-01-late"):
        write_late_join(out, "winterreise-D911-01-late", "real late", audio, marks, "D911-01", "HU33", "SC06",
                        LATE_JOIN_S)
    if wanted("winterreise-D911-03-late"):
        write_late_join(out, "winterreise-D911-03-late", "real late held-out", audio, marks, "D911-03", "HU33",
                        "SC06", LATE_JOIN_HELD_OUT_S)
    for join_s in LATE_JOIN_CHECK_S:
        name = f"winterreise-D911-03-late-{join_s:.0f}s"
        if wanted(name):
            write_late_join(out, name, "real late check", audio, marks, "D911-03", "SC06", "HU33", join_s)
    for ref_performer, live_performer in (("HU33", "SC06"), ("SC06", "HU33")):
        left_s = len(audio["D911-03", live_performer]) / RATE_HZ - LATE_JOIN_SWEEP_MIN_LEFT_S
        for join_s in range(LATE_JOIN_SWEEP_FIRST_S, int(left_s), LATE_JOIN_SWEEP_EVERY_S):
            name = f"winterreise-D911-03-{live_performer}-joined-{join_s:03d}s"
            if wanted(name):
                write_late_join(out, name, "real late held-out sweep", audio, marks, "D911-03", ref_performer,
                                live_performer, join_s)
    song = read_audio(os.path.join(media, "song.ogg"))
    if wanted("set-skip-and-restart"):
        played, played_marks = cut(live, live_marks, [(1.0, 40.0)])
        truth = sorted((t, ref_marks[m]) for m, t in played_marks if m in ref_marks)
        pieces, now_s, left_s = [played], len(played) / RATE_HZ, len(reference) / RATE_HZ
        for from_s, to_s in ((10.0, 60.0), (10.0, len(song) / RATE_HZ)):
            truth += [(now_s + r - from_s, left_s + r) for r in np.arange(from_s + 0.5, to_s - 1.0, 0.5)]
            pieces.append(song[round(from_s * RATE_HZ):round(to_s * RATE_HZ)])
            now_s += to_s - from_s
        write_case(out, "set-skip-and-restart", "real jump", np.concatenate([reference, song]),
                   np.concatenate(pieces), truth, "a set: " + source + " and csmash-demosong",
                   in_library=False)

    if wanted("song-tempo-map"):
        mapped, truth = tempo_mapped(song, tmp, rng)
        write_case(out, "song-tempo-map", "real tempo", song, mapped, truth, "csmash-demosong")

    if wanted("song-steady"):
        slower, truth = stretched(song, tmp, 1.1)
        write_case(out, "song-steady", "real steady", song, slower, truth, "csmash-demosong")

    reading = read_audio(os.path.join(media, "librivox_speech.wav"))
    for name, against, other in (("negative-reading", reference, reading),
                                 ("negative-other-song", reference, audio["D911-03", "SC06"]),
                                 ("negative-reading-D911-03", audio["D911-03", "SC06"], reading),
                                 ("negative-same-performers", reference, audio["D911-03", "HU33"])):
        if wanted(name):
            write_case(out, name, "negative", against, other, None, "not the reference")


if __name__ == "__main__":
    main()
