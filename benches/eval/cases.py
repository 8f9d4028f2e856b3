"""Ground-truth cases for warpflow's accuracy harness, built from material packages ship.

Music: Bach chorales from the music21 corpus, rendered with FluidSynth and Debian's General MIDI
soundfont (fluid-soundfont-gm). Speech: espeak-ng, one word at a time so that every word's onset
is known. Each case is a folder with `reference.wav`, `live.wav` and `truth.csv` (one line per
event: the live time and the reference time of the same note onset or word, in seconds), plus
`case.json` naming its kind:

- `tempo`: the same rendition under a tempo curve between 0.7x and 1.4x, with noise;
- `performance`: what differs between two real performances: another instrument, other
  dynamics and articulation, reverb, transposition by 1-2 semitones and timing that varies note
  by note (rubato), on top of a tempo curve; for speech, another voice, pitch and rate;
- `jump` and `repeat`: the live stream skips a passage, or plays one twice.
- `late`: the `performance` (strings) joined 45% of the way in, its first line (which the chorale
  repeats) behind it: how soon a stream joined late is placed.

Run with the venv's python: `python benches/eval/cases.py OUT_DIR` (skips cases already there).
"""

import json
import math
import os
import subprocess
import sys
import wave

import numpy as np

RATE_HZ = 22050
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
PIECES = ["bach/bwv66.6", "bach/bwv269", "bach/bwv347"]
SECONDS_PER_QUARTER = 0.6  # the reference plays at 100 beats per minute
LEAD_S = 0.5  # silence before the live rendition's first note
TEXT = (
    "the station was quiet at dawn when the first train arrived from the coast and a few "
    "travellers stepped down onto the wet platform carrying bags and umbrellas while a porter "
    "pushed an empty trolley toward the far gate and the clock above the ticket hall struck six"
)


def read_wav(path):
    with wave.open(path, "rb") as w:
        channels, width, frames = w.getnchannels(), w.getsampwidth(), w.getnframes()
        data = np.frombuffer(w.readframes(frames), dtype={2: np.int16, 1: np.uint8}[width]).astype(np.float32)
        rate = w.getframerate()
    if width == 1:
        data = (data - 128.0) * 256.0
    data = data.reshape(-1, channels).mean(axis=1) / 32768.0
    if rate != RATE_HZ:
        positions = np.arange(0, len(data) * RATE_HZ / rate) * rate / RATE_HZ
        data = np.interp(positions, np.arange(len(data)), data).astype(np.float32)
    return data


def write_wav(path, samples):
    peak = max(1e-9, float(np.max(np.abs(samples))))
    pcm = (np.clip(samples / peak * 0.8, -1, 1) * 32767).astype(np.int16)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE_HZ)
        w.writeframes(pcm.tobytes())


def chorale_notes(name):
    """(onset in quarters, duration in quarters, MIDI pitch) of every note, ties merged."""
    from music21 import corpus

    score = corpus.parse(name).stripTies()
    notes = []
    for element in score.flatten().notes:
        for pitch in element.pitches:
            notes.append((float(element.offset), float(element.quarterLength), int(pitch.midi)))
    notes.sort()
    return notes


def render_midi(notes, path_wav, program, reverb, tmp):
    """Renders (start s, end s, pitch, velocity) notes with FluidSynth."""
    import mido

    ticks_per_second = 960  # at mido's default tempo of 120 bpm, 480 ticks per beat
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.Message("program_change", program=program, channel=0, time=0))
    events = []
    for start, end, pitch, velocity in notes:
        if not 0 <= pitch <= 127:
            continue
        events.append((round(start * ticks_per_second), 1, pitch, velocity))
        events.append((round(max(end, start + 0.05) * ticks_per_second), 0, pitch, 0))
    events.sort()
    now = 0
    for tick, is_on, pitch, velocity in events:
        kind = "note_on" if is_on else "note_off"
        track.append(mido.Message(kind, note=pitch, velocity=velocity, channel=0, time=tick - now))
        now = tick
    mid_path = os.path.join(tmp, os.path.basename(path_wav) + ".mid")
    midi.save(mid_path)
    raw = path_wav + ".raw.wav"
    subprocess.run(
        ["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", str(RATE_HZ), "-R", "1" if reverb else "0", "-C", "0",
         "-o", "synth.reverb.room-size=0.8", "-F", raw, SOUNDFONT, mid_path],
        check=True, capture_output=True,
    )
    samples = read_wav(raw)
    os.remove(raw)
    return samples


