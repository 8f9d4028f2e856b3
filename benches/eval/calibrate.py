"""Fits the calibration of warpflow's position confidence (src/align/position_confidence.rs).

The confidence is to be the probability that a position lies within 50 ms of the truth. From a
run of the accuracy harness (`benches/eval/run.py`, whose `warpflow.csv` tracks carry each
position's evidence: the tracker's margin and the distance ratio), this takes one sample per
truth event (the position given at the event's live time, and whether it was within 50 ms) and,
from the negative controls (a live stream that is not the reference: no position is right), one
sample every half second. It fits a logistic regression of the outcome on the margin and the
logarithm of the distance ratio, each case weighing the same whatever its length, the held-out
song's cases (every kind with `held-out` in its name) left out, and prints the weights and a reliability table on the cases fitted and on
the held-out ones.

Run with: python benches/eval/calibrate.py CASES_DIR   (after ./scripts/eval.sh or run.py)
"""

import json
import os
import sys

import numpy as np

HELD_OUT = "held-out"  # in a kind's name: the held-out song's cases, none fitted
WITHIN_S = 0.05
NEGATIVE_EVERY_FRAMES = 25


def samples(folder, kind):
    """(margin, ln distance ratio, within 50 ms) for the case in `folder`."""
    data = np.loadtxt(os.path.join(folder, "warpflow.csv"), delimiter=",", skiprows=1, ndmin=2)
    live, ref, margin, ratio = data[:, 0], data[:, 1], data[:, 4], data[:, 5]
    started = ~np.isnan(margin)
    if kind == "negative":
        rows = np.nonzero(started)[0][::NEGATIVE_EVERY_FRAMES]
        return margin[rows], np.log(np.maximum(ratio[rows], 1e-3)), np.zeros(len(rows))
    truth = np.loadtxt(os.path.join(folder, "truth.csv"), delimiter=",", skiprows=1, ndmin=2)
    at = np.searchsorted(live, truth[:, 0] + 1e-9, side="right") - 1
    keep = (at >= 0) & started[np.maximum(at, 0)]
    rows = at[keep]
    hit = np.abs(ref[rows] - truth[keep, 1]) <= WITHIN_S
    return margin[rows], np.log(np.maximum(ratio[rows], 1e-3)), hit.astype(float)


def fit(x, y, weight, l2=1e-3):
    """Weighted logistic regression by Newton's method: the weights of [1, x...]."""
    design = np.column_stack([np.ones(len(x)), x])
    beta = np.zeros(design.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-design @ beta))
        gradient = design.T @ (weight * (y - p)) - l2 * beta
        hessian = design.T @ (design * (weight * p * (1 - p))[:, None]) + l2 * np.eye(len(beta))
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if np.max(np.abs(step)) < 1e-9:
            break
    return beta


def reliability(label, probability, hit):
    print(f"\n{label}: {len(hit)} samples\n")
    print("| confidence | samples | within 50 ms |")
    print("| --- | --- | --- |")
    edges = np.linspace(0, 1, 11)
    bins = np.clip(np.digitize(probability, edges) - 1, 0, 9)
    for b in range(10):
        inside = bins == b
        if np.any(inside):
            print(f"| {edges[b]:.1f}–{edges[b + 1]:.1f} | {int(np.sum(inside))} | {100 * np.mean(hit[inside]):.1f}% |")


def main():
    cases = sys.argv[1]
    fitted, held_out = [], []
    for case in sorted(os.listdir(cases)):
        folder = os.path.join(cases, case)
        if not os.path.exists(os.path.join(folder, "warpflow.csv")):
            continue
        kind = json.load(open(os.path.join(folder, "case.json")))["kind"]
        margin, log_ratio, hit = samples(folder, kind)
        if len(hit) == 0:
            continue
        (held_out if HELD_OUT in kind.split() else fitted).append((margin, log_ratio, hit))

    def stack(groups):
        x = np.concatenate([np.column_stack([m, r]) for m, r, _ in groups])
        y = np.concatenate([h for _, _, h in groups])
        w = np.concatenate([np.full(len(h), 1.0 / len(h)) for _, _, h in groups])
        return x, y, w / np.mean(w)

    x, y, w = stack(fitted)
    beta = fit(x, y, w)
    print(f"INTERCEPT = {beta[0]:.3f}, MARGIN_WEIGHT = {beta[1]:.3f}, DISTANCE_WEIGHT = {beta[2]:.3f}")

    def probability(x):
        return 1.0 / (1.0 + np.exp(-(beta[0] + x @ beta[1:])))

    reliability("cases fitted", probability(x), y)
    if held_out:
        hx, hy, _ = stack(held_out)
        reliability("held-out song's cases (not fitted)", probability(hx), hy)


if __name__ == "__main__":
    main()
