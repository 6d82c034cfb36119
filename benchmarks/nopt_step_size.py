"""How far NOpt lowers the class MMD², by learning rate, with and without data, side by side.

    python benchmarks/nopt_step_size.py --dataset digits --ipc 10

NOpt takes one Adam step per sampler step from a fresh optimizer, so its first
(and only) move is ``lr * sign(grad)`` per element: a fixed-size step whatever
the gradient's size. This probe asks whether that step is too large: for each
learning rate (and, at lr 0.1, the first default, with the sampler predicting
again instead of reusing NOpt's prediction) it synthesises every class and reads
the run record's MMD² of the NOpt images and of plain samples of the same
starting noises to the same target bank (real features; data-free: the pool
of prior samples). No classifier is trained. Each probe run is deleted after
it is read. Writes ``benchmarks/results/nopt_step_size_<dataset>.json``.
"""

import argparse
import json
import time

import fiftyone_dsco  # noqa: F401  (FiftyOne environment defaults)
from _env import results_path, write_meta


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=["digits", "fashion-mnist"], default="digits")
    p.add_argument("--ipc", type=int, default=10)
    p.add_argument("--lrs", type=float, nargs="+", default=[0.3, 0.1, 0.03, 0.01])
    p.add_argument("--out")
    return p.parse_args()


def probe(ds, prior, ipc, lr, data_free, reuse):
    from fiftyone_dsco.runs import delete_run
    from fiftyone_dsco.synthesis import synthesize

    key = f"probe_lr{str(lr).replace('.', 'p')}{'_df' if data_free else ''}{'' if reuse else '_again'}"
    t = time.perf_counter()
    # no random ConvNets (data-free NOpt's default since December 6): the probe is of the step
    res = synthesize(ds, "ground_truth", prior, ipc, run_key=key, data_free=data_free, lr=lr,
                     reuse_prediction=reuse, random_nets=0, overwrite=True, progress=False)
    seconds = time.perf_counter() - t
    per = list(res["classes"].values())
    delete_run(ds, key)
    nopt = [r["mmd"] for r in per]
    plain = [r["mmd_plain"] for r in per]
    return dict(data_free=data_free, lr=lr, reuse_prediction=reuse, classes=len(per),
                mmd_nopt=round(sum(nopt) / len(per), 4), mmd_plain=round(sum(plain) / len(per), 4),
                classes_lowered=sum(n < p for n, p in zip(nopt, plain)),
                seconds=round(seconds, 1))


def main():
    args = parse()
    from fiftyone_dsco.data.builtin import load_builtin
    from fiftyone_dsco.priors import fit_prior

    ds = load_builtin(args.dataset)
    prior = fit_prior(ds, "ground_truth", name=args.dataset)
    rows = []
    for data_free in (False, True):
        arms = [(lr, True) for lr in args.lrs] + [(0.1, False)]
        for lr, reuse in arms:
            row = dict(dataset=args.dataset, ipc=args.ipc, **probe(ds, prior, args.ipc, lr,
                                                                   data_free, reuse))
            rows.append(row)
            print(json.dumps(row), flush=True)
    out = args.out or results_path(f"nopt_step_size_{args.dataset}.json")
    with open(out, "w") as f:
        json.dump(rows, f, indent=1)
    write_meta(out, prior=prior.path)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
