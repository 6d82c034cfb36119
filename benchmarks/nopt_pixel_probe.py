"""Why do NOpt images train ResNet-18 badly? A pixel probe, on validation.

    python benchmarks/nopt_pixel_probe.py --dataset fashion-mnist val_real05_mmd_ipc10 val_sdedit05_mmd_ipc10

NOpt from mmd-greedy's real starts trains ConvNet-3 better than the real picks
and ResNet-18 14 points worse (docs/findings.md). The images look like their
starts, but NOpt lifts about a fifth of the pixels that real images (and the
prior's own re-rendering of them, SDEdit) leave black to 2-5 % of full scale: a
faint haze on the background. This probe trains ``--arch`` (default ResNet-18 at
lr 0.1, the ``dsco`` recipe) on each synthesis run's images with every pixel
below ``--floor`` (fraction of full scale) set to black (``--as-is``: and as
they are), and on the real picks of ``--real``, on the fit
split of the product's validation split, and tests on its validation images
(``evaluation.measure``'s plan and training: nothing stored). If the cleaned
images train ResNet-18 as well as the real picks, the haze is what it learns
from. Each row also has the set's fraction of pixels per intensity bin
(``BINS``). ``--transforms match`` (or both) trains each set with every class's pixel
distribution matched to its real fit-split images' instead (the library's
histogram matching). Chooses nothing and reads no test image. Writes
``benchmarks/results/nopt_pixel_probe_<dataset>_<arch><tag>.json``.
"""

import argparse
import json

import numpy as np

import fiftyone_dsco  # noqa: F401  (FiftyOne environment defaults)
from fiftyone_dsco import names
from _env import results_path, write_meta

#: intensity bins (fractions of full scale) of the pixel histogram in each row
BINS = (0, 0.02, 0.05, 0.1, 0.2, 0.5, 1.01)


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=names.BUILTIN_DATASETS, default="fashion-mnist")
    p.add_argument("runs", nargs="+", help="synthesis run keys on the dataset")
    p.add_argument("--real", nargs="*", default=["val_mmd_greedy_b10"],
                   help="doping run keys trained beside (real picks, as they are)")
    p.add_argument("--transforms", nargs="+", default=["floor"],
                   choices=["floor", "match", "blend", "nearest"],
                   help="floor: pixels below --floor set to black; match: each class's pixel "
                        "distribution matched to its real fit-split images' "
                        "(synthesis.histograms.match_histograms); blend: --blend of the matched "
                        "image plus the rest of the image as written; nearest: each image "
                        "matched to the one real fit-split image of its class nearest in pixels")
    p.add_argument("--floor", type=float, default=0.05)
    p.add_argument("--blend", type=float, default=0.5, help="the matched image's share (blend)")
    p.add_argument("--as-is", action="store_true",
                   help="also train the runs' images as they are (nopt_levers.py trains them "
                        "with the same plan and seeds)")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--epochs", type=int)
    p.add_argument("--arch", default="resnet18_small")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--tag", default="")
    return p.parse_args()


def histogram(images):
    """Fraction of pixels per ``BINS`` interval (uint8 images)."""
    counts = np.histogram(images / 255.0, bins=BINS)[0]
    return [round(float(c) / images.size, 4) for c in counts]


def _transformed(transform, images, labels, plan, args):
    """``images`` (uint8) with pixels below ``--floor`` set to black, or each class's
    histogram matched to its real fit-split images' (``REFERENCE_IMAGES`` per class, drawn
    with seed 0: the library's function, not its per-class seeded draw): as a whole
    (``match``), blended with the image as written (``blend``), or image by image to the
    reference image nearest in pixels (``nearest``)."""
    if transform == "floor":
        return np.where(images < round(args.floor * 255), 0, images).astype(images.dtype)
    from fiftyone_dsco.data import image_array
    from fiftyone_dsco.synthesis.histograms import REFERENCE_IMAGES, match_histograms

    out, table = images.copy(), plan["table"]
    for k, c in enumerate(table.classes):
        ids = table.ids_by_class[c]
        ids = list(np.random.default_rng(0).permutation(ids)[:REFERENCE_IMAGES])
        ref = np.asarray(image_array(plan["dataset"], ids, plan["image_size"], plan["channels"],
                                     cache=False))
        mine = images[labels == k]
        if transform == "nearest":
            flat, rflat = mine.reshape(len(mine), -1) / 255.0, ref.reshape(len(ref), -1) / 255.0
            near = ((flat[:, None] - rflat[None]) ** 2).sum(-1).argmin(1)
            out[labels == k] = np.concatenate([match_histograms(m[None], ref[j][None])
                                               for m, j in zip(mine, near)])
            continue
        matched = match_histograms(mine, ref)
        if transform == "blend":
            matched = np.rint(args.blend * matched + (1 - args.blend) * mine).astype(np.uint8)
        out[labels == k] = matched
    return out


def main():
    args = parse()
    from fiftyone_dsco.data.builtin import load_builtin
    from fiftyone_dsco.data.splits import validation_split
    from fiftyone_dsco.evaluation import protocol as ev
    from fiftyone_dsco.runs import synthetic_samples
    from fiftyone_dsco.selection.doping import concentrated_view

    ds = load_builtin(args.dataset)
    split = validation_split(ds, "ground_truth")
    views = {key: synthetic_samples(ds, key) for key in args.runs}
    views.update({key: concentrated_view(ds, key) for key in args.real})
    plan = ev._plan(split.fit, "ground_truth", views, split.val, args.arch, args.epochs,
                    tuple(range(args.seeds)), None, None, False, False, None, None, None,
                    args.lr, False, names.DEFAULT_RECIPE)
    arrays = ev._load_arrays(plan, progress=True)
    for key in args.runs:  # each transformed copy of a synthetic set, an arm of its own
        for transform in args.transforms:
            level = {"floor": args.floor, "blend": args.blend}.get(transform)
            name = f"{key}_{transform}" + ("" if level is None else f"{round(100 * level)}")
            plan["arms"][name] = dict(plan["arms"][key], name=name)
            arrays[name] = _transformed(transform, arrays[key], plan["arms"][key]["labels"],
                                        plan, args)
        if not args.as_is:
            del plan["arms"][key]
    results, _ = ev._train_all(plan, arrays, None, True)
    rows = [dict(dataset=args.dataset, set=arm, arch=args.arch, lr=args.lr,
                 acc_mean=round(100 * a["acc_mean"], 2), acc_std=round(100 * a["acc_std"], 2),
                 seeds=args.seeds, epochs=a["epochs"], size=a["size"],
                 pixel_bins=histogram(arrays[arm]), split="validation")
            for arm, a in results["arms"].items()]
    for r in rows:
        print(json.dumps(r), flush=True)
    path = results_path(f"nopt_pixel_probe_{args.dataset}_{args.arch}{args.tag}.json")
    with open(path, "w") as f:
        json.dump(rows, f, indent=1)
    write_meta(path, floor=args.floor, blend=args.blend, transforms=args.transforms, bins=BINS,
               validation=split.to_dict() | {"val_ids": None})


if __name__ == "__main__":
    main()
