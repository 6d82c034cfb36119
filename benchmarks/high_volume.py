"""High-volume table: concentrated sets at 10-50% of the train split vs random, coresets, full.

    python benchmarks/high_volume.py --dataset digits
    python benchmarks/high_volume.py --dataset digits --quick

Per fraction f (images per class b = f * train size / classes), one
``evaluate()`` call (same recipe, seeds and held-out split for every arm):

- ``herding``, ``kcenter``: coresets of b real images per class (reference features);
- ``dsco``: what ``concentrate()`` builds: the budget split of
  :func:`fiftyone_dsco.concentrate.split_budget` (NOpt images, one synthesis run
  per synthetic count), doped with the rest as real images (mmd-greedy);
- ``dsco-syn<N>`` (with ``--fixed-synthetic N``): N NOpt images per class at
  every fraction, the rest doped: the evidence for the split rule;
- ``dsco-real``: the same doping rule with no synthetic image (mmd-greedy
  herding of b real images): the synthetic share's contribution, i.e. the
  budget split that ``concentrate()`` must choose;
- ``random`` (same size and class balance) and ``full`` (once) added by evaluate().

``--skip dsco random`` trains only the coreset arms (the others reproduce exactly
with the same seeds, so another table's numbers stand for them).

Writes ``benchmarks/results/high_volume_<dataset>.json`` (+ ``.meta.json``).
"""

import argparse
import json
import os
import time

import fiftyone_dsco  # noqa: F401  (FiftyOne environment defaults)
import offload
from fiftyone_dsco import names
from _env import results_path, run_or_replace, write_meta
from low_volume import coreset_ids


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=["digits", "fashion-mnist"], default="digits")
    p.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.2, 0.3, 0.5])
    p.add_argument("--fixed-synthetic", type=int, nargs="*", default=[],
                   help="also an arm dsco-syn<N> with N NOpt images per class at every fraction")
    p.add_argument("--coresets", nargs="*", default=["herding", "kcenter"],
                   choices=["herding", "kcenter"], help="coreset arms (none: just random, dsco, full)")
    p.add_argument("--skip", nargs="*", default=[], choices=["dsco", "random"],
                   help="arms not to train (already in another table: dsco and random "
                        "reproduce exactly with the same seeds)")
    p.add_argument("--tag", default="", help="suffix of the output file")
    p.add_argument("--lr", type=float, default=0.03, help="NOpt's step size (synthesize()'s lr)")
    p.add_argument("--no-reuse", action="store_true",
                   help="NOpt predicts again after each update (reuse_prediction=False)")
    p.add_argument("--arch", default="convnet3")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--full-epochs", type=lambda v: v if v == names.CONVERGE else int(v), default=30,
                   help="epochs of the full train split, or 'converge' (trained once, with the "
                        "first fraction)")
    p.add_argument("--no-full", action="store_true",
                   help="skip the full split (the report takes it from the untagged table)")
    where = p.add_mutually_exclusive_group()  # export for a GPU box, or read what it trained
    where.add_argument("--offload", metavar="DIR",
                   help="build the sets and write evaluate()'s arrays to DIR for a GPU machine "
                        "(benchmarks/offload.py train); no table")
    where.add_argument("--offloaded", metavar="DIR",
                   help="the table from models trained by offload.py (its --out folder)")
    p.add_argument("--quick", action="store_true", help="1 seed, 10 epochs, fractions 0.1 0.5")
    p.add_argument("--out")
    return p.parse_args()


def dope_view(ds, syn_key, real, tag, overwrite=False):
    from fiftyone_dsco.selection.doping import concentrated_view, dope

    key = f"bench_hv_{tag}"
    # a doping run older than its synthesis run was selected against samples that are gone
    overwrite = overwrite or (key in ds.list_runs() and ds.get_run_info(key).timestamp
                              < ds.get_run_info(syn_key).timestamp)
    run_or_replace(dope, ds, "ground_truth", syn_key, real, run_key=key, clamp=True,
                   progress=False, **({"overwrite": True} if overwrite else {}))
    return concentrated_view(ds, key)


