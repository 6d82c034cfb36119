"""NOpt vs plain sampling time, same prior, steps, seeds and images, timed side by side.

NOpt is timed twice: with ``reuse_prediction`` (the default: the sampler step
reuses the last iteration's noise prediction) and without it (one more guided
denoiser pass per step).

    python benchmarks/nopt_cost.py --dataset digits --ipc 10
    python benchmarks/nopt_cost.py --dataset digits --ipc 1 10 50 --repeats 3

For each class (and repeat) plain sampling and NOpt denoise the same starting
noises one right after the other in this process, so both see the same load;
the ratio is the median over classes and repeats of NOpt time / plain time.
Target features (reference extractor, real train images) are computed once
beforehand, as ``synthesize()`` does; they are not counted in either time.
Writes ``benchmarks/results/nopt_cost_<dataset>.json`` (+ ``.meta.json``).
"""

import argparse
import json
import os
import statistics
import time

import fiftyone_dsco  # noqa: F401  (FiftyOne environment defaults)
from _env import results_path, write_meta


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=["digits", "fashion-mnist"], default="digits")
    p.add_argument("--ipc", type=int, nargs="+", default=[1, 10, 50])
    p.add_argument("--classes", type=int, default=3, help="classes timed per IPC")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--steps", type=int, default=25)
    p.add_argument("--iterations", type=int, default=1)
    p.add_argument("--out")
    return p.parse_args()


def main():
    args = parse()
    import torch

    from fiftyone_dsco.data import class_table, train_view
    from fiftyone_dsco.data.builtin import load_builtin
    from fiftyone_dsco.features import build_extractor, real_features
    from fiftyone_dsco.synthesis.nopt import NOptHook, NOptOptions
    from fiftyone_dsco.priors import fit_prior
    from fiftyone_dsco.priors.sampler import denoise, initial_noise

    ds = load_builtin(args.dataset)
    prior = fit_prior(ds, "ground_truth", name=args.dataset)
    train = train_view(ds)
    table = class_table(train, "ground_truth")
    ext = build_extractor("reference", prior, view=train, table=table).to(prior.device)
    variants = {"reuse": NOptOptions(iterations=args.iterations, reuse_prediction=True),
                "recompute": NOptOptions(iterations=args.iterations, reuse_prediction=False)}
    model_idx = prior.card.class_indices(table.classes)
    rows = []
    for ipc in args.ipc:
        plain_s, nopt_s = [], {v: [] for v in variants}
        for rep in range(args.repeats):
            for k in range(args.classes):
                c = table.classes[k]
                bank = real_features(train, table.ids_by_class[c], ext, prior.card.image_size,
                                     prior.card.channels, prior.device)
                labels = torch.full((ipc,), model_idx[k], dtype=torch.long, device=prior.device)
                noise = initial_noise(prior, ipc, 1000 * rep + k)
                t = time.perf_counter()
                denoise(prior, noise, labels, args.steps, 2.0)
                plain_s.append(time.perf_counter() - t)
                for v, opts in variants.items():
                    hook = NOptHook(prior, ext, bank, labels, 2.0, args.steps, opts, seed=k)
                    t = time.perf_counter()
                    denoise(prior, noise, labels, args.steps, 2.0, hook)
                    nopt_s[v].append(time.perf_counter() - t)
        row = dict(dataset=args.dataset, ipc=ipc, steps=args.steps, iterations=args.iterations,
                   samples=len(plain_s), plain_s_per_class=round(statistics.median(plain_s), 3),
                   plain_img_per_s=round(ipc / statistics.median(plain_s), 1))
        for v, times in nopt_s.items():
            sfx = "" if v == "reuse" else "_recompute"
            ratios = [n / p for n, p in zip(times, plain_s)]
            row.update({f"nopt_s_per_class{sfx}": round(statistics.median(times), 3),
                        f"ratio_median{sfx}": round(statistics.median(ratios), 2),
                        f"ratio_min{sfx}": round(min(ratios), 2),
                        f"ratio_max{sfx}": round(max(ratios), 2),
                        f"nopt_img_per_s{sfx}": round(ipc / statistics.median(times), 1)})
        rows.append(row)
        print(json.dumps(row), flush=True)
    out = args.out or results_path(f"nopt_cost_{args.dataset}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(rows, f, indent=1)
    write_meta(out, threads=torch.get_num_threads(), device=str(prior.device))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
