"""What every benchmark records beside its rows: command, date, machine, versions."""

import datetime
import os
import platform
import sys


def describe():
    """A dict: the command line, UTC date, machine and library versions of this run."""
    import importlib.metadata as md

    versions = {}
    for pkg in ("torch", "diffusers", "timm", "faiss-cpu", "fiftyone", "numpy"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    try:
        import torch

        device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    except ImportError:
        device = "cpu"
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = os.path.relpath(os.path.abspath(sys.argv[0]), repo)  # same from any directory
    return dict(command="python " + " ".join([script] + sys.argv[1:]),
                date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                machine=f"{platform.machine()}, {os.cpu_count()} cores, {device}",
                python=platform.python_version(), versions=versions)


def results_path(name):
    """Where a benchmark writes ``name``: ``benchmarks/results/``, or ``$DSCO_BENCH_RESULTS``
    (``run_all.sh --quick`` points it at ``benchmarks/results/quick/`` so that a check run never
    overwrites the committed tables)."""
    here = os.path.dirname(os.path.abspath(__file__))
    folder = os.environ.get("DSCO_BENCH_RESULTS") or os.path.join(here, "results")
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, name)


def write_meta(results_path, **extra):
    """Write ``<results>.meta.json`` beside a results file."""
    import json

    with open(results_path[: -len(".json")] + ".meta.json", "w") as f:
        json.dump(dict(describe(), **extra), f, indent=1)


def run_or_replace(fn, *args, **kwargs):
    """Call a DsCo run function, resuming a run with the same options and replacing one
    left by other options (an older default) instead of failing. Returns ``(result, replaced)``."""
    from fiftyone_dsco.errors import RunError

    try:
        return fn(*args, **kwargs), False
    except RunError as e:
        if "already exists with other options" not in str(e):
            raise
        print(f"replacing a stale run: {e}", flush=True)
        return fn(*args, overwrite=True, **kwargs), True


def validation_table(split, sets, name, prior, seeds, epochs, build_seconds, add_random=True,
                     per_set=None, arch="convnet3", lr=None, **row):
    """Train ``sets`` (name -> view) and a random arm (``add_random``) with the ``dsco`` recipe
    (``arch``, ``lr``: its network and SGD rate, recorded when not the defaults) on
    ``split.fit``, test them on ``split.val`` (``evaluation.measure``: nothing stored),
    and write the rows (plus ``row``'s fields, each set's ``build_seconds`` and its fields in
    ``per_set``, name -> dict) to ``results/<name>`` with its meta. Returns the rows."""
    import json

    from fiftyone_dsco.evaluation import measure

    res = measure(split.fit, "ground_truth", sets, split.val, epochs=epochs, arch=arch, lr=lr,
                  seeds=tuple(range(seeds)), add_random=add_random, progress=True)
    row = dict(row, **({} if arch == "convnet3" else {"arch": arch}),
               **({} if lr is None else {"lr": lr}))
    rows = [dict(row, method=a["name"], size=a["size"], acc_mean=round(100 * a["acc_mean"], 2),
                 acc_std=round(100 * a["acc_std"], 2), seeds=seeds, epochs=a["epochs"],
                 build_seconds=build_seconds.get(a["name"]), split="validation",
                 **(per_set or {}).get(a["name"], {}))
            for a in res["arms"].values()]
    for r in rows:
        print(json.dumps(r), flush=True)
    path = results_path(name)
    with open(path, "w") as f:
        json.dump(rows, f, indent=1)
    write_meta(path, prior=prior, validation=split.to_dict() | {"val_ids": None})
    return rows
