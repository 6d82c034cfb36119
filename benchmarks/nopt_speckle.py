"""Does NOpt speckle the background? Background noise of synthetic sets against real images.

    python benchmarks/nopt_speckle.py --dataset fashion-mnist --runs val_plain_ipc10 val_nopt_ipc10 val_early_half_ipc10

For each class, the background is where the mean real train image of that class
(at the synthetic images' size) is darker than ``--threshold`` (0.05 of full scale): pixels that real images of
the class leave black. On those pixels, per set: the mean intensity (grey
background) and the mean absolute difference to a 3 × 3 median filter (speckle:
isolated bright or dark pixels), averaged over images and classes. Real train
images of each class (as many as the set has) are the reference row. Reads
synthesis runs already on the dataset (no synthesis, no training). Writes
``benchmarks/results/nopt_speckle_<dataset>.json``.
"""

import argparse
import json

import fiftyone_dsco  # noqa: F401  (FiftyOne environment defaults)
from fiftyone_dsco import names
from _env import results_path, write_meta


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=names.BUILTIN_DATASETS, default=names.DEFAULT_DATASET)
    p.add_argument("--runs", nargs="+", required=True, help="synthesis run keys")
    p.add_argument("--threshold", type=float, default=0.05)
    p.add_argument("--tag", default="")
    return p.parse_args()


def load(view, size=None, label_field="ground_truth"):
    """(images in [0, 1], N x H x W, resized to ``size`` if given; labels) of a view, grey."""
    import numpy as np
    from PIL import Image

    def read(path):
        im = Image.open(path).convert("L")
        return im.resize((size, size), Image.BILINEAR) if size and im.size != (size, size) else im

    paths, labels = view.values(["filepath", f"{label_field}.label"])
    x = np.stack([np.asarray(read(p), dtype=np.float32) / 255 for p in paths])
    return x, np.asarray(labels)


def background_stats(x, labels, masks):
    """Mean intensity and mean |x - median3x3(x)| on each class's background mask."""
    import numpy as np
    from scipy.ndimage import median_filter

    grey, speckle = [], []
    for c, mask in masks.items():
        xc = x[labels == c]
        if not len(xc) or not mask.any():
            continue
        med = median_filter(xc, size=(1, 3, 3), mode="nearest")
        grey.append(float(xc[:, mask].mean()))
        speckle.append(float(np.abs(xc - med)[:, mask].mean()))
    return dict(background_mean=round(100 * np.mean(grey), 3),
                background_speckle=round(100 * np.mean(speckle), 3))


def main():
    args = parse()
    import numpy as np

    from fiftyone_dsco.data import train_view
    from fiftyone_dsco.data.builtin import load_builtin
    from fiftyone_dsco.runs import synthetic_samples

    ds = load_builtin(args.dataset)
    sets = {key: load(synthetic_samples(ds, key)) for key in args.runs}
    x0 = next(iter(sets.values()))[0]
    real, real_labels = load(train_view(ds), size=x0.shape[-1])  # at the synthetic size
    masks = {c: real[real_labels == c].mean(0) < args.threshold for c in np.unique(real_labels)}
    rows, size = [], len(x0)
    for key, (x, labels) in sets.items():
        rows.append(dict(set=key, images=len(x), **background_stats(x, labels, masks)))
    rng = np.random.default_rng(0)
    per = max(1, size // len(masks))
    pick = np.concatenate([rng.choice(np.flatnonzero(real_labels == c), per, replace=False)
                           for c in masks])
    rows.append(dict(set="real", images=len(pick),
                     **background_stats(real[pick], real_labels[pick], masks)))
    rows = [dict(r, dataset=args.dataset,
                 background_pixels=round(float(np.mean([m.mean() for m in masks.values()])), 3))
            for r in rows]
    for r in rows:
        print(json.dumps(r), flush=True)
    path = results_path(f"nopt_speckle_{args.dataset}{args.tag}.json")
    with open(path, "w") as f:
        json.dump(rows, f, indent=1)
    write_meta(path, threshold=args.threshold)


if __name__ == "__main__":
    main()
