"""Harness check: does a recipe reproduce DC's published random baselines on Fashion-MNIST?

    python benchmarks/recipe_check.py --recipe dc --ipcs 1 10 50 --seeds 5

DC (Zhao, Mopuri & Bilen, ICLR 2021, Table 1) trained ConvNet-3 on random real
subsets of Fashion-MNIST without augmentation for 300 epochs: 51.4 ± 3.8,
73.8 ± 0.7 and 82.5 ± 0.7 % at 1, 10 and 50 images per class. This trains the
``random`` arm of :func:`fiftyone_dsco.evaluate` (a fresh class-balanced draw
per seed, the recipe's schedule and normalisation, tested on the 10,000 held-out
images) through the same internal functions ``evaluate()`` uses, without the
surrogate arm that ``evaluate()`` always trains. Writes
``benchmarks/results/recipe_check_<recipe>.json`` (+ ``.meta.json``).
"""

import argparse
import json
import time

import numpy as np

import fiftyone_dsco  # noqa: F401  (FiftyOne environment defaults)
from _env import results_path, write_meta

#: DC's Table 1, Fashion-MNIST, random real subsets: IPC -> (mean, std) in %.
PUBLISHED = {1: (51.4, 3.8), 10: (73.8, 0.7), 50: (82.5, 0.7)}


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipe", default="dc")
    p.add_argument("--ipcs", type=int, nargs="+", default=[1, 10, 50])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--epochs", type=int, help="override the recipe's epochs (a quick check)")
    p.add_argument("--out")
    return p.parse_args()


def main():
    args = parse()
    from fiftyone_dsco.data import class_table, train_view
    from fiftyone_dsco.data.builtin import load_builtin
    from fiftyone_dsco.evaluation import protocol as ev

    ds = load_builtin("fashion-mnist", progress=True)
    table = class_table(train_view(ds), "ground_truth")
    out = args.out or results_path(f"recipe_check_{args.recipe}.json")
    rows = []
    for ipc in args.ipcs:
        probe = ds.select([i for c in table.classes for i in table.ids_by_class[c][:ipc]])
        plan = ev._plan(ds, "ground_truth", {"probe": probe}, None, "convnet3", args.epochs,
                        tuple(range(args.seeds)), None, None, True, False, None,
                        "bench_recipe_check", None, None, False, args.recipe)
        arrays = ev._load_arrays(plan, progress=False)
        test = (ev.data.to_unit_range(arrays["test"]), plan["test_table"].labels())
        accs, seconds = [], []
        for seed in plan["seeds"]:
            images, labels, epochs = ev._arm_data(plan, arrays, ev.RANDOM, seed)
            t0 = time.perf_counter()
            model, _ = ev._fit(plan, images, labels, epochs, seed, None, None)
            seconds.append(time.perf_counter() - t0)
            accs.append(100 * ev._accuracy(model, *test)[0])
            print(f"IPC {ipc} seed {seed}: {accs[-1]:.2f} % ({seconds[-1]:.0f} s)", flush=True)
        mean, std = float(np.mean(accs)), float(np.std(accs, ddof=1 if len(accs) > 1 else 0))
        pub = PUBLISHED.get(ipc)
        rows.append(dict(ipc=ipc, accs=accs, mean=mean, std=std, seconds=seconds,
                         epochs=plan["epochs"], recipe=plan["recipe"].to_dict(),
                         normalize=plan.get("normalize"),
                         published=dict(mean=pub[0], std=pub[1]) if pub else None,
                         within_published_std=bool(pub and abs(mean - pub[0]) <= pub[1])))
        with open(out, "w") as f:
            json.dump(dict(dataset="fashion-mnist", arch="convnet3", rows=rows), f, indent=1)
    write_meta(out)
    for r in rows:
        pub = r["published"]
        print(f"IPC {r['ipc']}: {r['mean']:.2f} ± {r['std']:.2f} % "
              f"(DC: {pub['mean']} ± {pub['std']})" if pub else "")


if __name__ == "__main__":
    main()
