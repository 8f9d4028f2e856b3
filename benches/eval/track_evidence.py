"""How much the features themselves tell the true place from the place warpflow tracked, span by
span of a harness case: the mean cosine distance of the live frames to the reference frames the
truth puts them at, and to those warpflow's causal track put them at, and their ratio (each raised
by the 0.01 floor `align::hypotheses` adds). A relocation needs that ratio at 0.75 or below for
long enough (`HypothesisConfig::max_cost_ratio`); a span whose ratio is near 1 holds no evidence
that the tracked place is wrong, whatever the tracker does.

Usage: python benches/eval/track_evidence.py CASE_DIR [SPAN_S ...]
(a case folder that `python benches/eval/run.py` has run: reference.f32, live.f32, truth.csv,
warpflow.csv, run.json; spans' edges in live seconds, default 0 3 8 15 25 35 45)
"""
import json
import os
import sys

import numpy as np

COST_FLOOR = 0.01


def unit_rows(frames):
    return frames / np.maximum(np.linalg.norm(frames, axis=1, keepdims=True), 1e-9)


def main():
    case = sys.argv[1]
    edges = [float(e) for e in sys.argv[2:]] or [0, 3, 8, 15, 25, 35, 45]
    run = json.load(open(os.path.join(case, "run.json")))
    dim, hop_s = run["dim"], run["hop_s"]
    reference = unit_rows(np.fromfile(os.path.join(case, "reference.f32"), dtype="<f4").reshape(-1, dim))
    live = unit_rows(np.fromfile(os.path.join(case, "live.f32"), dtype="<f4").reshape(-1, dim))
    truth = np.loadtxt(os.path.join(case, "truth.csv"), delimiter=",", skiprows=1, ndmin=2)
    track = np.loadtxt(os.path.join(case, "warpflow.csv"), delimiter=",", skiprows=1, ndmin=2)
    first_s = track[0, 0]
    live_s = first_s + np.arange(len(live)) * hop_s

    def reference_frames(ref_s):
        return np.clip(np.round((ref_s - first_s) / hop_s).astype(int), 0, len(reference) - 1)

    true_ref = reference_frames(np.interp(live_s, truth[:, 0], truth[:, 1]))
    # The causal track: the last position given at or before each live frame.
    at = np.clip(np.searchsorted(track[:, 0], live_s + 1e-9, side="right") - 1, 0, len(track) - 1)
    tracked_ref = reference_frames(track[at, 1])
    print(f"{case}: live frames against the true place and the tracked one")
    print("| live s | frames | truth's mean distance | track's | ratio | track within 1 s of the truth |")
    print("| --- | --- | --- | --- | --- | --- |")
    for start, end in zip(edges, edges[1:]):
        frames = np.nonzero((live_s >= start) & (live_s < end) & (live_s >= truth[0, 0]) & (live_s <= truth[-1, 0]))[0]
        if len(frames) == 0:
            continue
        true_cost = float(np.mean(1 - np.sum(live[frames] * reference[true_ref[frames]], axis=1)))
        tracked_cost = float(np.mean(1 - np.sum(live[frames] * reference[tracked_ref[frames]], axis=1)))
        near = np.mean(np.abs(tracked_ref[frames] - true_ref[frames]) * hop_s <= 1.0)
        ratio = (true_cost + COST_FLOOR) / (tracked_cost + COST_FLOOR)
        print(f"| {start:g}–{end:g} | {len(frames)} | {true_cost:.3f} | {tracked_cost:.3f} | {ratio:.2f} | {near:.0%} |")


if __name__ == "__main__":
    main()
