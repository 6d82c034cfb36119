"""Scale benchmark of the doping selectors (fiftyone_dsco.selection.selectors).

Generates a Gaussian-mixture feature set per size (n vectors, ``--dim`` dims,
float32, ``--classes`` classes of about n/classes vectors, each class a mixture
of 4 sub-modes) plus ``--synthetic`` synthetic vectors per class drawn from 2 of
the sub-modes only, then runs every selector over all classes with
``--budget`` picks per class. mmd-greedy runs twice in the same process: the
FAISS sparse-kernel backend and the NumPy dense brute force of the same rule
(on a subset of classes when classes are large; its time is then extrapolated
and the row says so).

Per row: total selection time over all classes (untraced run), peak memory,
and the mean MMD^2(S ∪ R, T) over the first ``--mmd-classes`` classes (same
median-heuristic sigma^2 as the selector). Memory, two numbers:
``peak_numpy_mb`` is the tracemalloc peak of NumPy/Python allocations in a
second, traced run over the first ``--mem-classes`` classes (classes run one
after another, so this is the per-class peak; FAISS's C++ allocations, e.g.
the flat index's copy of the class's vectors, are not traced), and
``rss_delta_mb`` the growth of the process's peak RSS during the timed run
(/proc/self/status VmHWM after a reset through /proc/self/clear_refs, or the
``resource.getrusage`` ru_maxrss delta where that reset is refused; freed
memory the allocator kept is reused without RSS growth, so it can read 0).

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
    SELECTORS, faiss_threads, get_selector, median_sigma2, mmd2,
)

MODES, SYN_MODES = 4, 2


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--budget", type=int, default=10, help="real picks per class")
    p.add_argument("--synthetic", type=int, default=10, help="synthetic vectors per class")
    p.add_argument("--k", type=int, default=32, help="kNN graph size for mmd-greedy (faiss)")
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

def make_data(n, dim, classes, syn, seed):
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

def _select_all(sel, x, s, offsets, classes, budget, syn):
    picks = []
    for c in classes:
        t = x[offsets[c]:offsets[c + 1]]
        picks.append(sel.select(t, min(budget, len(t)), s[c * syn:(c + 1) * syn]))
    return picks


def run_selector(name, options, x, s, offsets, classes, budget, syn, mem_classes):
    """Picks (list per class) and measurements: a timed run, then a traced one."""
    sel = get_selector(name, **options)
    with measure() as m:
        picks = _select_all(sel, x, s, offsets, classes, budget, syn)
    few = classes[:mem_classes]
    m["peak_numpy_mb"] = traced_peak_mb(
        lambda: _select_all(sel, x, s, offsets, few, budget, syn))
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
    x, s, offsets = make_data(n, args.dim, args.classes, args.synthetic, args.seed)
    syn, ncls = args.synthetic, args.classes
    per_class = int(np.max(np.diff(offsets)))
    brute = args.brute_classes or (ncls if per_class <= 5000 else min(ncls, 50))
    brute = min(brute, ncls)
    q = list(range(min(args.mmd_classes, ncls)))
    base = {"n": n, "dim": args.dim, "classes": ncls, "per_class": round(n / ncls, 1),
            "budget": args.budget, "synthetic_per_class": syn, "threads": args.threads,
            "features_mb": round(x.nbytes / 2**20, 1)}
    rows = [dict(base, selector="none (synthetic only)", seconds=0.0,
                 mmd2_mean=mean_mmd([None] * len(q), x, s, offsets, q, syn, args.seed),
                 note=f"MMD^2 over first {len(q)} classes")]
    for name in args.selectors:
        opts = {"seed": args.seed} | ({"k": args.k, "backend": "faiss"} if name == "mmd-greedy" else {})
        picks, m = run_selector(name, opts, x, s, offsets, list(range(ncls)), args.budget, syn,
                                args.mem_classes)
        label = f"mmd-greedy (faiss, k={args.k})" if name == "mmd-greedy" else name
        rows.append(dict(base, selector=label, classes_run=ncls, **m,
                         mmd2_mean=mean_mmd(picks[:len(q)], x, s, offsets, q, syn, args.seed),
                         note=""))
        print(_row_line(rows[-1]), flush=True)
        if name == "mmd-greedy":
            rows.append(_brute_row(base, x, s, offsets, brute, q, picks, args))
            print(_row_line(rows[-1]), flush=True)
    return rows


def _brute_row(base, x, s, offsets, brute, q, faiss_picks, args):
    ncls, syn = base["classes"], args.synthetic
    cls = list(range(brute))
    picks, m = run_selector("mmd-greedy", {"seed": args.seed, "backend": "numpy"}, x, s,
                            offsets, cls, args.budget, syn, args.mem_classes)
    note = f"same run; pick overlap with faiss k={args.k}: {_overlap(picks, faiss_picks):.2f}"
    if brute < ncls:
        m["seconds_measured"] = m["seconds"]
        m["seconds"] = m["seconds"] * ncls / brute
        note += f"; time extrapolated from {brute} of {ncls} classes"
    mq = [c for c in q if c < brute]
    return dict(base, selector="mmd-greedy (numpy brute force)", classes_run=brute, **m,
                mmd2_mean=(mean_mmd(picks[:len(mq)], x, s, offsets, mq, syn, args.seed)
                           if mq else None),
                note=note)


# ---------------------------------------------------------------- output

COLUMNS = ("n", "per_class", "selector", "classes_run", "seconds", "ms_per_class",
           "peak_numpy_mb", "rss_delta_mb", "mmd2_mean", "note")


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
    try:
        from threadpoolctl import threadpool_limits
        blas = threadpool_limits(args.threads)
    except ImportError:
        blas = contextlib.nullcontext()
    rows = []
    with blas, faiss_threads(args.threads):
        for n in args.sizes:
            print(f"## n={n}, dim={args.dim}, classes={args.classes}", flush=True)
            rows += bench_size(n, args)
    mem = (f"peak_numpy_mb: tracemalloc peak over the first {args.mem_classes} classes "
           "(NumPy/Python allocations; FAISS C++ allocations not traced); rss_delta_mb: "
           + (rows[1]["rss_method"] if len(rows) > 1 else "")
           + " during the timed run over all classes")
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
