"""Scale benchmark of the doping selectors (fiftyone_dsco.selection.selectors).

Generates a Gaussian-mixture feature set per size (n vectors, ``--dim`` dims,
float32, ``--classes`` classes of about n/classes vectors, each class a mixture
of 4 sub-modes) plus ``--synthetic`` synthetic vectors per class drawn from 2 of
the sub-modes only, then runs every selector over all classes with
``--num-picks`` real picks per class. mmd-greedy runs once per ``--paths`` backend in
the same process, side by side: ``faiss`` (sparse kNN kernel, ``--k``),
``numpy`` (dense kernel, exact) and ``kmeans`` (FAISS k-means summary of the
target, ``--centroids``). A path can run on fewer classes (``--brute-classes``
for numpy) or on the first N vectors of each class (``--dense-points``,
``--sparse-points``); its seconds are then extrapolated to the full size
(classes: linearly; points: dense x (n/N)^2, sparse x n/N, a lower bound as
HNSW builds in O(n log n)) and the row's note says so.

Per row: total selection time over all classes (untraced run), peak memory,
and the mean MMD^2(S ∪ R, T) over the first ``--mmd-classes`` classes (same
median-heuristic sigma^2 for every path, against at most 5,000 evenly spaced
target vectors). Memory: ``peak_numpy_mb`` is the tracemalloc peak of
NumPy/Python allocations in a second, traced run over the first
``--mem-classes`` classes (0: skipped; FAISS's C++ allocations, e.g. an
index's copy of the vectors, are not traced); ``rss_delta_mb`` the growth of
the process's peak RSS during the timed run (/proc/self/status VmHWM after a
reset through /proc/self/clear_refs, or the ``resource.getrusage`` ru_maxrss
delta where that reset is refused; freed memory the allocator kept is reused
without RSS growth, so it can read 0).

``--crossover SIZES``: instead, time dense vs kmeans mmd-greedy on one class
of each size (best of ``--repeats``) and report the ratio: the data behind
``DENSE_MAX``, where ``auto`` switches.

``--real DATASET --prior NAME``: instead, on real features (the prior's
reference features of the built-in dataset's train split, one class at a
time), compare the dense and kmeans picks at each ``--budgets`` size: the
share of picks they have in common, the exact MMD^2 of each pick set against
its class (same sigma^2) and the seconds. Needs FiftyOne and the prior.

    python benchmarks/selection_scale.py --sizes 100000 1000000
    python benchmarks/selection_scale.py --quick
"""

import argparse
import contextlib
import json
import os
import platform
import resource
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _env import results_path, write_meta  # noqa: E402

from fiftyone_dsco.selection.selectors import (  # noqa: E402
    DENSE_MAX, SELECTORS, faiss_threads, get_selector, gpu_available, median_sigma2, mmd2,
)

PATHS = ("numpy", "faiss", "kmeans")

MODES, SYN_MODES = 4, 2


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--num-picks", type=int, default=10, help="real picks per class")
    p.add_argument("--synthetic", type=int, default=10, help="synthetic vectors per class")
    p.add_argument("--k", type=int, default=32, help="kNN graph size for mmd-greedy (faiss)")
    p.add_argument("--paths", nargs="+", default=list(PATHS), choices=PATHS,
                   help="mmd-greedy backends to run side by side")
    p.add_argument("--centroids", type=int, default=256, help="k-means centroids (kmeans path)")
    p.add_argument("--dense-points", type=int, default=None,
                   help="dense path on the first N vectors of each class; time x (n/N)^2")
    p.add_argument("--sparse-points", type=int, default=None,
                   help="sparse path on the first N vectors of each class; time x n/N")
    p.add_argument("--crossover", type=int, nargs="+", default=None,
                   help="class sizes: time dense vs kmeans on one class each (auto's crossover)")
    p.add_argument("--repeats", type=int, default=3, help="--crossover: best of this many")
    p.add_argument("--real", metavar="DATASET",
                   help="dense vs kmeans picks on a built-in dataset's real features (--prior)")
    p.add_argument("--prior", help="--real: the prior whose reference features are used")
    p.add_argument("--budgets", type=int, nargs="+", default=[10, 50],
                   help="--real: picks per class")
    p.add_argument("--warp", action="store_true",
                   help="map features through ReLU(x A), A a random anisotropic matrix")
    p.add_argument("--selectors", nargs="+", default=list(SELECTORS), choices=list(SELECTORS))
    p.add_argument("--brute-classes", type=int, default=None,
                   help="classes for the NumPy brute force (default: all, or 50 when a "
                        "class has more than 5000 vectors); time is extrapolated")
    p.add_argument("--mmd-classes", type=int, default=20)
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="FAISS and BLAS threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mem-classes", type=int, default=20,
                   help="classes in the traced (tracemalloc) memory run")
    p.add_argument("--out", default=results_path("selection_scale.json"))
    p.add_argument("--quick", action="store_true",
                   help="small check: sizes 20000, 100 classes (explicit flags still win)")
    args = p.parse_args(argv)
    if args.quick:
        given = set(a.split("=")[0] for a in (argv if argv is not None else sys.argv[1:]))
        if "--sizes" not in given:
            args.sizes = [20_000]
        if "--classes" not in given:
            args.classes = 100
    return args


