"""matchmaker's online aligner (CPJKU's OnlineTimeWarpingArztFrame), run frame by frame the way
warpflow's benchmarks and accuracy harness compare against it."""

import time

import numpy as np


def follow(reference, live, frame_rate, window_frames, distance, first_frame_s=0.0):
    """Feeds `live` frames to matchmaker's aligner over `reference` (arrays of frames); returns
    each frame's reference time (s) and step time (µs)."""
    from matchmaker.dp.oltw_arzt import OnlineTimeWarpingArztFrame

    positions = (first_frame_s + np.arange(len(reference)) / frame_rate).astype(np.float32)
    aligner = OnlineTimeWarpingArztFrame(
        reference_features=reference,
        score_positions=positions,
        ref_frame_to_beat=positions,
        window_size=window_frames // frame_rate,
        frame_rate=frame_rate,
        distance_func=distance,
    )
    refs, steps_us = [], []
    for frame in live:
        started = time.perf_counter()
        aligner.step(frame[None, :])
        steps_us.append((time.perf_counter() - started) * 1e6)
        refs.append(first_frame_s + aligner.window_index / frame_rate)
    return np.array(refs), steps_us
