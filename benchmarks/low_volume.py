"""Low-volume table: random, herding, k-center, plain, NOpt, data-free NOpt, full.

One command per dataset, e.g.::

    python benchmarks/low_volume.py --dataset digits --ipc 1 10 50
    python benchmarks/low_volume.py --dataset fashion-mnist --ipc 10 --quick

Every arm at one IPC is evaluated in one ``evaluate()`` call (same recipe,
same seeds, same held-out test split), with a random real subset of the same
size and the full train split. Writes ``benchmarks/results/low_volume_<dataset>.json``
(rows: dataset, method, arch, ipc, fraction, acc_mean, acc_std, seeds,
seconds, ...) and prints a Markdown table. Priors and features are cached
under ``$DSCO_HOME``; synthesis runs are kept on the dataset and resumed.

``--offload DIR`` stops before training and writes evaluate()'s arrays and recipe to DIR;
``benchmarks/offload.py train`` trains them where a GPU is (torch and timm suffice), and
``--offloaded`` (same other options) makes the table from its results.
"""

import argparse
import json
import os
import platform
import time

import fiftyone_dsco  # noqa: F401  (FiftyOne environment defaults)
import offload
from fiftyone_dsco import names
from _env import results_path, run_or_replace, write_meta


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=["digits", "fashion-mnist"], default="digits")
    p.add_argument("--ipc", type=int, nargs="+", default=[1, 10, 50])
    p.add_argument("--arch", default="convnet3")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--full-epochs", type=lambda v: v if v == names.CONVERGE else int(v),
                   help="epochs of the full train split, or 'converge' (default: evaluate()'s "
                        "step-matching rule)")
    p.add_argument("--methods", nargs="+",
                   default=["herding", "kcenter", "plain", "nopt", "nopt-df"],
                   help="also: " + ", ".join(VARIANTS) + " (NOpt variants; nopt-real*: started "
                        "from herding's real picks at --strength)")
    p.add_argument("--prior", help="prior name/folder (default: fit or reuse <dataset> prior)")
    p.add_argument("--extractor", default="reference")
    p.add_argument("--iterations", type=int, default=1)
    p.add_argument("--lr", type=float, default=0.03)
    p.add_argument("--guidance", type=float,
                   help="default: synthesize()'s, per mode (2; 1 for data-free NOpt)")
    p.add_argument("--step-fraction", type=float,
                   help="NOpt updates only the first fraction of sampler steps "
                        "(default: the library's)")
    p.add_argument("--strength", type=float, help="nopt-real's SDEdit strength (default: the library's)")
    p.add_argument("--recipe", help="evaluation recipe (default: the library's)")
    p.add_argument("--no-reuse", action="store_true",
                   help="NOpt predicts again after each update (reuse_prediction=False)")
    p.add_argument("--pool-size", type=int, help="data-free pool per class (default max(10*IPC, 100))")
    p.add_argument("--train-lr", type=float, default=0.01,
                   help="SGD learning rate of every evaluated model (evaluate()'s lr)")
    p.add_argument("--no-full", action="store_true", help="skip the full-split arm")
    p.add_argument("--no-random", action="store_true",
                   help="skip the random arm (no IOR): one costly recipe on one set")
    p.add_argument("--tag", default="", help="suffix for run keys and the output file")
    p.add_argument("--synthesis-seed", type=int, default=0,
                   help="synthesize()'s seed: the synthetic sets drawn again (their run keys "
                        "and rows carry it)")
    p.add_argument("--selection-seed", type=int, default=0,
                   help="the real-only selectors' seed (k-means starts of prototypes): their "
                        "subsets drawn again (rows carry it)")
    p.add_argument("--part", default="",
                   help="suffix for the output file and evaluation keys only: more IPCs or methods "
                        "beside an earlier table, on the same synthesis runs (--tag)")
    where = p.add_mutually_exclusive_group()  # export for a GPU box, or read what it trained
    where.add_argument("--offload", metavar="DIR",
                   help="build the sets and write evaluate()'s arrays to DIR for a GPU machine "
                        "(benchmarks/offload.py train); no table")
    where.add_argument("--offloaded", metavar="DIR",
                   help="the table from models trained by offload.py (its --out folder)")
    p.add_argument("--quick", action="store_true", help="1 seed, 30 epochs: checks that nothing broke")
    p.add_argument("--out")
    return p.parse_args()


