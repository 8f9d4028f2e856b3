"""librosa's mel spectrogram on the audio examples/encoder_bench.rs encodes, for its table.

Usage: python benches/librosa_speed.py SIGNAL.f32 SR N_FFT HOP N_MELS
Prints one JSON line: frames, seconds (best of three) and frames per second of
librosa.feature.melspectrogram over the whole signal at once (center=False).
"""

import json
import sys
import time

import librosa
import numpy as np


def main():
    path, sr, n_fft, hop, n_mels = sys.argv[1], *map(int, sys.argv[2:6])
    y = np.fromfile(path, dtype="<f4")
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, center=False)
        best = min(best, time.perf_counter() - started)
    frames = mel.shape[1]
    print(json.dumps({"frames": frames, "seconds": best, "frames_per_s": frames / best}))


if __name__ == "__main__":
    main()
