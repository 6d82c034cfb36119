"""Are validation images closer to the fit split than test images are? (Fashion-MNIST)

    python benchmarks/split_distance.py

A check on "choose on validation, report on test": the validation split is carved from the
train split, the test split is not, so near-duplicates shared by train images could make the
validation split easier for sets made from the fit split. For a seeded 10 % per class of the
train split (the validation split's fraction; not its exact ids) and for 6,000 test images it
measures each image's Euclidean distance, in pixels scaled to [0, 1], to its nearest image
among the remaining 90 % (the fit split's share), and writes the distributions to
``benchmarks/results/split_distance_fashion-mnist.json``. Numpy only, about a minute.
"""

import gzip
import json

import numpy as np

from _env import results_path, write_meta

IDX = "/usr/share/datasets/fashion-mnist/{}-ubyte.gz"
FRACTION, SEED, NUM_TEST = 0.1, 0, 6000


def read_idx(name):
    """An IDX file of the Debian package as a numpy array."""
    with gzip.open(IDX.format(name)) as f:
        data = f.read()
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(data[3])]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def nearest(queries, bank, chunk=1000):
    """Distance from each query row to its nearest row of ``bank``."""
    bank_sq = (bank ** 2).sum(1)
    out = []
    for i in range(0, len(queries), chunk):
        q = queries[i:i + chunk]
        d2 = (q ** 2).sum(1)[:, None] + bank_sq[None] - 2 * q @ bank.T
        out.append(np.sqrt(np.maximum(d2.min(1), 0)))
    return np.concatenate(out)


def summary(d):
    return {"median": float(np.median(d)), "p10": float(np.percentile(d, 10)),
            "p1": float(np.percentile(d, 1)), "share_below_1": float((d < 1).mean()),
            "share_below_2": float((d < 2).mean()), "count": int(len(d))}


def main():
    train = read_idx("train-images-idx3").reshape(-1, 784).astype(np.float32) / 255
    labels = read_idx("train-labels-idx1")
    test = read_idx("t10k-images-idx3").reshape(-1, 784).astype(np.float32) / 255
    rng = np.random.default_rng(SEED)
    val = np.concatenate([rng.choice(np.flatnonzero(labels == c),
                                     int(FRACTION * (labels == c).sum()), replace=False)
                          for c in np.unique(labels)])
    fit = np.ones(len(train), bool)
    fit[val] = False
    rows = {"validation": summary(nearest(train[val], train[fit])),
            "test": summary(nearest(test[:NUM_TEST], train[fit]))}
    for split, row in rows.items():
        print(split, {k: round(v, 4) for k, v in row.items()})
    path = results_path("split_distance_fashion-mnist.json")
    with open(path, "w") as f:
        json.dump(rows, f, indent=1)
    write_meta(path, fraction=FRACTION, seed=SEED)


if __name__ == "__main__":
    main()