#: Real-only coresets: method -> (selector, its options, recognised real samples first), mmd-greedy
#: with its dense kernel on every class, as the validation tables measured it (since December 4
#: its default is dense up to 20,000); "-rec": dope(prefer_recognised=True)'s picks.
CORESETS = {"herding": ("herding", {}, False), "kcenter": ("kcenter", {}, False),
            "mmd-greedy": ("mmd-greedy", {"backend": "numpy"}, False),
            "herding-rec": ("herding", {}, True),
            "mmd-greedy-rec": ("mmd-greedy", {"backend": "numpy"}, True),
            "prototypes": ("prototypes", {}, False), "prototypes-rec": ("prototypes", {}, True)}


def coreset_ids(ds, table, prior, method, ipc, seed=0):
    """A real-only coreset (``CORESETS``) on the reference features of the real train split."""
    import numpy as np

    from fiftyone_dsco.data import train_view
    from fiftyone_dsco.features import build_extractor, real_features
    from fiftyone_dsco.features.reference import recognised_mask
    from fiftyone_dsco.selection.selectors import get_selector

    train = train_view(ds)
    size, ch = prior.card.image_size, prior.card.channels
    feat = build_extractor("reference", prior, view=train, table=table)
    x = real_features(train, table.ids(), feat, size, ch)
    starts = np.cumsum([0] + [len(table.ids_by_class[c]) for c in table.classes])
    selector, options, prefer = CORESETS[method]
    sel, ids = get_selector(selector, seed=seed, **options), []
    for k, c in enumerate(table.classes):
        xk = np.asarray(x[starts[k]:starts[k + 1]])
        preferred = recognised_mask(feat.module, xk, k) if prefer else None
        picks = sel.select(xk, ipc, preferred=preferred)
        ids += [table.ids_by_class[c][i] for i in picks]
    return ids


#: NOpt variants: the base method and the options it adds ("-half": no update in the last
#: half of the sampler steps, the lever that led on digits' validation split and lost on
#: Fashion-MNIST's; docs/benchmarks.md).
VARIANTS = {"nopt-half": ("nopt", {"step_fraction": 0.5}),
            "nopt-df-half": ("nopt-df", {"step_fraction": 0.5}),
            # data-free NOpt with two random ConvNets per step (led on validation, December 6;
            # data-free NOpt's default since: "nopt-df" pins them off, as its earlier rows)
            "nopt-df-nets2": ("nopt-df", {"random_nets": 2}),
            "nopt-real": ("nopt", {"init": "real", "match_histograms": False}),
            "nopt-real-half": ("nopt", {"init": "real", "step_fraction": 0.5,
                                        "match_histograms": False}),
            # real starts picked by mmd-greedy (chosen on validation, December 5)
            "nopt-real-mmd": ("nopt", {"init": "real", "init_selector": "mmd-greedy",
                                       "match_histograms": False}),
            # ... with histogram matching, the default since December 5 (the rows above were
            # made before it and pin it off)
            "nopt-real-mmd-match": ("nopt", {"init": "real", "init_selector": "mmd-greedy",
                                             "match_histograms": True}),
            # ... with two NOpt iterations per step: `concentrate()`'s band since December 6
            "nopt-real-mmd-match-iter2": ("nopt", {"init": "real", "init_selector": "mmd-greedy",
                                                   "match_histograms": True, "iterations": 2}),
            # NOpt from noise with histograms matched (every data-accessible run's default
            # since December 5; "plain" and "nopt" pin it off, as their earlier rows)
            "nopt-match": ("nopt", {"match_histograms": True})}


