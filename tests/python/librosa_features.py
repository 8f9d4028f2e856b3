"""librosa's features of a raw signal, for tests/encoders_match_librosa.rs.

Usage: python librosa_features.py SIGNAL.f32 OUT_DIR SR N_FFT HOP N_MELS N_MFCC N_CHROMA TOP_DB
SIGNAL.f32 holds little-endian float32 samples; TOP_DB is a number or `none`. Writes
mel.f32, mfcc.f32, chroma.f32 and onset.f32 to OUT_DIR, one row per frame (frames cut without
centring: `center=False`), little-endian float32.
"""

import os
import sys

import librosa
import numpy as np


def main():
    signal_path, out, sr, n_fft, hop, n_mels, n_mfcc, n_chroma, top_db = sys.argv[1:10]
    sr, n_fft, hop, n_mels, n_mfcc, n_chroma = map(int, (sr, n_fft, hop, n_mels, n_mfcc, n_chroma))
    top_db = None if top_db == "none" else float(top_db)
    y = np.fromfile(signal_path, dtype="<f4")
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, center=False)
    decibels = librosa.power_to_db(mel, top_db=top_db)
    features = {
        "mel": mel,
        "mfcc": librosa.feature.mfcc(S=decibels, n_mfcc=n_mfcc),
        "chroma": librosa.feature.chroma_stft(y=y, sr=sr, n_fft=n_fft, hop_length=hop, center=False, tuning=0.0,
                                              n_chroma=n_chroma),
        "onset": librosa.onset.onset_strength(S=decibels, sr=sr, n_fft=n_fft, hop_length=hop, center=False)[None, :],
    }
    for name, values in features.items():
        np.ascontiguousarray(values.T, dtype="<f4").tofile(os.path.join(out, name + ".f32"))


if __name__ == "__main__":
    main()
