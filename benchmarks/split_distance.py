"""Are validation images closer to the fit split than test images are? (Fashion-MNIST)

    python benchmarks/split_distance.py

A check on "choose on validation, report on test": the validation split is carved from the
train split, the test split is not, so near-duplicates shared by train images could make the
validation split easier for sets made from the fit split. For a seeded 10 % per class of the
train split (the validation split's fraction; not its exact ids) and for 6,000 test images it
measures each image's Euclidean distance, in pixels scaled to [0, 1], to its nearest image
among the remaining 90 % (the fit split's share; exact FAISS search), and writes the
distributions to ``benchmarks/results/split_distance_fashion-mnist.json``. About a minute.
"""

import json

import numpy as np

from _env import results_path, write_meta

FRACTION, SEED, NUM_TEST = 0.1, 0, 6000


def nearest(queries, bank):
    """Euclidean distance from each query row to its nearest row of ``bank`` (exact)."""
    from fiftyone_dsco.selection.selectors import build_index, knn

    squared, _ = knn(build_index(bank, approximate=False), queries, 1)
    return np.sqrt(np.maximum(squared[:, 0], 0))


def summary(d):
    return {"median": float(np.median(d)), "p10": float(np.percentile(d, 10)),
            "p1": float(np.percentile(d, 1)), "share_below_1": float((d < 1).mean()),
            "share_below_2": float((d < 2).mean()), "count": int(len(d))}


def main():
    from fiftyone_dsco.data.builtin import _fashion_mnist  # the built-in loader's arrays

    (train, labels, test, _), _ = _fashion_mnist()
    train, test = (x.reshape(len(x), -1).astype(np.float32) / 255 for x in (train, test))
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