def main():
    args = parse()
    if {"dsco", "random"} <= set(args.skip) and not args.coresets and not args.fixed_synthetic:
        raise SystemExit("Nothing to train: --skip dsco random needs --coresets or --fixed-synthetic.")
    from fiftyone_dsco.concentrate import split_budget, start_options
    from fiftyone_dsco.data import class_table, train_view
    from fiftyone_dsco.data.builtin import load_builtin
    from fiftyone_dsco.evaluation import evaluate
    from fiftyone_dsco.priors import fit_prior
    from fiftyone_dsco.synthesis import synthesize

    seeds = [0] if args.quick else list(range(args.seeds))
    epochs = 10 if args.quick else args.epochs
    fractions = [0.1, 0.5] if args.quick else args.fractions
    ds = load_builtin(args.dataset)
    prior = fit_prior(ds, "ground_truth", name=args.dataset)
    table = class_table(train_view(ds), "ground_truth")
    n_train, n_cls = table.num_samples, len(table.classes)
    syn_seconds, replaced = {}, set()

    sfx = "_quick" if args.quick else ""  # quick checks keep their own runs (other settings)

    def nopt_run(n, init="noise"):  # one NOpt run per synthetic count, shared by all fractions
        key = f"bench_hv_nopt_ipc{n}{'' if init == 'noise' else '_' + init}{sfx}"
        t = time.perf_counter()
        start = start_options(init, None, None, {})  # real: concentrate()'s starts above the cap
        _, stale = run_or_replace(synthesize, ds, "ground_truth", prior, n, run_key=key,
                                  lr=args.lr, reuse_prediction=not args.no_reuse, progress=False,
                                  **start)
        if stale:
            replaced.add(key)  # doping runs conditioned on its old samples are rebuilt too
        syn_seconds.setdefault(key, time.perf_counter() - t)
        return key

    def build_views(b, pct, n_syn):  # every arm's set at b per class, and its build seconds
        views, build = {}, {}
        for sel in args.coresets:
            t = time.perf_counter()
            views[sel] = ds.select(coreset_ids(ds, table, prior, sel, b))
            build[sel] = time.perf_counter() - t
        for arm, n in n_syn.items():
            m = min(n, b)
            init = split_budget(b).init if arm == "dsco" else "noise"
            key = nopt_run(m, init) if m else None  # synthesis time counted once, below
            t = time.perf_counter()
            if m:
                views[arm] = dope_view(ds, key, b - m, f"{arm}_{pct}_s{m}{sfx}".replace("-", "_"),
                                       overwrite=key in replaced)
            else:  # all real: the product's real-only doping
                views[arm] = ds.select(coreset_ids(ds, table, prior, "mmd-greedy", b))
            build[arm] = syn_seconds.get(key, 0.0) + time.perf_counter() - t
        if n_syn.get("dsco"):  # else dsco is already the real-only doping
            t = time.perf_counter()
            views["dsco-real"] = ds.select(coreset_ids(ds, table, prior, "mmd-greedy", b))
            build["dsco-real"] = time.perf_counter() - t
        return views, build

    rows, full_row, trained_on = [], None, set()
    for f in fractions:
        b = max(1, round(f * n_train / n_cls))
        pct = int(round(100 * f))
        n_syn = {} if "dsco" in args.skip else {"dsco": split_budget(b)[0]}
        n_syn.update({f"dsco-syn{n}": n for n in args.fixed_synthetic})
        recipe = dict(arch=args.arch, epochs=epochs, seeds=seeds,
                      add_random="random" not in args.skip,
                      add_full=f == fractions[0] and not args.no_full,  # once
                      full_epochs=args.full_epochs, eval_key=f"bench_hv_{pct}{args.tag}")
        if args.offloaded:  # the sets were built by --offload, which kept their build times
            res = offload.load(args.offloaded, recipe["eval_key"], recipe, partial=True)
            trained_on.add(f"{res['device']}, torch {res['torch']}")
            build = res["extra"]["build"]
        else:
            views, build = build_views(b, pct, n_syn)
            if args.offload:
                offload.export(ds, "ground_truth", views, args.offload, extra=dict(build=build),
                               **recipe)
                print(f"[{pct} %] wrote {recipe['eval_key']} to {args.offload}", flush=True)
                continue
            res = evaluate(ds, "ground_truth", views, progress=False, **recipe)
        for arm in res["arms"].values():
            name = arm["name"]
            row = dict(dataset=args.dataset, method=name, arch=args.arch, ipc=arm["ipc"],
                       fraction=round(arm["size"] / n_train, 5), target_fraction=f,
                       acc_mean=round(100 * arm["acc_mean"], 2),
                       acc_std=round(100 * arm["acc_std"], 2), seeds=len(seeds),
                       epochs=arm["epochs"], seconds=round(build.get(name, 0.0), 2),
                       train_seconds=round(arm["seconds"], 1),
                       synthetic_per_class=min(b, n_syn.get(name, 0)))
            if name == "full":
                full_row = row
            else:
                rows.append(row)
            print(json.dumps(row), flush=True)
        _write(args, rows + [full_row] if full_row else rows, epochs, prior,  # partial results last
               trained_on)


def _write(args, rows, epochs, prior, trained_on=()):
    out = args.out or results_path(f"high_volume_{args.dataset}{args.tag}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as fh:
        json.dump(rows, fh, indent=1)
    write_meta(out, epochs=epochs, full_epochs=args.full_epochs, split="split_budget",
               coresets=args.coresets, skip=args.skip,
               fixed_synthetic=args.fixed_synthetic, prior=prior.path,
               nopt=dict(lr=args.lr, reuse_prediction=not args.no_reuse),
               **(dict(training_device="; ".join(sorted(trained_on))) if trained_on else {}))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