def tempo_clock(curve, total_quarters):
    """Live seconds at each score position (in quarters) under a tempo factor curve(q)."""
    step = 0.01
    grid = np.arange(0.0, total_quarters + 2.0, step)
    factors = np.array([curve(q) for q in grid])
    seconds = np.concatenate([[0.0], np.cumsum(step * SECONDS_PER_QUARTER / factors)[:-1]])
    return lambda q: float(np.interp(q, grid, seconds))


def add_noise(samples, rng, snr_db):
    power = float(np.mean(samples**2)) + 1e-12
    noise = rng.normal(0.0, math.sqrt(power / 10 ** (snr_db / 10)), len(samples)).astype(np.float32)
    return samples + noise


def music_cases(out, tmp):
    rng = np.random.default_rng(11)
    for piece in PIECES:
        notes = chorale_notes(piece)
        total = max(onset + duration for onset, duration, _ in notes)
        name = piece.replace("/", "-")
        reference = [(o * SECONDS_PER_QUARTER, (o + d) * SECONDS_PER_QUARTER, p, 80) for o, d, p in notes]
        onsets = sorted({o for o, _, _ in notes})

        def performance(clock, keep, jitter_s=0.0, program=0, transpose=0, staccato=1.0, dynamics=0,
                        reverb=False, snr_db=30.0):
            """Notes played where `keep` says (a list of (from q, to q, live offset s)), and the
            truth events, under `clock` with per-onset jitter."""
            played, truth = [], []
            jitter = {o: float(np.clip(rng.normal(0, jitter_s), -2.5 * jitter_s, 2.5 * jitter_s)) if jitter_s else 0.0
                      for o in onsets}
            for start_q, end_q, offset_s in keep:
                for o in onsets:
                    if start_q <= o < end_q:
                        live_s = LEAD_S + clock(o) - clock(start_q) + offset_s + jitter[o]
                        truth.append((live_s, o * SECONDS_PER_QUARTER))
                for o, d, p in notes:
                    if start_q <= o < end_q:
                        begin = LEAD_S + clock(o) - clock(start_q) + offset_s + jitter[o]
                        end = LEAD_S + clock(o + d * staccato) - clock(start_q) + offset_s + jitter[o]
                        velocity = int(np.clip(80 + dynamics * rng.normal(), 30, 120))
                        played.append((begin, end, p + transpose, velocity))
            truth.sort()
            return played, truth, dict(program=program, reverb=reverb, snr_db=snr_db)

        steady = tempo_clock(lambda q: 1.0, total)
        cases = {
            f"{name}-tempo-wave": ("tempo", *performance(
                tempo_clock(lambda q: 1.05 + 0.35 * math.sin(2 * math.pi * q / 24.0), total), [(0, total, 0.0)])),
            f"{name}-tempo-ramp": ("tempo", *performance(
                tempo_clock(lambda q: 1.35 - 0.63 * q / total, total), [(0, total, 0.0)])),
            f"{name}-performance-strings": ("performance", *performance(
                tempo_clock(lambda q: 0.95 + 0.15 * math.sin(2 * math.pi * q / 16.0), total), [(0, total, 0.0)],
                jitter_s=0.03, program=48, transpose=1, staccato=0.95, dynamics=15, reverb=True)),
            f"{name}-performance-organ": ("performance", *performance(
                tempo_clock(lambda q: 1.1 - 0.25 * q / total, total), [(0, total, 0.0)],
                jitter_s=0.045, program=19, transpose=-2, staccato=0.6, dynamics=20, reverb=True, snr_db=20.0)),
            f"{name}-jump": ("jump", *performance(
                steady, [(0, total * 0.3, 0.0), (total * 0.55, total, total * 0.3 * SECONDS_PER_QUARTER + 0.4)])),
            f"{name}-repeat": ("repeat", *performance(
                steady, [(0, total * 0.6, 0.0), (total * 0.35, total, total * 0.6 * SECONDS_PER_QUARTER + 0.4)])),
        }
        reference_wav = None
        for case, (kind, played, truth, sound) in cases.items():
            folder = os.path.join(out, case)
            if os.path.exists(os.path.join(folder, "case.json")):
                continue
            os.makedirs(folder, exist_ok=True)
            if reference_wav is None:
                reference_wav = render_midi(reference, os.path.join(tmp, name + "-reference.wav"), 0, False, tmp)
            write_wav(os.path.join(folder, "reference.wav"), reference_wav)
            live = render_midi(played, os.path.join(folder, "live.wav"), sound["program"], sound["reverb"], tmp)
            write_wav(os.path.join(folder, "live.wav"), add_noise(live, rng, sound["snr_db"]))
            write_truth(folder, truth)
            with open(os.path.join(folder, "case.json"), "w") as f:
                json.dump({"kind": kind, "source": piece}, f)


