"""Train an evaluation's models on another machine: arrays out here, models trained there.

``evaluate()`` loads every training set and the test split as arrays, then trains one model
per arm and seed. Only the training wants a GPU, and it needs only torch, timm and
``fiftyone_dsco.evaluation.training``; a GPU box without FiftyOne or MongoDB can do it::

    python benchmarks/low_volume.py ... --offload DIR         # here: writes DIR/<eval_key>.*
    python benchmarks/offload.py train DIR --out RESULTS       # there: RESULTS/<eval_key>.json
    python benchmarks/low_volume.py ... --offloaded RESULTS    # here: the table
    (high_volume.py takes the same two options)

The arrays, seeds, random subsets, epochs and SGD recipe are evaluate()'s own (its plan is
built, leakage check included, by the same code); only the device differs. The test and
train arrays are written once per content (``arrays-<hash>.npz``) and shared by the jobs.
With ``full_epochs="converge"`` the full arm climbs evaluate()'s convergence ladder where it
trains (``fiftyone_dsco.evaluation.convergence``, the same rule), and the results carry its
curve as evaluate()'s do (``convergence``).
"""

import argparse
import glob
import hashlib
import json
import os
import sys
import time

import numpy as np

JOB = ".job.json"


def export(dataset, label_field, train_views, folder, eval_key, arch="convnet3", epochs=300,
           seeds=(0, 1, 2), add_random=True, add_full=True, full_epochs=None, lr=None,
           batch_size=None, extra=None, recipe="dsco"):
    """Write the arrays and recipe of ``evaluate(dataset, label_field, train_views, ...)``;
    ``extra`` (JSON) travels with the job and comes back in its results."""
    from fiftyone_dsco.evaluation import protocol as ev

    plan = ev._plan(dataset, label_field, train_views, None, arch, epochs, seeds, None, None,
                    add_random, add_full, full_epochs, eval_key, batch_size, lr, False, recipe)
    arrays = ev._load_arrays(plan, progress=False)
    os.makedirs(folder, exist_ok=True)
    shared = {"test": arrays["test"], "test_labels": plan["test_table"].labels()}
    if "train" in arrays:
        shared["train"] = arrays["train"]
    digest = hashlib.sha1(b"".join(np.ascontiguousarray(a).tobytes()
                                   for a in shared.values())).hexdigest()[:12]
    shared_name = f"arrays-{digest}.npz"
    if not os.path.isfile(os.path.join(folder, shared_name)):
        np.savez_compressed(os.path.join(folder, shared_name), **shared)
    own, arms, train_rows = {}, [], None
    for arm, spec in plan["arms"].items():
        jobs = []
        for seed in plan["seeds"]:
            images, labels, arm_epochs = ev._arm_data(plan, arrays, arm, seed)
            if spec["kind"] == ev.FULL:
                rows = np.arange(len(labels))
            elif spec["kind"] == ev.RANDOM:
                rows = ev._random_rows(plan["table"], spec["counts"], seed)
            else:  # a surrogate set: the same for every seed, stored once
                if train_rows is None:
                    train_rows = {i: k for k, i in enumerate(plan["table"].ids())}
                rows = ([train_rows.get(i) for i in spec["ids"]] if "train" in shared else [None])
            key = f"{arm}__{seed}" if spec["kind"] == ev.RANDOM else arm
            if None in rows:  # synthetic images: their own pixels
                own.setdefault(key + "__x", images)
            else:  # real train samples: rows of the shared train array
                assert np.array_equal(shared["train"][rows], images), arm
                own.setdefault(key + "__rows", np.asarray(rows))
            own.setdefault(key + "__y", np.asarray(labels))
            # the full arm's epochs are None when its ladder chooses them (train_job)
            jobs.append(dict(seed=seed, key=key,
                             epochs=None if arm_epochs is None else int(arm_epochs)))
        arms.append(dict(arm=arm, name=spec["name"], kind=spec["kind"], jobs=jobs))
    np.savez_compressed(os.path.join(folder, f"{eval_key}.npz"), **own)
    recipe = dict(eval_key=eval_key, arrays=shared_name, arch=plan["arch"],
                  num_classes=len(plan["table"].classes), classes=plan["table"].classes,
                  batch_size=plan["batch_size"], lr=plan["lr"], epochs=plan["epochs"],
                  full_epochs=plan["full_epochs"], seeds=plan["seeds"],
                  train_size=plan["table"].num_samples, arms=arms, extra=extra or {},
                  training=ev._training_options(plan, None),
                  convergence=plan["convergence"] and plan["convergence"].to_dict())
    with open(os.path.join(folder, eval_key + JOB), "w") as f:
        json.dump(recipe, f, indent=1)
    return recipe


