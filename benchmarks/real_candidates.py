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

Selectors: ``mmd`` (mmd-greedy, dense kernel, median bandwidth: the library's
picks, checked on the first class), ``herding``, ``kmeans`` (the candidate
nearest each of ``--ipc`` k-means centroids of the class). Writes
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
    p.add_argument("arms", nargs="+", help="<selector>_<filter>, e.g. mmd_correct")
    return p.parse_args()


def candidates(margin, name):
    """Rows of a class that ``name`` (a filter of the module doc) lets a selector pick."""
    n = len(margin)
    if name == "all":
        return np.arange(n)
    if name == "correct":
        return np.flatnonzero(margin > 0)
    order, q = np.argsort(-margin), int(name[3:]) / 100
    if name.startswith("top"):
        return order[: int(round(q * n))]
    if name.startswith("mid"):
        return order[int(q * n): n - int(q * n)]
    raise SystemExit(f"unknown filter {name!r}: all, correct, top<q>, mid<q>")


def mmd_greedy(x, cand, n):
    """Dense greedy MMD^2 picks among rows ``cand`` of ``x``, the target all of ``x``."""
    import torch

    from fiftyone_dsco.mmd import median_sigma2

    x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    k = torch.exp(-torch.cdist(x, x) ** 2 / (2 * float(median_sigma2(x.numpy()))))
    mu, s = k.mean(1), torch.zeros(len(x), dtype=torch.float64)
    allowed = torch.zeros(len(x), dtype=torch.bool)
    allowed[torch.as_tensor(cand)] = True
    picks = []
    for a in range(n):
        score = (a + 1) * mu - s
        score[~allowed] = -np.inf
        p = int(score.argmax())
        picks.append(p)
        allowed[p] = False
        s += k[p]
    return picks


def herding(x, cand, n):
    """Herding picks among rows ``cand``, matching the mean of all of ``x``."""
    x = np.asarray(x, np.float64)
    target, total, picks = x.mean(0), np.zeros(x.shape[1]), []
    allowed = np.zeros(len(x), bool)
    allowed[cand] = True
    for a in range(n):
        d = np.linalg.norm(target - (total + x) / (a + 1), axis=1)
        d[~allowed] = np.inf
        p = int(d.argmin())
        picks.append(p)
        allowed[p] = False
        total += x[p]
    return picks


def kmeans(x, cand, n, seed=0):
    """The candidate nearest each of ``n`` k-means centroids of all of ``x`` (tight ones first)."""
    import faiss

    xs = np.ascontiguousarray(np.asarray(x, np.float32))
    km = faiss.Kmeans(xs.shape[1], n, niter=50, seed=seed, nredo=3)
    km.train(xs)
    d = ((xs[cand][:, None, :] - km.centroids[None]) ** 2).sum(-1)
    picks = []
    for j in np.argsort(d.min(0)):
        picks.append(next(int(cand[i]) for i in np.argsort(d[:, j]) if int(cand[i]) not in picks))
    return picks


def main():
    import torch

    from fiftyone_dsco.data.access import class_table, train_view
    from fiftyone_dsco.data.builtin import load_builtin
    from fiftyone_dsco.data.splits import validation_split
    from fiftyone_dsco.features.extractors import build_extractor, real_features
    from fiftyone_dsco.priors import load_prior
    from fiftyone_dsco.selection.selectors import get_selector

    args = parse()
    ds = load_builtin(args.dataset)
    split = validation_split(ds, "ground_truth")
    prior_name = f"{args.dataset}-budget-fit"
    prior = load_prior(prior_name)
    table = class_table(train_view(split.fit), "ground_truth", classes=prior.classes)
    feat = build_extractor("reference", prior, view=split.fit, table=table, seed=0)
    pick = dict(mmd=mmd_greedy, herding=herding,
                kmeans=lambda x, cand, n: kmeans(x, cand, n, args.kmeans_seed))
    sets, per_set = {}, {}
    for arm in args.arms:
        selector, filt = arm.split("_", 1)
        chosen, counts, t0 = [], [], time.time()
        for k, c in enumerate(table.classes):
            ids = table.ids_by_class[c]
            x = np.array(real_features(split.fit, ids, feat, prior.card.image_size,
                                       prior.card.channels))
            with torch.no_grad():
                logits = feat.module.head(torch.as_tensor(x)).numpy()
            margin = logits[:, k] - np.delete(logits, k, axis=1).max(1)
            cand = candidates(margin, filt)
            if selector == "mmd" and k == 0:  # the probe's greedy is the library's
                lib = get_selector("mmd-greedy", backend="numpy").select(x, args.ipc)
                assert list(lib) == mmd_greedy(x, np.arange(len(x)), args.ipc)
            chosen += [ids[i] for i in pick[selector](x, cand, args.ipc)]
            counts.append(len(cand))
        sets[arm] = ds.select(chosen)
        per_set[arm] = dict(candidates=counts, select_seconds=round(time.time() - t0, 1),
                            **({"kmeans_seed": args.kmeans_seed} if selector == "kmeans" else {}))
        print(arm, per_set[arm], flush=True)
    validation_table(split, sets, f"real_candidates_{args.dataset}_ipc{args.ipc}{args.tag}.json",
                     prior_name, args.seeds, None, {}, add_random=False, per_set=per_set,
                     dataset=args.dataset, ipc=args.ipc)


if __name__ == "__main__":
    main()
