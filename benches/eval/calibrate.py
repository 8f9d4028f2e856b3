"""Fits the calibration of warpflow's position confidence (src/align/position_confidence.rs).

The confidence is to be the probability that a position lies within 50 ms of the truth. From a
run of the accuracy harness (`benches/eval/run.py`, whose `warpflow.csv` tracks carry each
position's evidence: the tracker's margin and the distance ratio), this takes one sample per
truth event (the position given at the event's live time, and whether it was within 50 ms) and,
from the negative controls (a live stream that is not the reference: no position is right), one
sample every half second. It fits a logistic regression of the outcome on the margin and the
logarithm of the distance ratio, each case weighing the same whatever its length, the held-out
song's cases (every kind with `held-out` in its name) left out; or takes the weights given. A
logistic function has one slope, and the harness's outcomes do not rise along it evenly, so the
logistic's score then goes through a table: the share within 50 ms at evenly spaced scores, by
isotonic regression on the same samples, kept below 0.5 where the score is below it and at 0.5
or more where it is not (what reads 0.5 or more, and so the negative controls' share of it and
the follower's confirmation of its place, stays the logistic's). It prints the weights, the
table, and reliability tables on the cases fitted and on the held-out ones.

Run with: python benches/eval/calibrate.py CASES_DIR [INTERCEPT MARGIN_WEIGHT DISTANCE_WEIGHT]
(after ./scripts/eval.sh or run.py)
"""

import json
import os
import sys

import numpy as np

HELD_OUT = "held-out"  # in a kind's name: the held-out song's cases, none fitted
WITHIN_S = 0.05
NEGATIVE_EVERY_FRAMES = 25
# The calibration table's knots, evenly spaced over the logistic's scores from 0 to 1 (an odd
# count: one falls at 0.5).
TABLE_KNOTS = 21
# The most a knot below a score of 0.5 may read: under 0.5, so that between it and the knot at
# 0.5 the table stays below 0.5 too.
BELOW_HALF = 0.49


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
    gap = 0.0
    for b in range(10):
        inside = bins == b
        if np.any(inside):
            print(f"| {edges[b]:.1f}–{edges[b + 1]:.1f} | {int(np.sum(inside))} | {100 * np.mean(hit[inside]):.1f}% |")
            gap += abs(np.mean(probability[inside]) - np.mean(hit[inside])) * np.sum(inside)
    print(f"\nmean gap between a bin's confidence and its share within 50 ms: {gap / len(hit):.3f}")


def isotonic(x, y, w):
    """Weighted isotonic regression (pool adjacent violators): x sorted, and the fitted values."""
    order = np.argsort(x, kind="stable")
    values, weights, counts = [], [], []
    for yi, wi in zip(y[order], w[order]):
        values.append(yi)
        weights.append(wi)
        counts.append(1)
        while len(values) > 1 and values[-2] > values[-1]:
            total = weights[-2] + weights[-1]
            values[-2:] = [(values[-2] * weights[-2] + values[-1] * weights[-1]) / total]
            weights[-2:] = [total]
            counts[-2:] = [counts[-2] + counts[-1]]
    return x[order], np.repeat(values, counts)


def table_of(score, y, w):
    """The calibration table: the share within 50 ms at each of TABLE_KNOTS logistic scores,
    by isotonic regression, kept on the logistic's side of 0.5 (below 0.5 where the score is,
    at 0.5 or more where it is), so that what reads 0.5 or more, and the negative controls' share
    of it, stays the logistic's."""
    xs, ys = isotonic(score, y, w)
    knots = np.linspace(0.0, 1.0, TABLE_KNOTS)
    values = np.maximum.accumulate(np.interp(knots, xs, ys))
    below = knots < 0.5
    values[below] = np.minimum(values[below], BELOW_HALF)
    values[~below] = np.maximum(values[~below], 0.5)
    # Exactly 0.5 at a score of 0.5, or the line from the knot before it would reach 0.5 early.
    values[TABLE_KNOTS // 2] = 0.5
    return knots, values


def main():
    cases = sys.argv[1]
    given = [float(v) for v in sys.argv[2:5]]
    fitted, held_out = [], []
    for case in sorted(os.listdir(cases)):
        folder = os.path.join(cases, case)
        if not os.path.exists(os.path.join(folder, "warpflow.csv")):
            continue
        kind = json.load(open(os.path.join(folder, "case.json")))["kind"]
        margin, log_ratio, hit = samples(folder, kind)
        if len(hit) == 0:
            continue
        (held_out if HELD_OUT in kind.split() else fitted).append((margin, log_ratio, hit, kind))

    def stack(groups):
        x = np.concatenate([np.column_stack([m, r]) for m, r, _, _ in groups])
        y = np.concatenate([h for _, _, h, _ in groups])
        w = np.concatenate([np.full(len(h), 1.0 / len(h)) for _, _, h, _ in groups])
        return x, y, w / np.mean(w)

    x, y, w = stack(fitted)
    if len(given) == 3:
        beta = np.array(given)
        print(f"INTERCEPT = {beta[0]:.3f}, MARGIN_WEIGHT = {beta[1]:.3f}, DISTANCE_WEIGHT = {beta[2]:.3f} (given)")
    else:
        beta = fit(x, y, w)
        print(f"INTERCEPT = {beta[0]:.3f}, MARGIN_WEIGHT = {beta[1]:.3f}, DISTANCE_WEIGHT = {beta[2]:.3f}")

    def score(x):
        return 1.0 / (1.0 + np.exp(-(beta[0] + x @ beta[1:])))

    knots, values = table_of(score(x), y, w)
    print("CALIBRATION_TABLE = [" + ", ".join(f"{v:.3f}" for v in values) + "]")

    def probability(x):
        return np.interp(score(x), knots, values)

    reliability("cases fitted, the logistic alone", score(x), y)
    reliability("cases fitted, through the table", probability(x), y)
    negatives = [(m, r) for m, r, _, kind in fitted if kind == "negative"]
    shares = [100 * np.mean(probability(np.column_stack([m, r])) >= 0.5) for m, r in negatives]
    print("\nnegative controls, share at 0.5 or more (every 25th position): "
          + ", ".join(f"{share:.1f}%" for share in shares))
    if held_out:
        hx, hy, _ = stack(held_out)
        reliability("held-out song's cases (not fitted), the logistic alone", score(hx), hy)
        reliability("held-out song's cases (not fitted), through the table", probability(hx), hy)


if __name__ == "__main__":
    main()