def load(folder, eval_key, recipe, partial=False):
    """The results of a trained job, shaped like evaluate()'s (``arms``: name, acc_mean, ...);
    ``recipe`` (evaluate()'s arch, epochs, seeds, lr) must be the one the job was exported
    with; with ``partial``, also a job cut short (only its finished arms)."""
    path = os.path.join(folder, f"{eval_key}.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no trained results; run `offload.py train` on the "
                                f"folder that --offload wrote, then pass its --out here.")
    with open(path) as f:
        res = json.load(f)
    want = dict(arch=recipe["arch"], lr=recipe.get("lr", 0.01), seeds=list(recipe["seeds"]))
    got = {k: res[k] for k in want}
    got_epochs = {a["epochs"] for a in res["arms"].values() if a["kind"] != "full"}
    if got != want or got_epochs - {recipe["epochs"]}:
        raise ValueError(f"{path} was trained with {got}, epochs {sorted(got_epochs)}, not "
                         f"{want}, epochs {recipe['epochs']}: pass --offloaded the options "
                         f"that --offload was given.")
    if not res.get("complete"):
        if not partial:
            raise RuntimeError(f"{path}: training stopped before every arm finished.")
        print(f"warning: {path} holds only {sorted(res['arms'])} (cut short)", flush=True)
    return res


def _to_unit(images):  # data.to_unit_range without FiftyOne's data layer
    import torch

    return torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8)).float() / 127.5 - 1.0


def train_job(folder, recipe, out, device=None):
    """Train every arm and seed of one exported job; writes ``out`` after each arm."""
    import torch

    from fiftyone_dsco.evaluation.convergence import seed_std
    from fiftyone_dsco.evaluation.training import predict, train_classifier

    shared = np.load(os.path.join(folder, recipe["arrays"]))
    own = np.load(os.path.join(folder, recipe["eval_key"] + ".npz"))
    test_x, test_y = _to_unit(shared["test"]), shared["test_labels"]
    train = shared["train"] if "train" in shared else None  # an npz decompresses on each access
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    res = dict(eval_key=recipe["eval_key"], arch=recipe["arch"], lr=recipe["lr"],
               seeds=recipe["seeds"], batch_size=recipe["batch_size"],
               device=torch.cuda.get_device_name(0) if dev.startswith("cuda") else "cpu",
               torch=torch.__version__, extra=recipe.get("extra", {}), arms={}, complete=False)
    t0 = time.perf_counter()

    def fit(job, epochs):
        k = job["key"]
        x = own[k + "__x"] if k + "__x" in own else train[own[k + "__rows"]]
        options = dict(recipe.get("training") or dict(batch_size=recipe["batch_size"],
                                                      lr=recipe["lr"]), epochs=epochs)
        model, secs = train_classifier(_to_unit(x), own[k + "__y"], recipe["num_classes"],
                                       recipe["arch"], seed=job["seed"], device=dev, **options)
        pred = predict(model, test_x).argmax(1).numpy()
        per_class = [float((pred[test_y == c] == c).mean()) if (test_y == c).any() else None
                     for c in range(recipe["num_classes"])]
        return dict(acc=float((pred == test_y).mean()), per_class=per_class, seconds=secs,
                    size=len(x), epochs=epochs)

    for arm in recipe["arms"]:
        if arm["kind"] == "full" and recipe.get("convergence"):
            fits, res["convergence"] = _climb(arm, recipe["convergence"], fit)
        else:
            fits = [fit(job, job["epochs"]) for job in arm["jobs"]]
        accs = [f["acc"] for f in fits]
        res["arms"][arm["arm"]] = dict(
            name=arm["name"], kind=arm["kind"], accs=accs, acc_mean=float(np.mean(accs)),
            acc_std=seed_std(accs),
            size=fits[0]["size"], ipc=fits[0]["size"] / recipe["num_classes"],
            epochs=fits[0]["epochs"],
            seconds=float(np.mean([f["seconds"] for f in fits])),
            per_class=dict(zip(recipe["classes"], np.mean(
                np.array([f["per_class"] for f in fits], dtype=float), axis=0).tolist())))
        res["complete"] = len(res["arms"]) == len(recipe["arms"])
        res["wall_seconds"] = round(time.perf_counter() - t0, 1)
        with open(out, "w") as f:
            json.dump(res, f, indent=1)
        print(f"{recipe['eval_key']} {arm['name']}: {100 * np.mean(accs):.2f} "
              f"({res['wall_seconds']} s)", flush=True)
    return res


def _climb(arm, spec, fit):
    """The full arm's fits at the last rung of its convergence ladder, and the ladder's record
    (evaluate()'s rule: ``fiftyone_dsco.evaluation.convergence.climb``)."""
    from fiftyone_dsco.evaluation.convergence import Convergence, climb, rung_summary

    rungs = {}

    def train_rung(epochs):
        rungs[epochs] = [fit(job, epochs) for job in arm["jobs"]]
        row = rung_summary(rungs[epochs])
        print(f"full split, {epochs} epochs: {100 * row['acc_mean']:.2f}", flush=True)
        return row

    record = climb(Convergence(spec["start"], spec["max_epochs"], spec["tolerance"]), train_rung)
    return rungs[record["epochs"]], record


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train every exported job of a folder")
    t.add_argument("folder")
    t.add_argument("--out", required=True, help="folder for <eval_key>.json results")
    t.add_argument("--jobs", nargs="+", help="eval keys to train, in this order (default: all)")
    t.add_argument("--device")
    args = p.parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    keys = args.jobs or sorted(os.path.basename(f)[: -len(JOB)]
                               for f in glob.glob(os.path.join(args.folder, "*" + JOB)))
    os.makedirs(args.out, exist_ok=True)
    for key in keys:
        with open(os.path.join(args.folder, key + JOB)) as f:
            recipe = json.load(f)
        train_job(args.folder, recipe, os.path.join(args.out, key + ".json"), args.device)


if __name__ == "__main__":
    main()
