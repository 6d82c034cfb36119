"""Why do prototypes train ResNet-18 badly? A batch-norm statistics probe, on validation.

    python benchmarks/bn_probe.py --dataset fashion-mnist --ipc 10 kmeans_correct mmd_all herding_all

With ConvNet-3 (instance norm) prototypes among the recognised samples
(``kmeans_correct``) lead mmd-greedy's picks (``mmd_all``) on Fashion-MNIST IPC 10;
with ResNet-18 (batch norm) they trail far (docs/benchmarks.md). One hypothesis:
a set of typical images gives batch norm running statistics narrower than the
class's, so at test time the network normalises real images wrongly. This probe
trains ResNet-18 (``--arch``) at lr 0.1 with the ``dsco`` recipe on each set (the
sets of ``real_candidates.py``: same prior, split and selectors), then tests it
on the validation split four ways:

- ``eval``: as trained (the number every table reports);
- ``bn_set``: running statistics recomputed on the set itself, no augmentation
  (checks that recalibration alone changes little);
- ``bn_fit``: recomputed on ``--calib`` unlabelled images of the fit split (no
  label, no validation image);
- ``bn_val``: recomputed on the validation images themselves (transductive: a
  diagnostic, never a product number).

If prototypes gain much more from ``bn_fit`` than mmd-greedy's picks do, their
loss is batch norm's statistics, not the images' information. It also writes
each set's spread: per class, the mean squared distance of its reference
features to the class mean, as a fraction of the class's own. Chooses nothing
and reads no test image. ``--kmeans-seed`` and ``--pixel-weight`` change the
picks as in ``real_candidates.py``. Writes
``benchmarks/results/bn_probe_<dataset>_ipc<ipc><tag>.json``.
"""

import argparse
import json
import time

import numpy as np

import fiftyone_dsco  # noqa: F401  (FiftyOne environment defaults)
from _env import results_path, write_meta
from real_candidates import check_pixel_weight, pick_class, probe_setup, selectors


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=["digits", "fashion-mnist"], default="fashion-mnist")
    p.add_argument("--ipc", type=int, default=10)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--first-seed", type=int, default=0, help="train seeds first .. first + seeds - 1")
    p.add_argument("--arch", default="resnet18_small")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--calib", type=int, default=5000, help="fit-split images for bn_fit")
    p.add_argument("--pixel-weight", type=float, default=0.0, help="as in real_candidates.py")
    p.add_argument("--kmeans-seed", type=int, default=0, help="seed of the k-means selector")
    p.add_argument("--tag", default="")
    p.add_argument("arms", nargs="+", help="<selector>_<filter> as in real_candidates.py")
    return check_pixel_weight(p, p.parse_args())


def batch_norms(model):
    import torch

    return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


def recalibrate(model, images, batch_size=500):
    """Reset every batch norm's running statistics and recompute them on ``images`` (cumulative).
    Returns what :func:`restore` needs to put the trained ones back."""
    import torch

    bns = batch_norms(model)
    saved = [(m.momentum, m.running_mean.clone(), m.running_var.clone()) for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches
    model.train()
    with torch.no_grad():
        for k in range(0, len(images), batch_size):
            model(images[k: k + batch_size])
    model.eval()
    return saved


def restore(model, saved):
    for m, (mom, mean, var) in zip(batch_norms(model), saved):
        m.momentum, m.running_mean[:], m.running_var[:] = mom, mean, var


def main():
    import torch

    from fiftyone_dsco.data.access import class_table, image_array, to_unit_range
    from fiftyone_dsco.evaluation.recipes import get_recipe
    from fiftyone_dsco.evaluation.training import predict, train_classifier

    args = parse()
    pick = selectors(args.kmeans_seed)
    ds, split, prior_name, prior, table, feat = probe_setup(args.dataset)
    size, ch = prior.card.image_size, prior.card.channels
    val_table = class_table(split.val, "ground_truth", classes=prior.classes)
    x_val = to_unit_range(image_array(ds, val_table.ids(), size, ch))
    y_val = torch.as_tensor(val_table.labels())
    rng = np.random.default_rng(0)
    fit_ids = table.ids()
    calib_ids = [fit_ids[i] for i in rng.choice(len(fit_ids), args.calib, replace=False)]
    x_calib = to_unit_range(image_array(ds, calib_ids, size, ch))
    recipe = get_recipe("dsco", table.classes, epochs=args.epochs, lr=args.lr)

    rows = []
    for arm in args.arms:
        chosen, labels, spread = [], [], []
        for k, c in enumerate(table.classes):
            ids = table.ids_by_class[c]
            rows_k, x, _ = pick_class(pick, arm, split.fit, ids, k, feat, prior, args.ipc,
                                      args.pixel_weight)
            mu = x.mean(0)
            spread.append(float(((x[rows_k] - mu) ** 2).sum(1).mean() / ((x - mu) ** 2).sum(1).mean()))
            chosen += [ids[i] for i in rows_k]
            labels += [k] * len(rows_k)
        x_set = to_unit_range(image_array(ds, chosen, size, ch))
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            t0 = time.time()
            model, _ = train_classifier(x_set, labels, len(table.classes), arch=args.arch,
                                        seed=seed, **recipe.training_options())

            def acc():
                return round(100 * float((predict(model, x_val).argmax(1) == y_val).float().mean()), 2)

            row = dict(method=arm, seed=seed, arch=args.arch, lr=args.lr, epochs=recipe.epochs,
                       **({"pixel_weight": args.pixel_weight} if args.pixel_weight else {}),
                       **({"kmeans_seed": args.kmeans_seed}
                          if args.kmeans_seed and arm.startswith("kmeans") else {}),
                       dataset=args.dataset, ipc=args.ipc, split="validation",
                       spread=round(float(np.mean(spread)), 3),
                       pixel_mean=round(float(x_set.mean()), 4), pixel_std=round(float(x_set.std()), 4),
                       eval=acc())
            for name, images in (("bn_set", x_set), ("bn_fit", x_calib), ("bn_val", x_val)):
                saved = recalibrate(model, images)
                row[name] = acc()
                restore(model, saved)
            row["seconds"] = round(time.time() - t0, 1)
            print(json.dumps(row), flush=True)
            rows.append(row)
    ref = dict(pixel_mean=round(float(x_calib.mean()), 4), pixel_std=round(float(x_calib.std()), 4))
    path = results_path(f"bn_probe_{args.dataset}_ipc{args.ipc}{args.tag}.json")
    with open(path, "w") as f:
        json.dump(rows, f, indent=1)
    write_meta(path, prior=prior_name, calib=args.calib, fit_split_pixels=ref,
               validation=split.to_dict() | {"val_ids": None})


if __name__ == "__main__":
    main()