def nopt_options(method, args):
    """(base method, synthesis options) of ``method``: its variant's, ``--step-fraction``'s
    and ``--strength``'s (real starts)."""
    base, opts = VARIANTS.get(method, (method, {}))
    opts = dict(opts)
    if base == "nopt":  # "nopt" is NOpt from noise, whatever the library's default init
        opts.setdefault("init", "noise")
    if base in ("plain", "nopt"):  # unmatched, as the rows made before the default (December 5)
        opts.setdefault("match_histograms", False)
    if base == "nopt-df":  # no random ConvNets, as the rows made before the default (December 6)
        opts.setdefault("random_nets", 0)
    if base.startswith("nopt") and args.step_fraction is not None:
        opts.setdefault("step_fraction", args.step_fraction)
    if opts.get("init") == "real" and args.strength is not None:
        opts["strength"] = args.strength
    return base, opts


def init_of(method):
    """Where a set's images start: real images (coresets, random), noise or real starts."""
    if method in (*CORESETS, "random", "full"):
        return "real images"
    return "real" if method.startswith("nopt-real") else "noise"


def build_arm(ds, table, prior, method, ipc, args):
    from fiftyone_dsco.runs import run_samples
    from fiftyone_dsco.synthesis import synthesize

    t0 = time.perf_counter()
    if method in CORESETS:
        view = ds.select(coreset_ids(ds, table, prior, method, ipc, args.selection_seed))
        extra = {"selection_seed": args.selection_seed} if args.selection_seed else {}
        return view, time.perf_counter() - t0, extra
    key = f"bench_{method.replace('-', '_')}_ipc{ipc}{args.tag}"
    if args.synthesis_seed:
        key += f"_s{args.synthesis_seed}"
    base, opts = nopt_options(method, args)
    res, _ = run_or_replace(
        synthesize, ds, "ground_truth", prior, ipc, method="plain" if base == "plain" else "nopt",
        run_key=key, data_free=base == "nopt-df", guidance=args.guidance,
        lr=args.lr, extractor=args.extractor,
        reuse_prediction=not args.no_reuse, pool_size=args.pool_size, progress=False,
        seed=args.synthesis_seed, **{"iterations": args.iterations, **opts})  # a variant's wins
    per = res["classes"].values()
    extra = dict(synthesis_seconds=round(sum(r["seconds"] for r in per), 2))
    if opts:
        extra["nopt_options"] = opts
    if args.synthesis_seed:
        extra["synthesis_seed"] = args.synthesis_seed
    if any("mmd" in r for r in per):
        extra["mmd_mean"] = sum(r.get("mmd", 0) for r in per) / len(per)
    if any("mmd_plain" in r for r in per):
        extra["mmd_plain_same_seeds"] = sum(r["mmd_plain"] for r in per) / len(per)
    return run_samples(ds, key), time.perf_counter() - t0, extra


