"""Joint selection (K synthetic candidates per kept image) against K = 1 and herding, on validation.

    python benchmarks/joint_selection.py --dataset digits --budget 10 --candidates 1 2 3

Chooses on validation, never on test: the sets are built on the fit split of
``validation_split`` (10 % of each class's train samples held out, seed 0) with
a prior fitted on that fit split (``--prior``, e.g. the budget search
benchmark's ``digits-budget-fit``), and every set is trained 3 seeds with the
``dsco`` recipe and tested on the validation split (``evaluation.measure``,
which stores nothing). Arms: ``concentrate`` at ``--budget`` images per class
with each K, herding's first picks (real images only), and a random subset of
the same size (``--no-baselines``: neither). ``--synthetic-cap`` changes
``concentrate``'s split of the budget (e.g. 5 at a budget of 10: 5 NOpt images
+ 5 real ones picked given them). Writes
``benchmarks/results/joint_selection_<dataset><tag>.json``.
"""

import argparse
import time

import fiftyone_dsco  # noqa: F401  (FiftyOne environment defaults)
from fiftyone_dsco import names
from _env import validation_table


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=names.BUILTIN_DATASETS, default=names.DEFAULT_DATASET)
    p.add_argument("--prior", required=True, help="a prior fitted on the fit split")
    p.add_argument("--budget", type=int, default=10,
                   help="total images per class of each set, synthetic + real (concentrate's "
                        "budget; herding and random get as many)")
    p.add_argument("--candidates", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int)
    p.add_argument("--synthetic-cap", type=int, default=names.SYNTHETIC_CAP)
    p.add_argument("--no-baselines", action="store_true", help="train neither herding nor random")
    p.add_argument("--tag", default="", help="suffix of the results file")
    return p.parse_args()


def main():
    args = parse()
    from fiftyone_dsco.concentrate import concentrate
    from fiftyone_dsco.data.builtin import load_builtin
    from fiftyone_dsco.data.splits import validation_split
    from fiftyone_dsco.selection.doping import concentrated_view, dope

    ds = load_builtin(args.dataset)
    split = validation_split(ds, "ground_truth")
    b, sets, seconds, split_of = args.budget, {}, {}, {}
    for k in args.candidates:
        t0 = time.time()
        cap = "" if args.synthetic_cap == names.SYNTHETIC_CAP else f"_cap{args.synthetic_cap}"
        name = f"dsco_k{k}{cap}"
        out = concentrate(split.fit, "ground_truth", args.prior, b, candidates_per_image=k,
                          synthetic_cap=args.synthetic_cap, run_key=f"val_joint{k}_b{b}{cap}",
                          progress=True)
        sets[name] = ds.load_saved_view(out["saved_view"])
        seconds[name] = round(time.time() - t0, 1)
        split_of[name] = {k: out[k] for k in ("synthetic_per_class", "real_per_class")}
        print(f"built {name} ({out['synthetic_per_class']} synthetic + {out['real_per_class']} "
              f"real per class) in {seconds[name]} s", flush=True)
    if not args.no_baselines:
        dope(split.fit, "ground_truth", None, b, selector="herding", prior=args.prior,
             run_key=f"val_herding_b{b}", prefer_recognised=False)  # plain herding
        sets["herding"] = concentrated_view(ds, f"val_herding_b{b}")
    validation_table(split, sets, f"joint_selection_{args.dataset}{args.tag}.json", args.prior,
                     args.seeds, args.epochs, seconds, not args.no_baselines, split_of,
                     dataset=args.dataset, budget=b, synthetic_cap=args.synthetic_cap)


if __name__ == "__main__":
    main()