def late_cases(out):
    """Each chorale's strings performance joined 45% of the way in (cut from its case)."""
    for piece in PIECES:
        name = piece.replace("/", "-")
        source, folder = os.path.join(out, f"{name}-performance-strings"), os.path.join(out, f"{name}-late")
        if os.path.exists(os.path.join(folder, "case.json")):
            continue
        live = read_wav(os.path.join(source, "live.wav"))
        join_s = 0.45 * len(live) / RATE_HZ
        truth = np.loadtxt(os.path.join(source, "truth.csv"), delimiter=",", skiprows=1, ndmin=2)
        os.makedirs(folder, exist_ok=True)
        write_wav(os.path.join(folder, "reference.wav"), read_wav(os.path.join(source, "reference.wav")))
        write_wav(os.path.join(folder, "live.wav"), live[round(join_s * RATE_HZ):])
        write_truth(folder, [(live_s - join_s, ref_s) for live_s, ref_s in truth if live_s >= join_s])
        with open(os.path.join(folder, "case.json"), "w") as f:
            json.dump({"kind": "late", "source": piece}, f)


def speak(word, voice, rate_wpm, pitch, tmp):
    path = os.path.join(tmp, "word.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate_wpm), "-p", str(pitch), "-w", path, word],
                   check=True, capture_output=True)
    samples = read_wav(path)
    loud = np.nonzero(np.abs(samples) > 0.02 * max(1e-9, float(np.max(np.abs(samples)))))[0]
    return samples[loud[0]:loud[-1] + 1] if len(loud) else samples


def spoken(voice, rate_wpm, pitch, pause_s, tmp):
    """The text one word at a time, and each word's onset (s)."""
    pieces, onsets, now = [], [], 0.0
    for word in TEXT.split():
        samples = speak(word, voice, rate_wpm, pitch, tmp)
        onsets.append(now)
        pieces.append(samples)
        gap = np.zeros(int(pause_s * RATE_HZ), dtype=np.float32)
        pieces.append(gap)
        now += (len(samples) + len(gap)) / RATE_HZ
    return np.concatenate(pieces), onsets


def speech_cases(out, tmp):
    rng = np.random.default_rng(5)
    reference = None
    for case, kind, voice, rate_wpm, pitch, pause_s in [
        ("speech-tempo-fast", "tempo", "en", 200, 50, 0.06),
        ("speech-tempo-slow", "tempo", "en", 115, 50, 0.12),
        ("speech-performance-voice", "performance", "en-us+f3", 135, 75, 0.1),
    ]:
        folder = os.path.join(out, case)
        if os.path.exists(os.path.join(folder, "case.json")):
            continue
        os.makedirs(folder, exist_ok=True)
        if reference is None:
            reference = spoken("en", 160, 50, 0.08, tmp)
        live, live_onsets = spoken(voice, rate_wpm, pitch, pause_s, tmp)
        write_wav(os.path.join(folder, "reference.wav"), reference[0])
        write_wav(os.path.join(folder, "live.wav"), add_noise(live, rng, 25.0))
        write_truth(folder, list(zip(live_onsets, reference[1])))
        with open(os.path.join(folder, "case.json"), "w") as f:
            json.dump({"kind": kind, "source": "espeak-ng"}, f)


def write_truth(folder, truth):
    with open(os.path.join(folder, "truth.csv"), "w") as f:
        f.write("live_s,ref_s\n")
        for live_s, ref_s in truth:
            f.write(f"{live_s:.4f},{ref_s:.4f}\n")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    tmp = os.path.join(out, ".tmp")
    os.makedirs(tmp, exist_ok=True)
    music_cases(out, tmp)
    late_cases(out)
    speech_cases(out, tmp)
    print(f"cases in {out}: {len([d for d in os.listdir(out) if not d.startswith('.')])}")


if __name__ == "__main__":
    main()
