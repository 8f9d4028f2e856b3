"""Side-by-side comparison of warpflow's aligners with the DTW libraries a user would otherwise
pick, on the same feature arrays in one run: dtaidistance (C), librosa's DTW, and matchmaker's
online aligner (CPJKU). Prints a table with ratios.

Run with: ./scripts/peers.sh && python benches/peers.py   (the venv's python; see scripts/env.sh)
All measurements run on one core, one after the other.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import matchmaker_runner

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Dixon's setting: a 20 ms hop, a band of 500 frames.
FRAME_RATE = 50
BAND = 500


def seconds_per_call(fn, min_total_s=0.5):
    runs, started = 0, time.perf_counter()
    while runs == 0 or time.perf_counter() - started < min_total_s:
        fn()
        runs += 1
    return (time.perf_counter() - started) / runs


def warpflow(ref_path, live_path, dim, kernels=None):
    """Runs examples/peer_bench; `kernels="portable"` forces the portable kernels."""
    env = dict(os.environ)
    if kernels:
        env["WARPFLOW_KERNELS"] = kernels
    out = subprocess.run(
        ["cargo", "run", "--quiet", "--release", "--example", "peer_bench", "--", ref_path, live_path, str(dim), str(BAND)],
        cwd=REPO, check=True, capture_output=True, text=True, env=env,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def matchmaker_step_us(reference, live):
    _, steps = matchmaker_runner.follow(reference, live, FRAME_RATE, BAND, "Euclidean")
    steps.sort()
    return sum(steps) / len(steps), steps[len(steps) * 99 // 100]


def main():
    import librosa
    from dtaidistance import dtw_ndim

    rng = np.random.default_rng(7)
    rows = []
    for dim, ref_len, live_len in [(12, 2000, 2000), (128, 2000, 2000)]:
        reference = rng.random((ref_len, dim), dtype=np.float32)
        live = rng.random((live_len, dim), dtype=np.float32)
        with tempfile.TemporaryDirectory() as tmp:
            ref_path, live_path = os.path.join(tmp, "ref.f32"), os.path.join(tmp, "live.f32")
            reference.astype("<f4").tofile(ref_path)
            live.astype("<f4").tofile(live_path)
            ours = warpflow(ref_path, live_path, dim)
            portable = warpflow(ref_path, live_path, dim, kernels="portable")
        cells = ref_len * live_len
        ref64, live64 = reference.astype(np.float64), live.astype(np.float64)
        dtai_s = seconds_per_call(lambda: dtw_ndim.distance_fast(ref64, live64, use_pruning=False))
        librosa_s = seconds_per_call(lambda: librosa.sequence.dtw(X=live.T, Y=reference.T, metric="euclidean"))
        mm_mean, mm_p99 = matchmaker_step_us(reference, live)
        rows.append((dim, cells, ours, portable, cells / dtai_s, cells / librosa_s, mm_mean, mm_p99))

    print(f"warpflow kernels: {rows[0][2]['kernels']} (and portable, forced, for comparison)")
    print()
    print("| d | warpflow full DTW | warpflow portable | dtaidistance (C) | librosa | ratio vs dtaidistance | ratio vs librosa |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for dim, cells, ours, portable, dtai, lib, _, _ in rows:
        w, p = ours["dtw_cells_per_s"], portable["dtw_cells_per_s"]
        print(f"| {dim} | {w / 1e6:.1f} M cells/s | {p / 1e6:.1f} M cells/s | {dtai / 1e6:.1f} M cells/s | {lib / 1e6:.1f} M cells/s | {w / dtai:.2f}x | {w / lib:.2f}x |")
    print()
    print(f"| d | warpflow OLTW step (band {BAND}) mean / p99 | portable mean / p99 | matchmaker OLTW step mean / p99 | ratio (mean) |")
    print("| --- | --- | --- | --- | --- |")
    for dim, _, ours, portable, _, _, mm_mean, mm_p99 in rows:
        print(f"| {dim} | {ours['oltw_mean_us']:.1f} / {ours['oltw_p99_us']:.1f} µs | {portable['oltw_mean_us']:.1f} / {portable['oltw_p99_us']:.1f} µs | {mm_mean:.1f} / {mm_p99:.1f} µs | {mm_mean / ours['oltw_mean_us']:.1f}x |")


if __name__ == "__main__":
    sys.exit(main())