# ------------------------------------------------------------------ data

def make_data(n, dim, classes, syn, seed, warp=False):
    """Features grouped by class (offsets), and synthetic features per class."""
    rng = np.random.default_rng(seed)
    sizes = np.full(classes, n // classes)
    sizes[: n % classes] += 1
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    x = np.empty((n, dim), np.float32)
    s = np.empty((classes * syn, dim), np.float32)
    for c in range(classes):
        center = rng.standard_normal(dim, dtype=np.float32) * 4.0
        modes = center + rng.standard_normal((MODES, dim), dtype=np.float32)
        lo, hi = offsets[c], offsets[c + 1]
        x[lo:hi] = rng.standard_normal((hi - lo, dim), dtype=np.float32)
        x[lo:hi] += modes[rng.integers(0, MODES, hi - lo)]
        s[c * syn:(c + 1) * syn] = rng.standard_normal((syn, dim), dtype=np.float32)
        s[c * syn:(c + 1) * syn] += modes[rng.integers(0, SYN_MODES, syn)]
    if warp:  # ReLU of an anisotropic projection: clusters that are not isotropic Gaussians
        a = rng.standard_normal((dim, dim), dtype=np.float32)
        a *= (np.arange(1, dim + 1, dtype=np.float32) ** -0.7)[None, :]
        for v in (x, s):
            for i in range(0, len(v), 65536):
                v[i:i + 65536] = np.maximum(v[i:i + 65536] @ a, 0)
    return x, s, offsets


# ---------------------------------------------------------------- memory

def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


@contextlib.contextmanager
def measure():
    """Yields a dict filled with seconds and the growth of peak RSS (MB)."""
    out = {}
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
        base, method = _status_kb("VmRSS"), "VmHWM-VmRSS after clear_refs reset"
    except OSError:
        base, method = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "ru_maxrss delta"
    t0 = time.perf_counter()
    yield out
    out["seconds"] = time.perf_counter() - t0
    peak = (_status_kb("VmHWM") if method.startswith("VmHWM")
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    out["rss_delta_mb"] = round(max(0, peak - base) / 1024, 1)
    out["rss_peak_mb"] = round(peak / 1024, 1)  # the whole process, features included
    out["rss_method"] = method


def traced_peak_mb(fn):
    """tracemalloc peak (MB) of NumPy/Python allocations while ``fn()`` runs."""
    tracemalloc.start()
    try:
        fn()
        return round(tracemalloc.get_traced_memory()[1] / 2**20, 2)
    finally:
        tracemalloc.stop()


# ------------------------------------------------------------------- run

def _select_all(sel, x, s, offsets, classes, num_picks, syn):
    picks = []
    for c in classes:
        t = x[offsets[c]:offsets[c + 1]]
        picks.append(sel.select(t, min(num_picks, len(t)), s[c * syn:(c + 1) * syn]))
    return picks


def run_selector(name, options, x, s, offsets, classes, num_picks, syn, mem_classes):
    """Picks (list per class) and measurements: a timed run, then a traced one."""
    sel = get_selector(name, **options)
    with measure() as m:
        picks = _select_all(sel, x, s, offsets, classes, num_picks, syn)
    few = classes[:mem_classes]
    m["peak_numpy_mb"] = traced_peak_mb(
        lambda: _select_all(sel, x, s, offsets, few, num_picks, syn)) if few else None
    return picks, m


MMD_TARGET_POINTS = 5000  # larger classes: MMD^2 against evenly spaced target points


def mean_mmd(picks, x, s, offsets, classes, syn, seed):
    vals = []
    for c, p in zip(classes, picks):
        t, sc = x[offsets[c]:offsets[c + 1]], s[c * syn:(c + 1) * syn]
        chosen = sc if p is None else np.vstack([sc, t[p]])
        ref = t[np.linspace(0, len(t) - 1, MMD_TARGET_POINTS).astype(int)] \
            if len(t) > MMD_TARGET_POINTS else t
        vals.append(mmd2(chosen, ref, median_sigma2(t, seed)))
    return float(np.mean(vals))


def _overlap(a, b):
    return float(np.mean([len(set(u.tolist()) & set(v.tolist())) / max(1, len(u))
                          for u, v in zip(a, b)]))


def bench_size(n, args):
    x, s, offsets = make_data(n, args.dim, args.classes, args.synthetic, args.seed,
                              args.warp)
    syn, ncls = args.synthetic, args.classes
    per_class = int(np.max(np.diff(offsets)))
    brute = args.brute_classes or (ncls if per_class <= 5000 else min(ncls, 50))
    brute = min(brute, ncls)
    q = list(range(min(args.mmd_classes, ncls)))
    base = {"n": n, "dim": args.dim, "classes": ncls, "per_class": round(n / ncls, 1),
            "num_picks": args.num_picks, "synthetic_per_class": syn, "threads": args.threads,
            "features_mb": round(x.nbytes / 2**20, 1), "warp": args.warp,
            "gpu": gpu_available(),  # FAISS k-means on the GPU (kmeans path)
            "auto_takes": "numpy" if per_class <= DENSE_MAX else "kmeans"}
    rows = [dict(base, selector="none (synthetic only)", seconds=0.0,
                 mmd2_mean=mean_mmd([None] * len(q), x, s, offsets, q, syn, args.seed),
                 note=f"MMD^2 over first {len(q)} classes")]
    for name in args.selectors:
        if name == "mmd-greedy":
            dense = None
            for path in args.paths:
                row, picks = _path_row(path, base, x, s, offsets, brute, q, dense, args)
                if path == "numpy" and not row.get("points_run"):
                    dense = {"picks": picks, "classes": row["classes_run"], "mmd": row["mmd2_mean"]}
                rows.append(row)
                print(_row_line(row), flush=True)
            continue
        picks, m = run_selector(name, {"seed": args.seed}, x, s, offsets, list(range(ncls)),
                                args.num_picks, syn, args.mem_classes)
        rows.append(dict(base, selector=name, classes_run=ncls, **m,
                         mmd2_mean=mean_mmd(picks[:len(q)], x, s, offsets, q, syn, args.seed),
                         note=""))
        print(_row_line(rows[-1]), flush=True)
    return rows


def _first_points(x, offsets, npts):
    """The first ``npts`` vectors of every class (a uniform subset: rows are i.i.d.) and offsets."""
    sizes = np.minimum(np.diff(offsets), npts)
    sub = np.concatenate([x[o:o + k] for o, k in zip(offsets[:-1], sizes)])
    return sub, np.concatenate([[0], np.cumsum(sizes)])


LABELS = {"faiss": "mmd-greedy (faiss sparse kNN, k={k})", "numpy": "mmd-greedy (numpy dense)",
          "kmeans": "mmd-greedy (kmeans, K={centroids})"}


def _path_row(path, base, x, s, offsets, brute, q, dense, args):
    """One mmd-greedy backend: its row and picks (indices valid in the full classes)."""
    ncls, syn, per_class = base["classes"], args.synthetic, base["per_class"]
    opts = {"seed": args.seed, "backend": path,
            **({"k": args.k} if path == "faiss" else {}),
            **({"centroids": args.centroids} if path == "kmeans" else {})}
    npts = {"numpy": args.dense_points, "faiss": args.sparse_points}.get(path)
    npts = npts if npts and npts < per_class else None
    xs, offs = _first_points(x, offsets, npts) if npts else (x, offsets)
    cls = list(range(brute if path == "numpy" else ncls))
    picks, m = run_selector("mmd-greedy", opts, xs, s, offs, cls, args.num_picks, syn,
                            args.mem_classes)
    notes = []
    if len(cls) < ncls:
        m["seconds_measured"] = m["seconds"]
        m["seconds"] *= ncls / len(cls)
        notes.append(f"time extrapolated x{ncls / len(cls):g} from {len(cls)} of {ncls} classes")
    if npts:
        m.setdefault("seconds_measured", m["seconds"])
        f = (per_class / npts) ** (2 if path == "numpy" else 1)
        m["seconds"] *= f
        notes.append(f"run on the first {npts} vectors of each class, time extrapolated "
                     f"x{f:g} ({'(n/N)^2' if path == 'numpy' else 'n/N, a lower bound'}); "
                     "picks from that subset, MMD^2 against the full class")
    mq = [c for c in q if c < len(cls)]
    if dense is not None and not npts:
        notes.append(f"pick overlap with numpy dense: {_overlap(picks, dense['picks']):.2f}")
        dq = [c for c in mq if c < dense["classes"]]
        if dq and len(dq) < len(mq) and dense["mmd"] is not None:
            m["mmd2_dense_classes"] = mean_mmd(picks[:len(dq)], x, s, offsets, dq, syn, args.seed)
            notes.append(f"MMD^2 on the {len(dq)} class(es) numpy ran: "
                         f"{m['mmd2_dense_classes']:.5f} (numpy {dense['mmd']:.5f})")
    row = dict(base, selector=LABELS[path].format(**vars(args)), classes_run=len(cls),
               points_run=npts, **m, note="; ".join(notes),
               mmd2_mean=(mean_mmd(picks[:len(mq)], x, s, offsets, mq, syn, args.seed)
                          if mq else None))
    return row, picks


def crossover(args):
    """Dense vs kmeans mmd-greedy on one class of each size: best-of-``repeats`` seconds."""
    rows = []
    for n in args.crossover:
        x, s, offsets = make_data(n, args.dim, 1, args.synthetic, args.seed)
        row = {"per_class": n, "dim": args.dim, "num_picks": args.num_picks, "threads": args.threads}
        for path in ("numpy", "kmeans"):
            sel = get_selector("mmd-greedy", seed=args.seed, backend=path,
                               centroids=args.centroids)
            best = np.inf
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                sel.select(x, args.num_picks, s)
                best = min(best, time.perf_counter() - t0)
            row[f"{path}_s"] = round(best, 4)
        row["dense_over_kmeans"] = round(row["numpy_s"] / row["kmeans_s"], 2)
        rows.append(row)
        print(row, flush=True)
    return rows


def real_features_by_class(dataset, prior_name):
    """``{class: features}``: the prior's reference features of the dataset's train split."""
    from fiftyone_dsco.data import class_table, train_view
    from fiftyone_dsco.data.builtin import load_builtin
    from fiftyone_dsco.features import build_extractor, real_features
    from fiftyone_dsco.priors import load_prior

    prior = load_prior(prior_name)
    train = train_view(load_builtin(dataset))
    table = class_table(train, "ground_truth")
    feat = build_extractor("reference", prior, view=train, table=table)
    return {c: np.asarray(real_features(train, table.ids_by_class[c], feat, prior.card.image_size,
                                        prior.card.channels), dtype=np.float32)
            for c in table.classes}


def real_picks(args):
    """Dense vs kmeans mmd-greedy picks on real features: overlap, exact MMD^2, seconds."""
    by_class, rows = real_features_by_class(args.real, args.prior), []
    for budget in args.budgets:
        per = []
        for c, x in by_class.items():
            sigma2 = median_sigma2(x, args.seed)
            cell = {}
            for path in ("numpy", "kmeans"):
                t0 = time.perf_counter()
                cell[path] = get_selector("mmd-greedy", seed=args.seed, backend=path,
                                          centroids=args.centroids).select(x, budget)
                cell[path + "_s"] = time.perf_counter() - t0
                cell[path + "_mmd2"] = mmd2(x[cell[path]], x, sigma2)
            per.append(dict(overlap=len(set(cell["numpy"]) & set(cell["kmeans"])) / budget,
                            **{k: v for k, v in cell.items() if k not in ("numpy", "kmeans")}))
        mean = {k: float(np.mean([r[k] for r in per])) for k in per[0]}
        sizes = [len(x) for x in by_class.values()]
        row = dict(dataset=args.real, per_class=round(float(np.mean(sizes))), dim=x.shape[1],
                   budget=budget,
                   classes=len(by_class), overlap=round(mean["overlap"], 3),
                   numpy_mmd2=mean["numpy_mmd2"], kmeans_mmd2=mean["kmeans_mmd2"],
                   kmeans_over_numpy_mmd2=round(mean["kmeans_mmd2"] / mean["numpy_mmd2"], 4),
                   numpy_s=round(mean["numpy_s"], 2), kmeans_s=round(mean["kmeans_s"], 2))
        rows.append(row)
        print(row, flush=True)
    return rows


# ---------------------------------------------------------------- output

COLUMNS = ("n", "per_class", "selector", "classes_run", "seconds", "ms_per_class",
           "peak_numpy_mb", "rss_delta_mb", "rss_peak_mb", "features_mb", "mmd2_mean", "note")


def _cell(row, col):
    if col == "ms_per_class":
        v = row.get("seconds")
        return "" if not row.get("classes_run") else f"{1000 * v / row['classes']:.2f}"
    v = row.get(col, "")
    if isinstance(v, float):
        return f"{v:.5f}" if col == "mmd2_mean" else f"{v:.2f}"
    return "" if v is None else str(v)


def _row_line(row):
    return "| " + " | ".join(_cell(row, c) for c in COLUMNS) + " |"


def markdown(rows):
    head = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS)
    return "\n".join([head] + [_row_line(r) for r in rows])


def main(argv=None):
    args = parse_args(argv)
    if args.real and not args.prior:
        raise SystemExit("--real compares picks on a prior's reference features: pass --prior "
                         "(e.g. fashion-mnist-budget-fit).")
    try:
        from threadpoolctl import threadpool_limits
        blas = threadpool_limits(args.threads)
    except ImportError:
        blas = contextlib.nullcontext()
    rows = []
    if args.crossover or args.real:
        with blas, faiss_threads(args.threads):
            rows = crossover(args) if args.crossover else real_picks(args)
        seconds = (f"best of {args.repeats} runs of one class, {args.num_picks} picks"
                   if args.crossover else "mean over classes of one run each")
        out = {"config": vars(args), "platform": platform.platform(),
               "cpu_count": os.cpu_count(), "rows": rows, "seconds": seconds}
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)
        write_meta(args.out)
        print(f"wrote {args.out}")
        return
    with blas, faiss_threads(args.threads):
        for n in args.sizes:
            print(f"## n={n}, dim={args.dim}, classes={args.classes}", flush=True)
            rows += bench_size(n, args)
    mem = (f"peak_numpy_mb: tracemalloc peak over the first {args.mem_classes} classes "
           "(NumPy/Python allocations; FAISS C++ allocations not traced); rss_delta_mb: "
           + (rows[1]["rss_method"] if len(rows) > 1 else "")
           + " during the timed run over all classes; rss_peak_mb: the process's peak RSS "
           "(VmHWM) during that run, the features_mb feature matrix included")
    out = {"config": vars(args), "platform": platform.platform(),
           "cpu_count": os.cpu_count(), "memory_method": mem,
           "seconds": "total selection time over all classes (brute force: see note)",
           "rows": rows}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    write_meta(args.out)
    print(f"\n{mem}; ms_per_class = seconds / classes\n")
    print(markdown(rows))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
