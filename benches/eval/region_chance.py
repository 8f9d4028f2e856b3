"""How high chance reaches on a clip: the region estimator's statistic with the clip's own
audio against its own picture, and with the audio rotated by 1.5 to 6.5 s (the same sound and
picture, no longer in step).

    python region_chance.py CLIP...

An offline numpy mirror of `align/region_lag` over a whole clip (equal weights instead of the
20 s memory): 64×48 luma in 16×12 blocks, each less its eight neighbours and high-passed at
0.5 s; log power per 5 ms hop floored 40 dB below the loudest sound, high-passed alike; every
lag in ±1 s on a 5 ms grid; the four strongest blocks pooled, each with its own sign. Where the
rotated audio reaches the peak that the audio in step reaches, the clip holds too little
evidence to tell its offset from chance, however consistent its readings look.

Prints a Markdown table: the peak in step, its lag, and the rotations' mean and highest peaks.
"""
import subprocess
import sys

import numpy as np

WIDTH, HEIGHT, COLUMNS, ROWS = 64, 48, 16, 12
HOP_S = 0.005
HIGH_PASS_S = 0.5
MAX_LAG_S = 1.0
REGION_BLOCKS = 4
ROTATIONS_S = np.arange(1.5, 6.6, 0.5)


def decode(path):
    rate = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                           "stream=r_frame_rate", "-of", "csv=p=0", path],
                          capture_output=True, text=True, check=True).stdout.strip()
    num, _, den = rate.partition("/")
    fps = float(num) / float(den or 1)
    video = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-vf", f"scale={WIDTH}:{HEIGHT},format=gray",
                            "-f", "rawvideo", "-"], capture_output=True, check=True).stdout
    audio = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-ac", "1", "-ar", "16000", "-f", "f32le", "-"],
                           capture_output=True, check=True).stdout
    frames = np.frombuffer(video, np.uint8).reshape(-1, HEIGHT, WIDTH).astype(np.float32) / 255
    return fps, frames, np.frombuffer(audio, np.float32)


def high_pass(x, step_s):
    alpha = 1 - np.exp(-step_s / HIGH_PASS_S)
    out, average = np.empty_like(x), x[0].copy()
    for i, value in enumerate(x):
        average = average + alpha * (value - average)
        out[i] = value - average
    return out


def block_signals(fps, frames):
    blocks = frames.reshape(-1, ROWS, HEIGHT // ROWS, COLUMNS, WIDTH // COLUMNS).mean(axis=(2, 4))
    padded = np.pad(blocks, ((0, 0), (1, 1), (1, 1)), mode="edge")
    neighbours = sum(padded[:, 1 + dy:1 + dy + ROWS, 1 + dx:1 + dx + COLUMNS]
                     for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dx, dy) != (0, 0))
    contrast = (blocks - neighbours / 8).reshape(len(blocks), -1)
    return high_pass(contrast, 1 / fps)


def loudness(samples):
    hop = int(16000 * HOP_S)
    hops = len(samples) // hop
    power = np.log(np.mean(samples[:hops * hop].reshape(hops, hop) ** 2, axis=1) + 1e-12)
    floor = max(power.max() - 4 * np.log(10), -6.5 * np.log(10))
    return high_pass(np.maximum(power, floor), HOP_S)


def pooled_peak(fps, signals, envelope):
    """The pooled correlation's peak and its lag, as the estimator takes them."""
    frame_s = 1 / fps
    integral = np.concatenate([[0], np.cumsum(envelope)]) * HOP_S
    grid = np.arange(len(integral))
    lags = np.arange(-MAX_LAG_S, MAX_LAG_S + 1e-9, HOP_S)
    times = np.arange(len(signals)) * frame_s
    length_s = len(envelope) * HOP_S
    r = np.zeros((len(lags), signals.shape[1]))
    coverage = np.zeros(len(lags))
    for k, lag in enumerate(lags):
        start, end = times - frame_s / 2 + lag, times + frame_s / 2 + lag
        inside = (start >= 0) & (end <= length_s)
        if inside.sum() < 10:
            continue
        x = (np.interp(end[inside] / HOP_S, grid, integral) - np.interp(start[inside] / HOP_S, grid, integral))
        x, y = x - x.mean(), signals[inside] - signals[inside].mean(0)
        r[k] = (x @ y) / (np.sqrt((x ** 2).sum() * (y ** 2).sum(0)) + 1e-18)
        coverage[k] = inside.sum()
    r[coverage < 0.9 * coverage.max()] = 0
    strongest = np.abs(r).argmax(0)
    sign = np.sign(r[strongest, np.arange(r.shape[1])])
    region = np.argsort(-np.abs(r).max(0))[:REGION_BLOCKS]
    curve = (r[:, region] * sign[region]).mean(1)
    return curve.max(), lags[curve.argmax()]


def main():
    print("| clip | peak in step | its lag | rotated: mean peak | rotated: highest |")
    print("| --- | --- | --- | --- | --- |")
    for path in sys.argv[1:]:
        fps, frames, samples = decode(path)
        signals, envelope = block_signals(fps, frames), loudness(samples)
        peak, lag = pooled_peak(fps, signals, envelope)
        rotated = [pooled_peak(fps, signals, np.roll(envelope, int(s / HOP_S)))[0] for s in ROTATIONS_S]
        print(f"| {path.rsplit('/', 1)[-1]} | {peak:.3f} | {lag * 1000:+.0f} ms | {np.mean(rotated):.3f} | "
              f"{np.max(rotated):.3f} |", flush=True)


if __name__ == "__main__":
    main()
