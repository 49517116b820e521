"""Reference Brier scores and expected calibration errors for model's tests.

An implementation independent of model/calibration.go: Python's exact
rational arithmetic (fractions.Fraction) on the probabilities as written in
decimal, bins found by comparing with the exact edges b/10. It writes
calibration.json beside it:

    python3 model/testdata/calibration.py

Definitions (as documented on model.Metrics):
  two classes: Brier = mean (p - y)^2 of the probability p of class 1; ECE
    over 10 equal-width bins of p, bin b holding b/10 <= p < (b+1)/10 and the
    last also p = 1: sum over bins of n_b/N |mean y - mean p| (Naeini et al.
    2015).
  K > 2 classes: Brier = mean over rows of sum over classes (p_c - [y = c])^2;
    ECE over the same bins of the confidence, the probability of the
    predicted class (the first most probable), against whether it is the
    label (Guo et al. 2017).
"""

import json
import os
from fractions import Fraction as F

BINS = 10


def bin_of(p):
    for b in range(BINS - 1, -1, -1):
        if p >= F(b, BINS):
            return b
    return 0


def ece(conf, outcome):
    groups = {}
    for c, o in zip(conf, outcome):
        groups.setdefault(bin_of(c), []).append((c, o))
    total = F(0)
    for rows in groups.values():
        n = len(rows)
        mean_c = sum(c for c, _ in rows) / n
        mean_o = F(sum(o for _, o in rows), n)
        total += F(n, len(conf)) * abs(mean_o - mean_c)
    return total


def binary(p, y):
    brier = sum((pi - yi) ** 2 for pi, yi in zip(p, y)) / len(p)
    return brier, ece(p, y)


def multiclass(rows, y):
    brier = F(0)
    conf, hit = [], []
    for row, label in zip(rows, y):
        brier += sum((v - (1 if c == label else 0)) ** 2 for c, v in enumerate(row))
        pred = max(range(len(row)), key=lambda c: (row[c], -c))
        conf.append(row[pred])
        hit.append(1 if pred == label else 0)
    return brier / len(rows), ece(conf, hit)


def lcg(seed):
    state = seed
    while True:
        state = (6364136223846793005 * state + 1442695040888963407) % 2**64
        yield state >> 11


def random_binary(n, seed):
    # Probabilities with three decimals, labels drawn to be roughly (not
    # exactly) calibrated: y = 1 when a uniform draw falls below p + 0.1.
    g = lcg(seed)
    p, y = [], []
    for _ in range(n):
        pi = F(next(g) % 1001, 1000)
        u = F(next(g) % 1000, 1000)
        p.append(pi)
        y.append(1 if u < pi + F(1, 10) else 0)
    return p, y


def random_multiclass(n, k, seed):
    g = lcg(seed)
    rows, y = [], []
    for _ in range(n):
        w = [next(g) % 100 + 1 for _ in range(k)]
        s = sum(w)
        # Round to three decimals, the last class taking the remainder.
        row = [F(round(1000 * wi / s), 1000) for wi in w[:-1]]
        row.append(1 - sum(row))
        rows.append(row)
        y.append(next(g) % k)
    return rows, y


def dec(x):
    # The decimal a probability is written as in the JSON (and in Go).
    return float(x)


def case(name, classes, prob, labels):
    if classes == 2:
        brier, e = binary(prob, labels)
        flat = [dec(v) for v in prob]
    else:
        brier, e = multiclass(prob, labels)
        flat = [dec(v) for row in prob for v in row]
    return {"name": name, "classes": classes, "prob": flat, "labels": labels,
            "brier": float(brier), "ece": float(e)}


def main():
    d = F
    cases = [
        case("binary, probabilities on bin edges", 2,
             [d("0"), d("0.1"), d("0.3"), d("0.7"), d("0.7"), d("0.99"), d("1")],
             [0, 1, 0, 1, 0, 1, 1]),
        case("binary, 200 pseudo-random rows", 2, *random_binary(200, 1)),
        case("3 classes, ties and edges", 3,
             [[d("0.4"), d("0.4"), d("0.2")],
              [d("0.1"), d("0.6"), d("0.3")],
              [d("0.5"), d("0.25"), d("0.25")],
              [d("0.2"), d("0.2"), d("0.6")]],
             [1, 1, 0, 2]),
        case("5 classes, 150 pseudo-random rows", 5, *random_multiclass(150, 5, 2)),
    ]
    out = {"source": "python3 model/testdata/calibration.py (exact rational arithmetic; see its docstring)",
           "cases": cases}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "calibration.json")
    with open(path, "w") as f:
        # One case a line.
        f.write('{"source": %s,\n "cases": [\n' % json.dumps(out["source"]))
        f.write(",\n".join("  " + json.dumps(c) for c in cases))
        f.write("\n ]\n}\n")


main()
