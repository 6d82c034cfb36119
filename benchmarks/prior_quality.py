"""Prior table: fit throughput, sampling throughput, recognisability per training minute.

One command per dataset, e.g.::

    python benchmarks/prior_quality.py --dataset fashion-mnist --name fashion-mnist
    python benchmarks/prior_quality.py --dataset digits --name digits-curve

Fits a prior with :func:`fiftyone_dsco.fit_prior` at its defaults, to the step cap
(``patience=0``: no plateau stop, so the whole curve is measured) and, at every
checkpoint, scores the EMA weights so far with the recognisability gate (a
real-data classifier's accuracy on fresh samples of each class). Scoring time
is excluded from the training time. With ``--name fashion-mnist`` the fitted
prior is the one every other Fashion-MNIST benchmark then reuses (same
fingerprint as ``dsco prior fit dsco-fashion-mnist --name fashion-mnist``).
Writes ``benchmarks/results/prior_quality_<dataset>.json``: one row per
checkpoint (step, minutes, recognisability) plus throughput figures.
"""

import argparse
import json
import os
import time

import fiftyone_dsco  # noqa: F401  (FiftyOne environment defaults)
from _env import results_path, write_meta


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=["digits", "fashion-mnist"], default="digits")
    p.add_argument("--name", help="prior name under $DSCO_HOME/priors (default <dataset>-curve)")
    p.add_argument("--steps", type=int, help="training steps (default: fit_prior's)")
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--per-class", type=int, default=20, help="samples per class per score")
    p.add_argument("--sample-images", type=int, default=200, help="images for sampling throughput")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    p.add_argument("--overwrite", action="store_true", help="refit a prior that is already saved")
    p.add_argument("--out")
    return p.parse_args()


def main():
    args = parse()
    import torch

    from fiftyone_dsco.data import class_table, train_view
    from fiftyone_dsco.data.builtin import load_builtin
    from fiftyone_dsco.priors import fit_prior
    from fiftyone_dsco.priors.quality import score_recognisability
    from fiftyone_dsco.priors.sampler import sample_images

    if args.threads:
        torch.set_num_threads(args.threads)
    ds = load_builtin(args.dataset)
    train = train_view(ds)
    table = class_table(train, "ground_truth")
    rows = []

    def on_checkpoint(step, prior, seconds):
        rec = score_recognisability(prior, train, table, per_class=args.per_class)
        row = dict(dataset=args.dataset, step=step, train_seconds=round(seconds, 1),
                   minutes=round(seconds / 60, 2), steps_per_s=round(step / seconds, 3),
                   recognisability=round(100 * rec["overall"], 1))
        rows.append(row)
        print(json.dumps(row), flush=True)

    t0 = time.perf_counter()
    prior = fit_prior(ds, "ground_truth", name=args.name or f"{args.dataset}-curve",
                      steps=args.steps, checkpoint_every=args.checkpoint_every, patience=0,
                      on_checkpoint=on_checkpoint, overwrite=args.overwrite, progress=False)
    wall = time.perf_counter() - t0
    if not rows:  # reused from the cache: nothing measured, earlier results stay
        print(f"The prior at {prior.path} was already fitted; its results stay as they are. "
              f"Pass --overwrite to refit and measure again, or another --name.")
        return

    n = args.sample_images
    labels = [i % len(table.classes) for i in range(n)]
    start = time.perf_counter()
    sample_images(prior, labels, seed=0, steps=25, guidance=2.0)
    sample_s = time.perf_counter() - start
    summary = dict(prior=prior.path, steps=prior.card.training["steps"],
                   train_seconds=prior.card.training["seconds"], wall_seconds=round(wall, 1),
                   fit_steps_per_s=round(prior.card.training["steps"]
                                         / prior.card.training["seconds"], 2),
                   sampling_images_per_s=round(n / sample_s, 1), sampling_steps=25,
                   final_recognisability=round(100 * prior.card.recognisability["overall"], 1),
                   threads=torch.get_num_threads(), per_class=args.per_class)
    out = args.out or results_path(f"prior_quality_{args.dataset}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(rows, f, indent=1)
    write_meta(out, **summary)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
