"""Which real samples may a selector pick? Candidate filters by the reference classifier, on validation.

    python benchmarks/real_candidates.py --dataset fashion-mnist --ipc 10 --tag _a \
        mmd_top50 mmd_correct mmd_top25

Chooses on validation, never on test: on the fit split of ``validation_split``
(10 % of each class's train samples held out, seed 0), with the reference
features of the prior ``<dataset>-budget-fit`` (fitted on that fit split), each
arm ``<selector>_<filter>`` picks ``--ipc`` real samples per class, trains 3
seeds with the ``dsco`` recipe and is tested on the validation split
(``evaluation.measure``, which stores nothing). The selector's target is always
the whole class (mmd-greedy's kernel mean, herding's mean, the k-means
centroids); the filter only restricts the candidates, by the reference
classifier's margin (its logit of the class minus the largest other):

- ``all``: every sample of the class;
- ``correct``: the samples it labels with their class (margin > 0), which is
  ``dope(prefer_recognised=True)`` wherever a class has at least ``--ipc`` of them;
- ``top<q>``: the ``q`` % with the largest margin; ``mid<q>``: all but the ``q`` %
  with the largest and the ``q`` % with the smallest margin.

Selectors (the library's, the filter as their ``preferred`` rows): ``mmd``
(mmd-greedy, dense kernel), ``herding``, ``kmeans`` (``prototypes``: the
candidate nearest each of ``--ipc`` k-means centroids of the class). The
first results were made by the probe's own copies of these rules, which
picked the same samples (checked class by class) before they were dropped.
``--pixel-weight w`` lets the selector see pixels as well: each sample becomes
its reference features beside its image average-pooled to 7 x 7, each block
scaled to unit total variance within the class, then the pixels' block by
``sqrt(w)`` (their variance ``w`` times the features'; 0, the default, is the
features alone). Prototypes there are central in what the network recognises
and in brightness and shape. ``--arch``/``--lr`` train another network at
another rate (ResNet-18: ``resnet18_small``, 0.1), recorded in the rows. Writes
``benchmarks/results/real_candidates_<dataset>_ipc<ipc><tag>.json``.
"""

import argparse
import time

import numpy as np

import fiftyone_dsco  # noqa: F401  (FiftyOne environment defaults)
from _env import validation_table

SELECTORS = ("mmd", "herding", "kmeans")


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=["digits", "fashion-mnist"], default="fashion-mnist")
    p.add_argument("--ipc", type=int, default=10)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--tag", default="", help="suffix of the results file")
    p.add_argument("--kmeans-seed", type=int, default=0, help="seed of the k-means selector")
    p.add_argument("--arch", default="convnet3", help="the evaluated network (names.ARCHITECTURES)")
    p.add_argument("--lr", type=float, help="SGD learning rate (default: the recipe's)")
    p.add_argument("--pixel-weight", type=float, default=0.0,
                   help="the pooled pixels' variance relative to the features' (0: features only)")
    p.add_argument("arms", nargs="+", help="<selector>_<filter>, e.g. mmd_correct")
    return check_pixel_weight(p, p.parse_args())


def check_pixel_weight(parser, args):
    """``args``, or the parser's error when ``--pixel-weight`` is negative."""
    if args.pixel_weight < 0:
        parser.error(f"--pixel-weight must be >= 0 (0: features only); got {args.pixel_weight:g}")
    return args


def candidates(margin, name):
    """Mask of the rows of a class that ``name`` (a filter of the module doc) lets a selector pick."""
    n, mask = len(margin), np.zeros(len(margin), bool)
    if name == "all":
        mask[:] = True
    elif name == "correct":
        mask[margin > 0] = True
    elif name[:3] in ("top", "mid"):
        order, q = np.argsort(-margin), int(name[3:]) / 100
        mask[order[: int(round(q * n))] if name.startswith("top")
             else order[int(q * n): n - int(q * n)]] = True
    else:
        raise SystemExit(f"unknown filter {name!r}: all, correct, top<q>, mid<q>")
    return mask


