"""How small can the set be? ``budget_search`` on a built-in dataset, and what it costs.

    python benchmarks/budget_search.py --dataset digits

The prior is fitted on the search's fit split (the train split without the
validation split the search carves, same fraction and seed), so that no step
of the search has seen a validation image. The search then picks the smallest
budget (images per class) at which DsCo, herding or random loses at most
``--tolerance`` points against the full fit split on validation, and tests that
set once on the test split beside random and the full split. Writes
``benchmarks/results/budget_search_<dataset><tag>.json`` (the run's results without
the id lists) and its ``.meta.json``.
"""

import argparse
import json
import time

import fiftyone_dsco  # noqa: F401  (FiftyOne environment defaults)
from _env import results_path, write_meta


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=["digits", "fashion-mnist"], default="digits")
    p.add_argument("--tolerance", type=float, default=0.5)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, help="override the recipe's epochs (default 300)")
    p.add_argument("--recipe", default="dsco")
    p.add_argument("--ladder", type=int, nargs="+")
    p.add_argument("--methods", nargs="+", help="default: the library's (names.BUDGET_METHODS)")
    p.add_argument("--prior-steps", type=int)
    p.add_argument("--prior", help="a prior fitted on the fit split already (name or folder)")
    p.add_argument("--max-hours", type=float)
    p.add_argument("--run-key", default="bench_budget")
    p.add_argument("--tag", default="", help="suffix of the output file")
    p.add_argument("--export", action="store_true",
                   help="write the JSON from the run as it stands (an unfinished search: "
                        "the budgets measured so far), without measuring anything")
    return p.parse_args()


def main():
    args = parse()
    import logging

    from fiftyone_dsco import runs
    from fiftyone_dsco.budget import budget_search
    from fiftyone_dsco.budget.search import is_order_key
    from fiftyone_dsco.data.builtin import load_builtin
    from fiftyone_dsco.data.splits import validation_split
    from fiftyone_dsco.priors import fit_prior, load_prior

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    ds = load_builtin(args.dataset)
    fit = validation_split(ds, "ground_truth").fit  # the search's default split
    prior = load_prior(args.prior) if args.prior else fit_prior(
        fit, "ground_truth", name=f"{args.dataset}-budget-fit", steps=args.prior_steps,
        progress=True)
    t0 = time.time()
    if args.export:
        res = runs.load_results(ds, args.run_key)
        res.setdefault("stopped", "interrupted: the session ended (a re-run continues)")
    else:
        res = budget_search(ds, "ground_truth", prior.path, run_key=args.run_key,
                            tolerance=args.tolerance, ladder=args.ladder,
                            **({"methods": args.methods} if args.methods else {}),
                            seeds=tuple(range(args.seeds)), recipe=args.recipe,
                            epochs=args.epochs, max_hours=args.max_hours)
    out = {k: v for k, v in res.items() if k != "validation" and not is_order_key(k)}
    out["validation"] = {k: v for k, v in res["validation"].items() if k != "val_ids"}
    out["tolerance"] = args.tolerance
    cfg = runs.run_config(ds, args.run_key)  # DsCo's split, and its picks above the cap
    out.update({k: cfg.get(k) for k in ("synthetic_cap", "real_start_cap", "real_selector",
                                        "prefer_recognised")})
    out["search_seconds"] = None if args.export else round(time.time() - t0, 1)
    out["prior_seconds"] = prior.card.training.get("seconds")  # the fit's own time
    path = results_path(f"budget_search_{args.dataset}{args.tag}.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    write_meta(path, prior=prior.path, prior_card=dict(recognisability=prior.card.recognisability,
                                                       training=prior.card.training))
    print(json.dumps({k: out.get(k) for k in ("budget", "method", "stopped", "test",
                                              "search_seconds")}, indent=1))


if __name__ == "__main__":
    main()
