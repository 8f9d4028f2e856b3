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

Run with: ./scripts/eval.sh [FEATURES] [FOLLOW OPTIONS]   (it installs what this needs, builds
the cases and calls this script: `python benches/eval/run.py CASES_DIR [FEATURES] [OPTIONS...]`)
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


KINDS = ["tempo", "performance", "jump", "repeat", "late", "real", "real held-out", "real room", "real late",
         "real late held-out", "real late check", "real late held-out sweep", "real jump", "real tempo", "real steady"]
# A join placed within this long counts as placed at once (issue: a late join placed within 5 s).
PLACED_WITHIN_S = 5.0
CONFIDENCE_BINS = np.linspace(0.0, 1.0, 11)


def read_track(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return data[:, 0], data[:, 1]


def read_steps(path):
    """warpflow's provisional track: live s, reference s, confidence, tempo per live frame."""
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return data[:, 0], data[:, 1], data[:, 2], data[:, 3]


def causal_values(truth, live, values):
    """The value a method had given at each truth event's live time (nan before any)."""
    at = np.searchsorted(live, truth[:, 0] + 1e-9, side="right") - 1
    out = np.full(len(truth), np.nan)
    out[at >= 0] = values[at[at >= 0]]
    return out


def tempo_spread(live, tempo, window_s=10.0):
    """Standard deviation of the tempo over each 10 s of a performance, relative to its mean there."""
    spreads = []
    for start in np.arange(live[0], live[-1] - window_s, window_s):
        inside = tempo[(live >= start) & (live < start + window_s)]
        if len(inside) and np.mean(inside) > 0:
            spreads.append(float(np.std(inside) / np.mean(inside)))
    return spreads


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
    """For each jump: live seconds from it until the next three events are within 300 ms (inf if
    never before the next jump)."""
    steps = np.diff(truth[:, 1]) - np.diff(truth[:, 0])
    firsts = list(np.nonzero(np.abs(steps) > 2.0)[0] + 1)
    seconds = []
    for first, limit in zip(firsts, firsts[1:] + [len(truth)]):
        back = [truth[k, 0] - truth[first, 0] for k in range(first, limit - 2) if np.all(errors[k:k + 3] <= 0.3)]
        seconds.append(back[0] if back else float("inf"))
    return seconds


def placed_s(truth, errors):
    """For a stream joined late: live seconds from its first event until the next three are within
    300 ms (inf if never)."""
    placed = [truth[k, 0] - truth[0, 0] for k in range(len(truth) - 2) if np.all(errors[k:k + 3] <= 0.3)]
    return [placed[0] if placed else float("inf")]


def median_s(seconds):
    """The median of `seconds` as the late-join table writes it ("never" where it is infinite)."""
    median = float(np.median(seconds))
    return "never" if median == float("inf") else f"{median:.1f} s"


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
    options = sys.argv[2:]
    subprocess.run(["cargo", "run", "--quiet", "--release", "--example", "eval", "--", cases_dir, *options],
                   cwd=REPO, check=True)
    methods = ["warpflow", "warpflow final", "matchmaker", "offline DTW"]
    pooled = {}  # (kind, method) -> list of error arrays
    relocations = {}  # (kind, method) -> list of seconds
    timings = {"warpflow": [], "matchmaker": []}
    final_lags = []
    negatives = {}  # case -> confidences of every position
    reliability = []  # (confidence at an event, within 50 ms) over every case with truth
    real_runs = []  # (case, kind, relocations, tempo spreads)
    for case in sorted(os.listdir(cases_dir)):
        folder = os.path.join(cases_dir, case)
        if not os.path.exists(os.path.join(folder, "run.json")):
            continue
        kind = json.load(open(os.path.join(folder, "case.json")))["kind"]
        run = json.load(open(os.path.join(folder, "run.json")))
        steps = read_steps(os.path.join(folder, "warpflow.csv"))
        if kind == "negative":
            negatives[case] = steps[2]
            continue
        truth = np.loadtxt(os.path.join(folder, "truth.csv"), delimiter=",", skiprows=1, ndmin=2)
        first_frame_s = (run["window_s"] - 1.0 / 22050) / 2.0
        mm_track, mm_timing = matchmaker_track(folder, run["dim"], run["hop_s"], first_frame_s)
        tracks = {
            "warpflow": steps[:2],
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
            if kind in ("jump", "repeat", "real jump"):
                relocations.setdefault((kind, method), []).extend(relocation_s(truth, errors))
            if "late" in kind.split():
                relocations.setdefault((kind, method), []).extend(placed_s(truth, errors))
            if method == "warpflow":
                confidence = causal_values(truth, steps[0], steps[2])
                given = ~np.isnan(confidence)
                reliability += list(zip(confidence[given], errors[given] <= 0.05))
        if kind.startswith("real"):
            real_runs.append((case, kind, len(run["relocations"]), tempo_spread(steps[0], steps[3])))

    described = " ".join(options) or "follow's defaults"
    print(f"options: {described}; cases in {cases_dir}")
    print()
    print("| cases | method | events | ≤ 25 ms | ≤ 50 ms | ≤ 100 ms | ≤ 300 ms | median error | miss rate |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for kind in KINDS:
        for method in methods:
            if (kind, method) not in pooled:
                continue
            errors = np.concatenate(pooled[(kind, method)])
            shares = [100.0 * float(np.mean(errors <= t)) for t in THRESHOLDS_S]
            median = float(np.median(errors))
            print(f"| {kind} | {method} | {len(errors)} | " + " | ".join(f"{s:.1f}%" for s in shares)
                  + f" | {1e3 * median:.0f} ms | {100.0 - shares[-1]:.1f}% |")
    print()
    print("| cases | method | within 300 ms after the jump or the late join (live s, per case) |")
    print("| --- | --- | --- |")
    for (kind, method), seconds in sorted(relocations.items()):
        listed = ", ".join("never" if s == float("inf") else f"{s:.1f}" for s in seconds)
        if "late" in kind.split() and len(seconds) > 3:
            soon = sum(s <= PLACED_WITHIN_S for s in seconds)
            listed = (f"{soon} of {len(seconds)} within {PLACED_WITHIN_S:.0f} s, "
                      f"{sum(s == float('inf') for s in seconds)} never, median {median_s(seconds)}: {listed}")
        print(f"| {kind} | {method} | {listed} |")
    print()
    print("| real case | relocations | tempo spread over 10 s (median, worst) |")
    print("| --- | --- | --- |")
    for case, kind, count, spreads in real_runs:
        spread = f"{100 * np.median(spreads):.1f}%, {100 * max(spreads):.1f}%" if spreads else ""
        print(f"| {case} ({kind}) | {count} | {spread} |")
    print()
    print("| negative control (not the reference) | positions | confidence ≥ 0.5 | mean confidence |")
    print("| --- | --- | --- | --- |")
    for case, confidence in negatives.items():
        print(f"| {case} | {len(confidence)} | {100 * np.mean(confidence >= 0.5):.1f}% | {np.mean(confidence):.2f} |")
    print()
    print("Reliability of warpflow's confidence (every event of every case with truth):")
    print()
    print("| confidence | events | within 50 ms |")
    print("| --- | --- | --- |")
    if reliability:
        confidence, hit = (np.array(v) for v in zip(*reliability))
        bins = np.clip(np.digitize(confidence, CONFIDENCE_BINS) - 1, 0, len(CONFIDENCE_BINS) - 2)
        for b in range(len(CONFIDENCE_BINS) - 1):
            inside = bins == b
            if np.any(inside):
                print(f"| {CONFIDENCE_BINS[b]:.1f}–{CONFIDENCE_BINS[b + 1]:.1f} | {int(np.sum(inside))} "
                      f"| {100 * np.mean(hit[inside]):.1f}% |")
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
