"""Scaling: one synthesis run on 1 and 2 delegated-queue workers, side by side.

    .venv/bin/python benchmarks/scaling.py                 # defaults below
    .venv/bin/python benchmarks/scaling.py --ipc 20 --steps 25 --shards 4 --workers 1 2

Starts a private MongoDB and FiftyOne folders in a temporary directory (nothing
of the user's FiftyOne is touched), loads digits, fits a small prior, then:

1. ``in-process``: one unsharded ``synthesize()`` call (the work itself);
2. for each worker count W: the synthesize operator with ``num_shards=N``
   queues N delegated operations, and W worker processes (each
   ``DelegatedOperationService().execute_queued_operations``, what
   ``fiftyone delegated launch`` runs) drain the queue together. Wall time is
   from starting the workers to the merged, complete run.

Every process uses one torch thread (``OMP_NUM_THREADS=1``), so W workers use
W cores. Writes ``benchmarks/results/scaling.json`` (+ ``.meta.json``) and
prints a Markdown table. Sharding overhead = (1-worker wall - in-process wall)
/ 1-worker wall: worker start-up (imports), queue, per-shard set-up (prior and
extractor loading) and the merge.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
URI = "@dsco/fiftyone-dsco/synthesize"

WORKER = """
import os, sys, time
t0 = time.time()
import fiftyone_dsco  # noqa: F401
from fiftyone.operators.delegated import DelegatedOperationService
t1 = time.time()
DelegatedOperationService().execute_queued_operations(operator=sys.argv[1])
print("IMPORT_S", t1 - t0)
"""


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ipc", type=int, default=20)
    p.add_argument("--steps", type=int, default=25, help="DDIM steps")
    p.add_argument("--iterations", type=int, default=1, help="NOpt iterations per step")
    p.add_argument("--shards", type=int, default=4)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--prior-steps", type=int, default=50, help="prior fit steps (speed only)")
    p.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "scaling.json"))
    return p.parse_args()


def start_mongod(tmp):
    import importlib.util

    pkg = importlib.util.find_spec("fiftyone").submodule_search_locations[0]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = os.path.join(tmp, "db")
    os.makedirs(db)
    proc = subprocess.Popen([os.path.join(pkg, "db", "bin", "mongod"), "--dbpath", db, "--port",
                             str(port), "--bind_ip", "127.0.0.1", "--logpath",
                             os.path.join(db, "mongod.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"mongodb://127.0.0.1:{port}"
        time.sleep(0.1)
    raise RuntimeError("mongod did not start")


def install_plugin(dest):
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        if rel.startswith(("fiftyone_dsco/", "operators/", "plugin/")) or rel == "fiftyone.yml":
            os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, rel), os.path.join(dest, rel))


def main():
    args = parse()
    tmp = tempfile.mkdtemp(prefix="dsco-scaling-")
    mongod, uri = start_mongod(tmp)
    os.environ.update(FIFTYONE_DATABASE_URI=uri, FIFTYONE_DATABASE_VALIDATION="false",
                      FIFTYONE_DO_NOT_TRACK="true", FIFTYONE_SHOW_PROGRESS_BARS="false",
                      FIFTYONE_DEFAULT_DATASET_DIR=os.path.join(tmp, "media"),
                      FIFTYONE_PLUGINS_DIR=os.path.join(tmp, "plugins"),
                      DSCO_HOME=os.path.join(tmp, "dsco-home"), OMP_NUM_THREADS="1",
                      CUDA_VISIBLE_DEVICES="")
    try:
        rows, meta = run(args, tmp)
    finally:
        import fiftyone.core.odm.database as fod

        try:
            fod._disconnect()
        except Exception:  # noqa: BLE001
            pass
        mongod.terminate()
        mongod.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(rows, f, indent=1)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _env import write_meta

    write_meta(args.out, **meta)
    print(table(rows))


def run(args, tmp):
    import torch

    torch.set_num_threads(1)
    import fiftyone.operators as foo

    from fiftyone_dsco import runs
    from fiftyone_dsco.data.builtin import load_builtin
    from fiftyone_dsco.priors import fit_prior
    from fiftyone_dsco.synthesis import synthesize

    install_plugin(os.path.join(tmp, "plugins", "fiftyone-dsco"))
    ds = load_builtin("digits")
    ds.persistent = True
    prior_dir = os.path.join(tmp, "prior")
    fit_prior(ds, "ground_truth", output_dir=prior_dir, steps=args.prior_steps,
              recognisability=False, device="cpu")
    kw = dict(ipc=args.ipc, method="nopt", iterations=args.iterations, steps=args.steps,
              extractor="random", seed=0)
    t = time.perf_counter()
    res = synthesize(ds, "ground_truth", prior_dir, run_key="inproc", device="cpu", **kw)
    inproc = time.perf_counter() - t
    work = sum(r["seconds"] for r in res["classes"].values())
    rows = [dict(setup="in-process, unsharded", workers=1, shards=1, wall_s=round(inproc, 1),
                 class_seconds=round(work, 1), num_samples=res["num_samples"])]
    script = os.path.join(tmp, "worker.py")
    with open(script, "w") as f:
        f.write(WORKER)
    for w in args.workers:
        key = f"w{w}"
        foo.get_operator("@dsco/fiftyone-dsco/synthesize")(
            ds.view(), "ground_truth", prior_dir, run_key=key, num_shards=args.shards, **kw)
        t = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, script, URI], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for _ in range(w)]
        outs = [p.communicate()[0] for p in procs]
        wall = time.perf_counter() - t
        if any(p.returncode for p in procs):
            raise RuntimeError("a worker failed:\n" + "\n".join(outs))
        ds.reload()
        r = runs.load_results(ds, key)
        assert r["complete"] and r["num_samples"] == res["num_samples"], r
        imports = [float(line.split()[1]) for o in outs for line in o.splitlines()
                   if line.startswith("IMPORT_S")]
        shard_s = {k: round(s["finished"] - s["started"], 1) for k, s in r["shards"].items()}
        rows.append(dict(setup=f"{w} worker{'s' if w > 1 else ''}, {args.shards} shards",
                         workers=w, shards=args.shards, wall_s=round(wall, 1),
                         class_seconds=round(sum(c["seconds"] for c in r["classes"].values()), 1),
                         num_samples=r["num_samples"],
                         worker_import_s=round(max(imports), 1) if imports else None,
                         shard_wall_s=shard_s,
                         workers_used=len({s["pid"] for s in r["shards"].values()})))
    one = next((r for r in rows if r["workers"] == 1 and r["shards"] > 1), None)
    for r in rows[1:]:
        r["speedup_vs_1_worker"] = round(one["wall_s"] / r["wall_s"], 2) if one else None
    if one:
        one["sharding_overhead"] = round((one["wall_s"] - inproc) / one["wall_s"], 3)
    meta = dict(job=dict(dataset="digits (1437 train, 10 classes)", **kw,
                         prior="default UNet, %d fit steps" % args.prior_steps),
                load_note="2-core machine; other jobs may have been running at the same time")
    return rows, meta


def table(rows):
    out = ["| setup | wall s | sum of per-class s | speed-up vs 1 worker | overhead |",
           "|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['setup']} | {r['wall_s']} | {r['class_seconds']} | "
                   f"{r.get('speedup_vs_1_worker', '-')} | {r.get('sharding_overhead', '-')} |")
    return "\n".join(out)


if __name__ == "__main__":
    main()