def selectors(kmeans_seed=0):
    """The probe's selectors, by the short names of the module doc."""
    from fiftyone_dsco.selection.selectors import get_selector

    return {"mmd": get_selector("mmd-greedy", backend="numpy"), "herding": get_selector("herding"),
            "kmeans": get_selector("prototypes", seed=kmeans_seed)}


def selector_space(x, images, pixel_weight):
    """What the selector sees of a class: features ``x``, with ``images`` (uint8,
    N x C x H x W) pooled to 7 x 7 beside them when ``pixel_weight`` > 0 (module doc)."""
    if not pixel_weight:
        return x
    import torch

    from fiftyone_dsco.data.access import to_unit_range

    px = torch.nn.functional.adaptive_avg_pool2d(to_unit_range(images), 7).flatten(1).numpy()

    def unit(a):
        a = a - a.mean(0)
        return a / np.sqrt((a ** 2).sum(1).mean())

    return np.hstack([unit(x), np.sqrt(pixel_weight) * unit(px.astype(np.float64))])


def pick_class(pick, arm, view, ids, k, feat, prior, ipc, pixel_weight=0.0):
    """Rows of class ``k`` (sample ``ids`` of ``view``) that arm ``<selector>_<filter>``
    picks, and the class's reference features."""
    import torch

    from fiftyone_dsco.data.access import image_array
    from fiftyone_dsco.features.extractors import real_features

    selector, filt = arm.split("_", 1)
    size, ch = prior.card.image_size, prior.card.channels
    x = np.array(real_features(view, ids, feat, size, ch))
    with torch.no_grad():
        logits = feat.module.head(torch.as_tensor(x)).numpy()
    margin = logits[:, k] - np.delete(logits, k, axis=1).max(1)
    cand = candidates(margin, filt)
    images = image_array(view, ids, size, ch) if pixel_weight else None
    rows = pick[selector].select(selector_space(x, images, pixel_weight), ipc, preferred=cand)
    return rows, x, int(cand.sum())


def probe_setup(dataset):
    """What the probes pick from: ``(dataset, validation split, prior name, prior, the fit
    split's class table, its reference extractor)``."""
    from fiftyone_dsco.data.access import class_table, train_view
    from fiftyone_dsco.data.builtin import load_builtin
    from fiftyone_dsco.data.splits import validation_split
    from fiftyone_dsco.features.extractors import build_extractor
    from fiftyone_dsco.priors import load_prior

    ds = load_builtin(dataset)
    split = validation_split(ds, "ground_truth")
    prior_name = f"{dataset}-budget-fit"
    prior = load_prior(prior_name)
    table = class_table(train_view(split.fit), "ground_truth", classes=prior.classes)
    feat = build_extractor("reference", prior, view=split.fit, table=table, seed=0)
    return ds, split, prior_name, prior, table, feat


def main():
    args = parse()
    # the library's selectors: candidates = their preferred rows (always more than --ipc)
    pick = selectors(args.kmeans_seed)
    ds, split, prior_name, prior, table, feat = probe_setup(args.dataset)
    sets, per_set = {}, {}
    for arm in args.arms:
        selector = arm.split("_", 1)[0]
        chosen, counts, t0 = [], [], time.time()
        for k, c in enumerate(table.classes):
            ids = table.ids_by_class[c]
            rows, _, n_cand = pick_class(pick, arm, split.fit, ids, k, feat, prior, args.ipc,
                                         args.pixel_weight)
            chosen += [ids[i] for i in rows]
            counts.append(n_cand)
        sets[arm] = ds.select(chosen)
        per_set[arm] = dict(candidates=counts, select_seconds=round(time.time() - t0, 1),
                            **({"kmeans_seed": args.kmeans_seed} if selector == "kmeans" else {}),
                            **({"pixel_weight": args.pixel_weight} if args.pixel_weight else {}))
        print(arm, per_set[arm], flush=True)
    validation_table(split, sets, f"real_candidates_{args.dataset}_ipc{args.ipc}{args.tag}.json",
                     prior_name, args.seeds, None, {}, add_random=False, per_set=per_set,
                     arch=args.arch, lr=args.lr, dataset=args.dataset, ipc=args.ipc)


if __name__ == "__main__":
    main()
