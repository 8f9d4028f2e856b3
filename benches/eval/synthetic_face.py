"""A synthetic talking face for `sync`'s accuracy harness: a drawn face whose mouth opens with the
loudness of a real speech recording, so that the truth of its A/V sync is known.

The mouth follows the loudness (dB above 35 dB below the loudest 2%, over 30 dB) through a 30 ms
smoothing, as a jaw does; the head sways slowly, the eyes blink at random, and sensor noise
covers the picture. The picture is encoded with H.264 and the speech with AAC.

    python synthetic_face.py SPEECH OUT.mp4 [--start S] [--seconds S] [--seed N]
        [--shift-ms MS]   the audio MS later than the mouth (earlier when negative)
        [--mouth-from S]  the mouth follows the speech from S instead (a mismatched control)
"""
import argparse
import os
import subprocess
import tempfile

import numpy as np

RATE_HZ = 16000
JAW_S = 0.03


def read_speech(path, start_s, seconds):
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", str(start_s), "-t", str(seconds), "-i", path,
         "-ac", "1", "-ar", str(RATE_HZ), "-f", "f32le", "-"],
        capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.float32)


def mouth_opening(samples, fps, frames):
    """How open the mouth is (0–1) at each frame, from the loudness of `samples`."""
    hop = RATE_HZ // 200
    n = len(samples) // hop
    level_db = 10 * np.log10((samples[: n * hop].reshape(n, hop) ** 2).mean(1) + 1e-10)
    target = np.clip((level_db - (np.percentile(level_db, 98) - 35)) / 30, 0, 1)
    opening, state, alpha = np.zeros_like(target), 0.0, 1 - np.exp(-0.005 / JAW_S)
    for i, value in enumerate(target):
        state += (value - state) * alpha
        opening[i] = state
    return np.interp(np.arange(frames) / fps, (np.arange(n) + 0.5) * 0.005, opening, left=0, right=0)


def slow_wander(rng, n, amplitude, frames_per_turn):
    walk = np.cumsum(rng.normal(0, 1, n))
    walk -= np.convolve(walk, np.ones(60) / 60, "same")
    kernel = np.exp(-np.arange(frames_per_turn * 4) / frames_per_turn)
    smooth = np.convolve(walk, kernel / kernel.sum(), "same")
    return smooth / (np.abs(smooth).max() + 1e-9) * amplitude


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("speech")
    parser.add_argument("out")
    parser.add_argument("--start", type=float, default=0.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--shift-ms", type=float, default=0.0)
    parser.add_argument("--mouth-from", type=float)
    args = parser.parse_args()
    width, height, fps = 640, 480, args.fps
    frames = int(args.seconds * fps)
    rng = np.random.default_rng(args.seed)
    speech = read_speech(args.speech, args.start, args.seconds)
    mouth_speech = speech if args.mouth_from is None else read_speech(args.speech, args.mouth_from, args.seconds)
    opening = mouth_opening(mouth_speech, fps, frames)
    # The audio track is the speech moved by the shift: padded with silence, or cut at the start.
    shift = int(round(args.shift_ms / 1000 * RATE_HZ))
    audio = np.concatenate([np.zeros(shift, np.float32), speech]) if shift >= 0 else speech[-shift:]

    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    tiles = rng.normal(0, 1, (height // 8 + 1, width // 8 + 1, 3))
    background = np.kron(tiles, np.ones((8, 8, 1)))[:height, :width] * 18 + np.array([120, 110, 95])
    sway_x = slow_wander(rng, frames, 0.03 * width, 20)
    sway_y = slow_wander(rng, frames, 0.02 * height, 25)
    blinks, t = set(), rng.uniform(1, 4)
    while t < args.seconds:
        blinks.update(range(int(t * fps), int(t * fps) + 4))
        t += rng.uniform(2, 6)

    with tempfile.TemporaryDirectory() as tmp:
        track = os.path.join(tmp, "speech.f32")
        audio.astype(np.float32).tofile(track)
        encoder = subprocess.Popen(
            ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
             "-r", str(fps), "-i", "-", "-f", "f32le", "-ar", str(RATE_HZ), "-ac", "1", "-i", track,
             "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "23", "-c:a", "aac", args.out],
            stdin=subprocess.PIPE)
        for f in range(frames):
            cx, cy = width / 2 + sway_x[f], height / 2 + sway_y[f]
            picture = background.copy()
            picture[((xx - cx) / (0.17 * width)) ** 2 + ((yy - cy) / (0.3 * height)) ** 2 < 1] = [205, 160, 135]
            for ex in (-0.065, 0.065):
                eye_h = 0.004 if f in blinks else 0.022
                eye = ((xx - cx - ex * width) / (0.03 * width)) ** 2 + ((yy - cy + 0.08 * height) / (eye_h * height)) ** 2 < 1
                picture[eye] = [40, 30, 30]
            mouth_h = 0.006 + 0.07 * opening[f]
            mouth_y = cy + 0.15 * height
            lips = ((xx - cx) / (0.075 * width)) ** 2 + ((yy - mouth_y) / ((mouth_h + 0.012) * height)) ** 2 < 1
            picture[lips] = [170, 70, 70]
            mouth = ((xx - cx) / (0.065 * width)) ** 2 + ((yy - mouth_y) / (mouth_h * height)) ** 2 < 1
            picture[mouth] = [50, 20, 20]
            if opening[f] > 0.4:
                picture[mouth & (yy < mouth_y - mouth_h * height * 0.4)] = [225, 225, 215]
            picture += rng.normal(0, 2.0, picture.shape)
            encoder.stdin.write(np.clip(picture, 0, 255).astype(np.uint8).tobytes())
        encoder.stdin.close()
        if encoder.wait() != 0:
            raise SystemExit(f"ffmpeg could not encode {args.out}")


if __name__ == "__main__":
    main()
