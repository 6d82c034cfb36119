"""NOpt from real images (SDEdit starts) against noise starts and herding, on a validation split.

    python benchmarks/real_init.py --dataset digits --ipc 10 --strengths 0.3 0.5 0.7

Chooses on validation, never on test: a persistent clone of the built-in dataset
moves a seeded 10 % of each class's train samples to a ``val`` tag; the prior
is fitted, the sets are built and the classifiers are trained on what stays
``train``, and every set is tested on ``val``. The held-out ``test`` split is not
read. Arms: herding (real images only), NOpt from noise (today's default), NOpt
from herding-picked real images at each strength, and the random real subset
and full split that ``evaluate()`` adds. Writes
``benchmarks/results/real_init_<dataset>_ipc<ipc>.json`` (+ ``.meta.json``).
"""

import argparse
import json

import numpy as np

import fiftyone_dsco  # noqa: F401  (FiftyOne environment defaults)
from _env import results_path, run_or_replace, write_meta

VAL_TAG, VAL_FRACTION = "val", 0.1


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=["digits", "fashion-mnist"], default="digits")
    p.add_argument("--ipc", type=int, default=10)
    p.add_argument("--strengths", type=float, nargs="+", default=[0.3, 0.5, 0.7])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, help="override the recipe's epochs")
    p.add_argument("--prior-steps", type=int)
    return p.parse_args()


def validation_dataset(name):
    """A persistent clone of built-in ``name`` whose ``val`` tag holds 10 % of each class's
    train samples (seeded); they are no longer ``train``."""
    import fiftyone as fo

    from fiftyone_dsco.data.builtin import load_builtin
    from fiftyone_dsco.data.splits import validation_split

    clone_name = f"dsco-{name}-val"
    if fo.dataset_exists(clone_name):
        return fo.load_dataset(clone_name)
    ds = load_builtin(name)
    clone = ds.clone(clone_name, persistent=True)
    # the product's validation split (the budget search's too); the committed digits rows
    # were made with an earlier draw of the same size (10 % per class, seed 0)
    view = clone.select(validation_split(clone, "ground_truth", VAL_FRACTION, seed=0).val_ids)
    view.untag_samples("train")
    view.tag_samples(VAL_TAG)
    return clone


def main():
    args = parse()
    from fiftyone_dsco.evaluation import evaluate
    from fiftyone_dsco.priors import fit_prior
    from fiftyone_dsco.selection.doping import dope
    from fiftyone_dsco.synthesis import synthesize

    ds = validation_dataset(args.dataset)
    prior = fit_prior(ds, "ground_truth", name=f"{args.dataset}-val", steps=args.prior_steps,
                      progress=True)
    ipc, sets = args.ipc, {}
    herd, _ = run_or_replace(dope, ds, "ground_truth", None, ipc, selector="herding",
                             prior=prior.path, run_key=f"val_herding{ipc}", progress=True)
    sets["herding"] = herd["saved_view"]
    noise, _ = run_or_replace(synthesize, ds, "ground_truth", prior, ipc, init="noise",
                              run_key=f"val_nopt{ipc}", progress=True)
    sets["nopt (noise)"] = noise["saved_view"]
    mmd = {"nopt (noise)": _mean_mmd(noise)}
    for s in args.strengths:
        key = f"val_real{ipc}_s{int(round(100 * s))}"
        res, _ = run_or_replace(synthesize, ds, "ground_truth", prior, ipc, run_key=key,
                                init="real", strength=s, match_histograms=False,
                                progress=True)
        sets[f"nopt (real, s={s:g})"] = res["saved_view"]
        mmd[f"nopt (real, s={s:g})"] = _mean_mmd(res)
    res = evaluate(ds, "ground_truth", {k: ds.load_saved_view(v) for k, v in sets.items()},
                   test_view=ds.match_tags(VAL_TAG), seeds=tuple(range(args.seeds)),
                   epochs=args.epochs, eval_key=f"val_init_ipc{ipc}", progress=True)
    print(res.format_table())
    out = results_path(f"real_init_{args.dataset}_ipc{ipc}.json")
    with open(out, "w") as f:
        json.dump(dict(dataset=args.dataset, ipc=ipc, split="validation (10 % of train, seed 0)",
                       mmd=mmd, table=res.format_table(), arms=res["arms"],
                       recipe=res["recipe"]), f, indent=1, default=str)
    write_meta(out)


def _mean_mmd(results):
    vals = [r["mmd"] for r in results["classes"].values() if "mmd" in r]
    return float(np.mean(vals)) if vals else None


if __name__ == "__main__":
    main()
