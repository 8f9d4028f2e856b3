"""Clips with a known A/V offset for `sync --face-model` and `--sync-model`.

Usage: python make_sync_media.py OUT_DIR SHIFT_MS
Writes, 20 s at 30 fps, with audio SHIFT_MS later than the picture (earlier when negative):
- level_picture.mp4: 128x96, the whole picture's brightness follows a loudness-like level in
  [0, 1] (with a little texture), the audio is noise whose log power is 10 level - 12 (what
  make_models.py's sync_pair.pt reads as the same angle);
- patch_picture.mp4: 128x96 RGB on a textured background, a "mouth" patch (in the box of
  make_models.py's face_box.pt) darkens with the level; a larger patch at the top left darkens
  with the level 300 ms ahead of it, more strongly; the same audio.
"""
import os
import subprocess
import sys

import numpy as np

FPS, RATE, SECONDS, W, H = 30, 16000, 20, 128, 96


def level(t):
    """Syllable-like bursts in [0, 1]."""
    rng = np.random.default_rng(7)
    starts = np.cumsum(rng.uniform(0.15, 0.45, 200))
    lengths = rng.uniform(0.08, 0.3, 200)
    strengths = rng.uniform(0.4, 1.0, 200)
    out = np.zeros_like(t)
    for s, l, a in zip(starts, lengths, strengths):
        inside = (t >= s) & (t < s + l)
        out[inside] = np.maximum(out[inside], a * np.sin(np.pi * (t[inside] - s) / l))
    return out


def encode(path, frames, audio, colour):
    raw = path + ".rgb"
    frames.astype(np.uint8).tofile(raw)
    pcm = path + ".f32"
    audio.astype(np.float32).tofile(pcm)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24" if colour else "gray",
                    "-s", f"{W}x{H}", "-r", str(FPS), "-i", raw, "-f", "f32le", "-ar", str(RATE), "-ac", "1",
                    "-i", pcm, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", "-c:a", "aac", "-b:a", "128k",
                    path], check=True)
    os.remove(raw)
    os.remove(pcm)


def main():
    out, shift_ms = sys.argv[1], float(sys.argv[2])
    rng = np.random.default_rng(3)
    frame_t = np.arange(SECONDS * FPS) / FPS
    sample_t = np.arange(SECONDS * RATE) / RATE
    # The audio at t carries the level the picture showed at t - shift.
    audio_level = level(sample_t - shift_ms / 1000)
    audio = rng.normal(0, 1, len(sample_t)) * np.exp((10 * audio_level - 12) / 2)

    picture_level = level(frame_t)
    texture = rng.normal(0, 4, (H, W))
    grey = 16 + 200 * picture_level[:, None, None] + texture[None] + rng.normal(0, 1, (len(frame_t), H, W))
    encode(os.path.join(out, "level_picture.mp4"), np.clip(grey, 0, 255), audio, False)

    background = np.clip(120 + rng.normal(0, 25, (H, W, 3)), 0, 255)
    frames = np.repeat(background[None], len(frame_t), 0)
    mouth = (slice(int(0.5 * H), int(0.75 * H)), slice(int(0.4375 * W), int(0.625 * W)))
    lure = (slice(0, int(0.25 * H)), slice(0, int(0.25 * W)))
    ahead = level(frame_t + 0.3)
    frames[:, mouth[0], mouth[1]] = (200 - 120 * picture_level)[:, None, None, None]
    frames[:, lure[0], lure[1]] = (230 - 200 * ahead)[:, None, None, None]
    frames += rng.normal(0, 1.5, frames.shape)
    encode(os.path.join(out, "patch_picture.mp4"), np.clip(frames, 0, 255), audio, True)


if __name__ == "__main__":
    main()
