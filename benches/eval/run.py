"""warpflow's accuracy harness: scores online alignment against ground truth, side by side with
matchmaker's online aligner (CPJKU) and offline full DTW on the same feature arrays.

Steps: build the cases (benches/eval/cases.py) if missing; run `examples/eval.rs`, which
encodes each case with `follow`'s features and writes warpflow's per-frame tracks and the
feature arrays; run matchmaker's OnlineTimeWarpingArztFrame on those arrays (same features, same
cosine distance, the same 10 s window); score every track against the truth.

Scoring uses the causal rule: for each reference event (a note onset or a word), the position a
method had given at the event's live time is the last one at or before it. Reported per case
kind: % of events within 25/50/100/300 ms, median error, miss rate (events more than 300 ms off
or before any position), and for jumps and repeats the live time from the jump until positions
are back within 300 ms.

Run with: ./scripts/eval.sh [FEATURES [FOLLOW OPTIONS]]   (it installs what this needs, builds
the cases and calls this script: `python benches/eval/run.py CASES_DIR FEATURES OPTIONS...`)
"""

import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import matchmaker_runner  # noqa: E402  (benches/, beside this folder)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
THRESHOLDS_S = (0.025, 0.05, 0.1, 0.3)
WINDOW_FRAMES = 500


def read_track(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return data[:, 0], data[:, 1]


def causal_errors(truth, track):
    """Error (s) of each truth event under the causal rule; inf where nothing was given yet."""
    live, ref = track
    order = np.argsort(live, kind="stable")
    live, ref = live[order], ref[order]
    at = np.searchsorted(live, truth[:, 0] + 1e-9, side="right") - 1
    errors = np.full(len(truth), np.inf)
    given = at >= 0
    errors[given] = np.abs(ref[at[given]] - truth[given, 1])
    return errors


def relocation_s(truth, errors):
    """Live seconds from the jump until the next three events are within 300 ms, or inf."""
    steps = np.diff(truth[:, 1]) - np.diff(truth[:, 0])
    jumps = np.nonzero(np.abs(steps) > 2.0)[0]
    if len(jumps) == 0:
        return None
    first = jumps[0] + 1
    for k in range(first, len(truth) - 2):
        if np.all(errors[k:k + 3] <= 0.3):
            return truth[k, 0] - truth[first, 0]
    return float("inf")


def matchmaker_track(folder, dim, hop_s, first_frame_s):
    reference = np.fromfile(os.path.join(folder, "reference.f32"), dtype="<f4").reshape(-1, dim)
    live = np.fromfile(os.path.join(folder, "live.f32"), dtype="<f4").reshape(-1, dim)
    frame_rate = round(1.0 / hop_s)
    refs, steps = matchmaker_runner.follow(reference, live, frame_rate, WINDOW_FRAMES, "Cosine", first_frame_s)
    live_s = first_frame_s + np.arange(len(live)) * hop_s
    steps.sort()
    timing = {"step_mean_us": float(np.mean(steps)), "step_p99_us": steps[len(steps) * 99 // 100],
              "real_time_factor": 1e-6 * float(np.sum(steps)) / max(1e-9, len(live) * hop_s)}
    return (live_s, refs), timing


def main():
    cases_dir = sys.argv[1]
    features = sys.argv[2] if len(sys.argv) > 2 else "logmel-flux"
    follow_options = sys.argv[3:]
    subprocess.run(["cargo", "run", "--quiet", "--release", "--example", "eval", "--", cases_dir, features,
                    *follow_options], cwd=REPO, check=True)
    methods = ["warpflow", "warpflow final", "matchmaker", "offline DTW"]
    pooled = {}  # (kind, method) -> list of error arrays
    relocations = {}  # (kind, method) -> list of seconds
    timings = {"warpflow": [], "matchmaker": []}
    final_lags = []
    for case in sorted(os.listdir(cases_dir)):
        folder = os.path.join(cases_dir, case)
        if not os.path.exists(os.path.join(folder, "run.json")):
            continue
        kind = json.load(open(os.path.join(folder, "case.json")))["kind"]
        run = json.load(open(os.path.join(folder, "run.json")))
        truth = np.loadtxt(os.path.join(folder, "truth.csv"), delimiter=",", skiprows=1, ndmin=2)
        first_frame_s = (run["window_s"] - 1.0 / 22050) / 2.0
        mm_track, mm_timing = matchmaker_track(folder, run["dim"], run["hop_s"], first_frame_s)
        tracks = {
            "warpflow": read_track(os.path.join(folder, "warpflow.csv")),
            "warpflow final": read_track(os.path.join(folder, "warpflow_final.csv")),
            "matchmaker": mm_track,
            "offline DTW": read_track(os.path.join(folder, "offline_dtw.csv")),
        }
        timings["warpflow"].append(run)
        timings["matchmaker"].append(mm_timing)
        final_lags.append(run["final_lag_median_s"])
        for method, track in tracks.items():
            errors = causal_errors(truth, track)
            pooled.setdefault((kind, method), []).append(errors)
            if kind in ("jump", "repeat"):
                relocations.setdefault((kind, method), []).append(relocation_s(truth, errors))

    print(f"features: {features}; follow options: {' '.join(follow_options) or 'defaults'}; cases in {cases_dir}")
    print()
    print("| cases | method | events | ≤ 25 ms | ≤ 50 ms | ≤ 100 ms | ≤ 300 ms | median error | miss rate |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for kind in ["tempo", "performance", "jump", "repeat"]:
        for method in methods:
            if (kind, method) not in pooled:
                continue
            errors = np.concatenate(pooled[(kind, method)])
            shares = [100.0 * float(np.mean(errors <= t)) for t in THRESHOLDS_S]
            median = float(np.median(errors))
            print(f"| {kind} | {method} | {len(errors)} | " + " | ".join(f"{s:.1f}%" for s in shares)
                  + f" | {1e3 * median:.0f} ms | {100.0 - shares[-1]:.1f}% |")
    print()
    print("| cases | method | back within 300 ms after the jump (live s, per case) |")
    print("| --- | --- | --- |")
    for (kind, method), seconds in sorted(relocations.items()):
        print(f"| {kind} | {method} | " + ", ".join("never" if s == float("inf") else f"{s:.1f}" for s in seconds) + " |")
    print()
    w, m = timings["warpflow"], timings["matchmaker"]
    window_s = w[0]["window_s"]
    search = w[0].get("relocation_search")
    relocation = ("no relocation search" if search is None else
                  f"the relocation search scans the whole reference for the last {search['query_frames']} frames, "
                  f"pooled by {search['pooled_frames']}, at {search['cells_per_frame']} cells per live frame")
    print(f"feature dimension {w[0]['dim']}, {1e3 * w[0]['hop_s']:.0f} ms hop; {relocation}")
    print()
    print("| method | decision latency | step mean | step p99 (worst case) | real-time factor |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| warpflow tracker | {1e3 * window_s / 2:.0f} ms of window + {np.mean([r['tracker_step_mean_us'] for r in w]):.1f} µs "
          f"| {np.mean([r['tracker_step_mean_us'] for r in w]):.1f} µs | {max(r['tracker_step_p99_us'] for r in w):.1f} µs | |")
    print(f"| warpflow with relocation | {1e3 * window_s / 2:.0f} ms of window + {np.mean([r['step_mean_us'] for r in w]):.1f} µs "
          f"| {np.mean([r['step_mean_us'] for r in w]):.1f} µs | {max(r['step_p99_us'] for r in w):.1f} µs "
          f"| {np.mean([r['real_time_factor'] for r in w]):.5f} |")
    print(f"| warpflow final | {np.median(final_lags):.1f} s (median lag behind the live edge) | | | |")
    print(f"| matchmaker | {1e3 * window_s / 2:.0f} ms of window + {np.mean([r['step_mean_us'] for r in m]):.1f} µs "
          f"| {np.mean([r['step_mean_us'] for r in m]):.1f} µs | {max(r['step_p99_us'] for r in m):.1f} µs "
          f"| {np.mean([r['real_time_factor'] for r in m]):.5f} |")
    print("| offline DTW | the whole recording | | | |")


if __name__ == "__main__":
    sys.exit(main())