def main():
    args = parse()
    from fiftyone_dsco.data import class_table, train_view
    from fiftyone_dsco.data.builtin import load_builtin
    from fiftyone_dsco.evaluation import evaluate
    from fiftyone_dsco.priors import fit_prior, load_prior

    seeds = [0] if args.quick else list(range(args.seeds))
    epochs = 30 if args.quick else args.epochs
    ds = load_builtin(args.dataset)
    prior = load_prior(args.prior) if args.prior else fit_prior(ds, "ground_truth", name=args.dataset)
    table = class_table(train_view(ds), "ground_truth")
    n_train = table.num_samples
    arch_tag = "" if args.arch == "convnet3" else f"_{args.arch}"  # keeps ConvNet-3 results apart
    if args.train_lr != 0.01:  # and results of another training rate
        arch_tag += f"_trainlr{args.train_lr:g}".replace(".", "").replace("-", "m")
    rows, full_row, trained_on = [], None, set()
    for ipc in args.ipc:
        views, meta = {}, {}
        for m in args.methods:
            views[m], secs, extra = build_arm(ds, table, prior, m, ipc, args)
            meta[m] = dict(seconds=round(secs, 2), **extra)
            print(f"[ipc {ipc}] built {m} in {secs:.1f} s", flush=True)
        recipe = dict(arch=args.arch, epochs=epochs, seeds=seeds,
                      add_full=ipc == max(args.ipc) and not args.no_full,  # once, longest
                      add_random=not args.no_random,
                      full_epochs=args.full_epochs, lr=args.train_lr,
                      **({"recipe": args.recipe} if args.recipe else {}),
                      eval_key=f"bench_ipc{ipc}{args.tag}{arch_tag}{args.part}")
        if args.offload:
            offload.export(ds, "ground_truth", views, args.offload, **recipe)
            print(f"[ipc {ipc}] wrote {recipe['eval_key']} to {args.offload}", flush=True)
            continue
        if args.offloaded:
            res = offload.load(args.offloaded, recipe["eval_key"], recipe)
            trained_on.add(f"{res['device']}, torch {res['torch']}")
        else:
            res = evaluate(ds, "ground_truth", views, **recipe)
        for arm in res["arms"].values():
            name = arm["name"]  # the method as given (arm keys are sanitised: nopt-df -> nopt_df)
            row = dict(dataset=args.dataset, method=name, arch=args.arch, init=init_of(name),
                       recipe=args.recipe or names.DEFAULT_RECIPE,
                       ipc=ipc if name != "full" else round(n_train / len(table.classes), 1),
                       fraction=round(arm["size"] / n_train, 5),
                       acc_mean=round(100 * arm["acc_mean"], 2),  # percent, as the table says
                       acc_std=round(100 * arm["acc_std"], 2), seeds=len(seeds),
                       epochs=arm["epochs"], seconds=meta.get(name, {}).get("seconds", 0.0),
                       train_seconds=round(arm["seconds"], 1),
                       **{k: v for k, v in meta.get(name, {}).items() if k != "seconds"})
            if name == "full":
                if res.get("convergence"):  # --full-epochs converge: the ladder's curve
                    row["convergence"] = res["convergence"]
                full_row = row
            else:
                rows.append(row)
            print(json.dumps(row), flush=True)
    if args.offload:
        return
    if full_row is not None:
        rows.append(full_row)
    name = f"low_volume_{args.dataset}{args.tag}{arch_tag}{args.part}.json"
    out = args.out or results_path(name)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(rows, f, indent=1)
    extra = dict(training_device="; ".join(sorted(trained_on))) if trained_on else {}
    write_meta(out, epochs=epochs, full_epochs=args.full_epochs, train_lr=args.train_lr, **extra,
               prior=prior.path, prior_card=dict(
        recognisability=prior.card.recognisability, training=prior.card.training),
        nopt=dict(iterations=args.iterations, lr=args.lr, guidance=args.guidance,
                  extractor=args.extractor, reuse_prediction=not args.no_reuse,
                  pool_size=args.pool_size, step_fraction=args.step_fraction,
                  strength=args.strength))
    print(markdown(rows, args, prior))


def markdown(rows, args, prior):
    import torch

    rec = prior.card.recognisability.get("overall")
    head = (f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; "
            f"prior {prior.path} (recognisability {100 * rec:.1f}%)" if rec is not None else "")
    lines = [head, "", "| method | IPC | fraction | top-1 % (mean ± std) | seeds | build s | train s |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['method']} | {r['ipc']} | {100 * r['fraction']:.2f}% | "
                     f"{r['acc_mean']:.2f} ± {r['acc_std']:.2f} | {r['seeds']} | {r['seconds']} | "
                     f"{r['train_seconds']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
