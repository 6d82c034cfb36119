"""Per-class selection of real samples for doping (NumPy + FAISS only).

Doping adds ``num_picks`` real images of a class to the synthetic images already
chosen for it. Each selector works on one class at a time: ``target`` (n x d)
holds the features of the class's real images, ``synthetic`` (m x d) those of
its synthetic images, and ``select()`` returns ``num_picks`` unique int64 indices
into ``target`` in pick order (the rows of an optional ``preferred`` mask, e.g. those
the reference classifier recognises, before any other). Callers loop over classes.

Selectors (``SELECTORS``, ``get_selector(name, **options)``):

``mmd-greedy`` (default)
    Greedy MMD reduction conditioned on the synthetic set ``S``: each step adds
    the real sample ``x`` that most lowers ``MMD^2(S ∪ R, T)`` for the Gaussian
    kernel ``k(x, y) = exp(-||x - y||^2 / (2 sigma^2))`` (``sigma^2`` from
    ``median_sigma2``). With ``A = S ∪ R`` of size ``a``, adding ``x`` gives

        MMD^2 = (K_AA + 2 s_A(x) + 1) / (a+1)^2 - 2 (K_AT + n mu(x)) / ((a+1) n) + const

    with ``s_A(x) = sum_{y in A} k(x, y)``, ``mu(x) = mean_{t in T} k(x, t)``
    (``k(x, x) = 1`` included). Only two terms depend on ``x``, so the greedy
    pick is ``argmax_x  (a+1) mu(x) - s_A(x)`` over unpicked ``x`` (ties: lowest
    index). After picking ``p``, ``s_A`` gains ``k(., p)``.

    Sparse-kernel trick (``backend="faiss"``): a FAISS k-nearest-neighbour graph
    over ``T`` makes the real-real kernel sparse: ``k(i, j)`` is kept when
    ``j`` is among the ``k`` nearest neighbours of ``i`` or ``i`` among those of
    ``j`` (the graph is symmetrised, so the sparse matrix is a proper symmetric
    kernel and the greedy is exact on it), and treated as 0 otherwise; the
    diagonal is 1. ``mu`` is the row sum of that matrix over ``n``. The
    synthetic part of ``s_A`` comes from a FAISS search of ``S`` in the index
    over ``T`` (``k`` neighbours per synthetic point, others 0). A step then
    costs O(n) for the argmax plus O(deg(p)) (``2k`` at most on average) to add
    the picked point's kernel row. Nothing n x n is built. Kernel values are
    recomputed in float64 from the features, so with ``k >= n`` the sparse
    path reproduces the dense one.

    Cluster-summary trick (``backend="kmeans"``, for large classes): only
    ``mu`` needs all n x n kernel values; ``s_A`` (synthetic and picked rows)
    is O(n (m + num_picks) d) and stays exact. FAISS k-means summarises ``T``
    into ``K`` centroids ``c`` with weights ``w_c`` (share of ``T`` assigned)
    and per-dimension residual variances ``v_cj``; treating each cluster as
    ``N(c, diag(v_c))`` gives its Gaussian-kernel mean in closed form, so

        mu(x) ~= sum_c w_c prod_j (sigma^2 / (sigma^2 + v_cj))^(1/2)
                 exp(-sum_j (x_j - c_j)^2 / (2 (sigma^2 + v_cj)))

    keeps the kernel's whole mass (no truncation). Cost O(n K d) instead of
    O(n^2 d), memory O(n + K d) beyond the features. k-means, its
    assignment and the kernel sums run on the GPU when :func:`gpu_available`
    says so (the sums in torch, float64).

    ``backend="numpy"`` is the same rule with the dense kernel, brute force:
    O(n^2 d) time for ``mu``, the kernel built in row blocks (O(n) memory
    beyond a block) and each picked point's kernel row computed on demand.
    Caveat: the median-heuristic kernel is wide (about exp(-1/2) at the median
    distance), so truncating it to a kNN graph drops most of its mass, and the
    sparse picks only approximate the dense ones for small ``k``.
``kcenter``
    Greedy k-center coverage: each step picks the real sample farthest from its
    nearest covered point (synthetic or already picked). Without synthetic
    points the first pick is the real sample closest to the class mean.
``herding``
    Feature-space herding (Welling; DeepCore's ``Herding``), ignores ``S``:
    each step picks the sample that brings the mean of the picked set closest
    to the mean of ``T``. The first pick is the sample closest to the mean.
``prototypes``
    The real sample nearest each of ``num_picks`` FAISS k-means centroids of
    ``T`` (real prototypes; D4M's are latent ones), tightest centroid first;
    ignores ``S``.
``random``
    Seeded uniform choice without replacement.

``select_synthetic`` applies the mmd-greedy rule to a pool of synthetic
candidates instead of ``target`` (joint selection, docs/method.md).

``auto`` is dense (exact) up to ``DENSE_MAX`` vectors per class and ``kmeans``
above, where the dense kernel's n^2 cost outgrows seconds (docs/doping.md).

The kernel, its bandwidth rule (``median_sigma2``) and ``mmd2`` come from
:mod:`fiftyone_dsco.mmd` (both re-exported here). Also the FAISS helpers
``build_index``, ``knn``, ``faiss_threads``, ``kmeans_summary`` with
``cluster_kernel_mean``, and the GPU probe ``gpu_available``.
"""

import contextlib
import functools
import os

import faiss
import numpy as np

from ..errors import OptionError
from ..mmd import (  # noqa: F401  (mmd2: re-exported)
    gaussian, kernel_blocks, median_sigma2, mmd2, sqdist,
)
from ..names import (
    DEFAULT_BANDWIDTH, DEFAULT_SELECTOR, SELECTION_BACKENDS, SELECTORS as SELECTOR_NAMES,
)

HNSW_THRESHOLD = 20_000  # above this many vectors build_index uses HNSW
HNSW_M = 32
HNSW_EF_SEARCH = 64  # raised to k by knn() when k is larger
HNSW_EF_CONSTRUCTION = 64
DEFAULT_K = 32
KMEANS_CENTROIDS = 256  # K of the kmeans backend
KMEANS_ITER = 10
KMEANS_POINTS_PER_CENTROID = 64  # k-means trains on at most K * this many sampled vectors
# auto: dense NumPy kernel (exact) up to this many vectors per class, kmeans above. Dense costs
# seconds a class up to here (benchmarks/selection_scale.py --crossover, 256-d, one thread:
# 0.7 s at 6,000, 8.4 s at 20,000; kmeans 0.3 and 0.7 s). On real features the kmeans summary
# is not exact: on Fashion-MNIST's 6,000 per class (reference features) its picks shared 73 %
# of the dense ones at 10 per class and 20 % at 50, at a 3.3 % and 1.9 % higher MMD^2
# (docs/doping.md).
DENSE_MAX = 20_000
_CHUNK = 1024  # rows (or edges) per chunk in float64 computations (2 MiB at d=256)
_METRICS = ("l2", "ip")


# ---------------------------------------------------------------- validation

def _features(x, name, dim=None):
    """``x`` as a contiguous float32 (n x d) array, or OptionError."""
    a = np.asarray(x)
    if a.ndim != 2 or a.dtype.kind != "f":
        raise OptionError(f"{name} features must be a 2-D float array (samples x dims); "
                          f"got shape {a.shape} and dtype {a.dtype}.")
    if dim is not None and a.shape[1] != dim:
        raise OptionError(f"{name} features have {a.shape[1]} dims but the target features "
                          f"have {dim}; use the same feature extractor for both.")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.isfinite(a).all():
        raise OptionError(f"{name} features contain NaN or inf values.")
    return a


def _check_picks(num_picks, n):
    if isinstance(num_picks, (bool, np.bool_)) or not isinstance(num_picks, (int, np.integer)):
        raise OptionError(f"num_picks must be an int >= 0; got {num_picks!r}.")
    num_picks = int(num_picks)
    if num_picks < 0:
        raise OptionError(f"num_picks must be >= 0; got {num_picks}.")
    if num_picks > n:
        raise OptionError(f"num_picks {num_picks} is larger than the {n} real samples of this "
                          f"class; pick at most {n} (doping: lower the budget or clamp it per class).")
    return num_picks


# ------------------------------------------------------------------ kernels

def _edge_kernel(a, b, rows, cols, sigma2):
    """``k(a[rows[e]], b[cols[e]])`` per edge, in float64 chunks (difference form)."""
    out = np.empty(len(rows))
    for s in range(0, len(rows), _CHUNK):
        diff = a[rows[s:s + _CHUNK]].astype(np.float64) - b[cols[s:s + _CHUNK]]
        out[s:s + _CHUNK] = gaussian(np.einsum("ij,ij->i", diff, diff), sigma2)
    return out


def _sqdist_to(x, p):
    """Squared distances from every row of ``x`` to point ``p`` (float64, chunked)."""
    p = np.asarray(p, dtype=np.float64)
    out = np.empty(len(x))
    for s in range(0, len(x), _CHUNK):
        diff = x[s:s + _CHUNK].astype(np.float64) - p
        out[s:s + _CHUNK] = np.einsum("ij,ij->i", diff, diff)
    return out


def _mean(x):
    return x.mean(axis=0, dtype=np.float64)


# ----------------------------------------------------------------- FAISS

@contextlib.contextmanager
def faiss_threads(n=None):
    """Run the block with ``n`` FAISS OpenMP threads (default ``os.cpu_count()``)."""
    prev = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(int(n or os.cpu_count() or 1))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(prev)


def _num_gpus():
    return faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0


@functools.lru_cache(maxsize=None)
def gpu_available():
    """The one GPU probe: FAISS is a GPU build that sees a GPU and ``torch.cuda.is_available()``."""
    if not hasattr(faiss, "StandardGpuResources") or _num_gpus() == 0:
        return False
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _to_gpu(index):
    """``index`` copied to all GPUs (called only when :func:`gpu_available`)."""
    return faiss.index_cpu_to_all_gpus(index)


def kmeans_summary(x, num_centroids=KMEANS_CENTROIDS, seed=0, niter=KMEANS_ITER, gpu=None):
    """Seeded FAISS k-means of ``x`` (n x d float32): ``(centroids, weights, variances)``.

    Every vector is assigned to its nearest k-means centroid; ``centroids[c]``
    is then the mean of the vectors assigned to ``c`` (K x d, float64),
    ``weights[c]`` their share of ``x`` and ``variances[c, j]`` their variance
    in dimension ``j`` (K x d). ``K = min(num_centroids, n)``;
    training uses at most ``K * KMEANS_POINTS_PER_CENTROID`` vectors sampled
    with ``seed``. ``gpu=None``: on the GPU when :func:`gpu_available`.
    """
    n, d = x.shape
    k = min(int(num_centroids), n)
    cl = faiss.Clustering(d, k)
    cl.niter, cl.seed, cl.verbose = niter, seed, False
    cl.max_points_per_centroid, cl.min_points_per_centroid = KMEANS_POINTS_PER_CENTROID, 1
    index = faiss.IndexFlatL2(d)
    if gpu_available() if gpu is None else gpu:
        index = _to_gpu(index)
    cl.train(x, index)
    cent = faiss.vector_to_array(cl.centroids).reshape(k, d)
    index.reset()
    index.add(cent)
    lab = index.search(x, 1)[1][:, 0]
    cnt = np.bincount(lab, minlength=k)
    sums, squares = np.zeros((k, d)), np.zeros((k, d))
    for a in range(0, n, 4 * _CHUNK):  # per-cluster residual sums over every vector
        lb = lab[a:a + 4 * _CHUNK]
        order = np.argsort(lb, kind="stable")
        xb = x[a:a + 4 * _CHUNK][order] - cent[lb[order]]  # residuals: no cancellation
        xb = xb.astype(np.float64)
        first = np.flatnonzero(np.r_[True, np.diff(lb[order]) != 0])
        sums[lb[order][first]] += np.add.reduceat(xb, first, axis=0)
        squares[lb[order][first]] += np.add.reduceat(xb * xb, first, axis=0)
    held = cnt > 0  # an empty cluster keeps its centroid, with weight 0
    shift = np.zeros((k, d))
    shift[held] = sums[held] / cnt[held, None]
    var = np.zeros((k, d))
    var[held] = np.maximum(squares[held] / cnt[held, None] - shift[held] ** 2, 0.0)
    return cent + shift, cnt / n, var


def _backend(device):
    """``(array module, converter to float64 arrays)``: NumPy, or torch on ``device``."""
    if device is None:
        return np, lambda a: np.asarray(a, dtype=np.float64)
    import torch

    return torch, lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float64, device=device)


def _to_numpy(a):
    return a if isinstance(a, np.ndarray) else a.cpu().numpy()


def cluster_kernel_mean(x, summary, sigma2, device=None):
    """``mu(x)``: the Gaussian kernel's mean over the target, in closed form from its clusters.

    ``summary`` is :func:`kmeans_summary`'s ``(centroids, weights, variances)``;
    each cluster is taken as ``N(c, diag(v_c))`` (module docstring). O(n K d),
    float64, in NumPy or (``device``, e.g. ``"cuda"``) in torch.
    """
    xp, to = _backend(device)
    cent, w, var = (to(v) for v in summary)
    inv = 1.0 / (sigma2 + var)  # K x d: 1 / (sigma^2 + v_cj)
    log_mass = xp.log(xp.clip(w, 1e-300, None)) + 0.5 * xp.log(sigma2 * inv).sum(1)
    scaled, offset = cent * inv, (cent ** 2 * inv).sum(1)
    mu = np.empty(len(x))
    for a in range(0, len(x), 4 * _CHUNK):
        xb = to(x[a:a + 4 * _CHUNK])
        q = xb ** 2 @ inv.T - 2.0 * (xb @ scaled.T) + offset  # sum_j (x_j - c_j)^2 / (.)
        mu[a:a + len(xb)] = _to_numpy(xp.exp(log_mass - 0.5 * q).sum(1))
    return mu


def kernel_row_sums(x, y, sigma2, device=None):
    """``sum_{y} k(x_i, y)`` for every row of ``x`` (float64; NumPy, or torch on ``device``)."""
    xp, to = _backend(device)
    yt = to(y)
    out = np.empty(len(x))
    for a in range(0, len(x), 4 * _CHUNK):
        xb = to(x[a:a + 4 * _CHUNK])
        d2 = (xb ** 2).sum(1)[:, None] + (yt ** 2).sum(1)[None, :] - 2.0 * (xb @ yt.T)
        out[a:a + len(xb)] = _to_numpy(xp.exp(-xp.clip(d2, 0.0, None) / (2.0 * sigma2)).sum(1))
    return out


def build_index(x, metric="l2", approximate=None, threshold=HNSW_THRESHOLD, m=HNSW_M,
                ef_search=HNSW_EF_SEARCH, deterministic=True):
    """A FAISS index over ``x``: exact flat for ``n <= threshold``, else HNSW.

    ``approximate`` forces HNSW (True) or flat (False). Flat indexes move to
    all GPUs when :func:`gpu_available` (HNSW has no GPU version and stays on the CPU).
    FAISS inserts into an HNSW graph from several threads in an unspecified
    order (FAISS wiki, "Threads and asynchronous calls"), so with
    ``deterministic`` (default) the graph is built on one thread: the same input
    gives the same graph, neighbours and picks; searches stay parallel.
    """
    if metric not in _METRICS:
        raise OptionError(f"Unknown metric {metric!r}; choose one of {_METRICS}.")
    x = _features(x, "index")
    n, d = x.shape
    mt = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
    if n > threshold if approximate is None else approximate:
        index = faiss.IndexHNSWFlat(d, m, mt)
        index.hnsw.efConstruction = max(HNSW_EF_CONSTRUCTION, m)
        index.hnsw.efSearch = ef_search
    else:
        index = faiss.IndexFlatL2(d) if metric == "l2" else faiss.IndexFlatIP(d)
        if gpu_available():
            index = _to_gpu(index)
    with faiss_threads(1) if deterministic and hasattr(index, "hnsw") else contextlib.nullcontext():
        index.add(x)
    return index


def knn(index, queries, k):
    """``k`` nearest neighbours in ``index`` of each query row.

    Returns (squared L2 distances, or inner products for an "ip" index, as
    float32; indices as int64). ``k`` is clipped to ``index.ntotal``; HNSW may
    return -1 for missing neighbours. HNSW's ``efSearch`` is raised to ``k``.
    """
    q = _features(queries, "query")
    k = max(0, min(int(k), int(index.ntotal)))
    if k == 0 or not len(q):
        return np.empty((len(q), k), np.float32), np.empty((len(q), k), np.int64)
    hnsw = getattr(index, "hnsw", None)
    if hnsw is not None and hnsw.efSearch < k:
        hnsw.efSearch = k
    dist, idx = index.search(q, k)
    return np.ascontiguousarray(dist, np.float32), np.ascontiguousarray(idx, np.int64)


def _knn_graph(nbr):
    """Symmetrised graph of neighbour lists ``nbr`` (n x k) plus self loops, as CSR."""
    n = len(nbr)
    rows = np.repeat(np.arange(n, dtype=np.int64), nbr.shape[1])
    cols = nbr.ravel()
    keep = (cols >= 0) & (cols != rows)
    rows, cols = rows[keep], cols[keep]
    diag = np.arange(n, dtype=np.int64)
    key = np.concatenate([rows * n + cols, cols * n + rows, diag * n + diag])
    del rows, cols
    key.sort()  # sort + dedupe: faster here than np.unique's hash path
    key = key[np.concatenate([[True], key[1:] != key[:-1]])]
    rows, cols = np.divmod(key, n)
    return np.searchsorted(rows, np.arange(n + 1)), cols


# ------------------------------------------------------------- selectors

class Selector:
    """Base class: validates inputs, then calls ``_select(target, num_picks, synthetic)``."""

    name = "base"

    def __init__(self, seed=0, **options):
        if options:
            raise OptionError(f"Selector {self.name!r} has no option(s) "
                              f"{', '.join(sorted(options))}.")
        self.seed = seed

    def select(self, target, num_picks, synthetic=None, preferred=None):
        """``num_picks`` unique int64 indices into ``target`` (n x d), in pick order.

        ``preferred``: a boolean mask over ``target``; its rows are all picked
        before any other (the objective still matches all of ``target``).
        """
        x = _features(target, "target")
        b = _check_picks(num_picks, len(x))
        s = None
        if synthetic is not None and np.asarray(synthetic).size:
            s = _features(synthetic, "synthetic", x.shape[1])
        if b == 0:
            return np.empty(0, np.int64)
        return np.asarray(self._select(x, b, s, _Pool(len(x), preferred)), dtype=np.int64)

    def _select(self, x, num_picks, synthetic, pool):
        raise NotImplementedError


class _Pool:
    """The rows a greedy selector may pick next: unpicked preferred rows while any are left,
    then every unpicked row."""

    def __init__(self, n, preferred=None):
        self.taken = np.zeros(n, bool)
        if preferred is None:
            self.held = np.zeros(n, bool)
        else:
            preferred = np.asarray(preferred, bool)
            if preferred.shape != (n,):
                raise OptionError(f"preferred must be a boolean mask of {n} target rows; got "
                                  f"shape {preferred.shape}.")
            self.held = ~preferred if preferred.any() else np.zeros(n, bool)
        self.left = n - int(self.held.sum())

    @property
    def closed(self):
        """Rows that may not be picked now."""
        return self.taken | self.held

    def take(self, p):
        self.taken[p], self.left = True, self.left - 1
        if self.left == 0:  # the preferred rows are all picked: open the others
            self.held[:], self.left = False, len(self.taken) - int(self.taken.sum())


class RandomSelector(Selector):
    """Seeded uniform choice without replacement."""

    name = "random"

    def _select(self, x, num_picks, synthetic, pool):
        rng = np.random.default_rng(self.seed)
        if not pool.held.any():
            return rng.choice(len(x), num_picks, replace=False)
        order = rng.permutation(len(x))  # preferred rows first, each group in random order
        return order[np.argsort(pool.held[order], kind="stable")][:num_picks]


class HerdingSelector(Selector):
    """Greedy mean matching in feature space; ignores the synthetic set."""

    name = "herding"

    def _select(self, x, num_picks, synthetic, pool):
        mean, acc = _mean(x), np.zeros(x.shape[1])
        picks = np.empty(num_picks, np.int64)
        for t in range(num_picks):
            # mean of picked+x closest to mean  <=>  x closest to (t+1) mean - acc
            d = _sqdist_to(x, (t + 1) * mean - acc)
            d[pool.closed] = np.inf
            p = int(np.argmin(d))
            picks[t] = p
            pool.take(p)
            acc += x[p]
        return picks


class KCenterSelector(Selector):
    """Greedy k-center seeded with the synthetic set.

    Without synthetic points the first pick is the sample closest to the class
    mean, and it counts towards the num_picks.
    """

    name = "kcenter"

    def _select(self, x, num_picks, synthetic, pool):
        picks = np.empty(num_picks, np.int64)
        if synthetic is None:
            picks[0] = np.argmin(np.where(pool.closed, np.inf, _sqdist_to(x, _mean(x))))
            pool.take(picks[0])
            cover, start = _sqdist_to(x, x[picks[0]]), 1
        else:
            cover = knn(build_index(synthetic), x, 1)[0][:, 0].astype(np.float64)
            cover, start = np.maximum(cover, 0.0), 0
        for t in range(start, num_picks):
            p = int(np.argmax(np.where(pool.closed, -np.inf, cover)))
            picks[t] = p
            pool.take(p)
            np.minimum(cover, _sqdist_to(x, x[p]), out=cover)
        return picks


class PrototypesSelector(Selector):
    """The real sample nearest each of ``num_picks`` k-means centroids of the class.

    FAISS k-means (``niter`` iterations, the best of ``nredo`` runs, seeded) on
    all of the class's features; centroids are visited tightest first (by their
    distance to the nearest open sample), each taking its nearest open sample.
    Ignores the synthetic set. Options: ``niter`` (50), ``nredo`` (3).
    """

    name = "prototypes"

    def __init__(self, seed=0, niter=50, nredo=3, **options):
        super().__init__(seed, **options)
        for name, v in (("niter", niter), ("nredo", nredo)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise OptionError(f"{name} must be an int >= 1; got {v!r}.")
        self.niter, self.nredo = int(niter), int(nredo)

    def _select(self, x, num_picks, synthetic, pool):
        km = faiss.Kmeans(x.shape[1], num_picks, niter=self.niter, nredo=self.nredo,
                          seed=self.seed, verbose=False,
                          min_points_per_centroid=1)  # only silences FAISS's small-class warning
        km.train(x)
        d = np.stack([_sqdist_to(x, c) for c in km.centroids.astype(np.float64)], 1)  # n x picks
        picks = np.empty(num_picks, np.int64)
        order = np.argsort(np.where(pool.closed[:, None], np.inf, d).min(0), kind="stable")
        for t, j in enumerate(order):
            p = int(np.argmin(np.where(pool.closed, np.inf, d[:, j])))
            picks[t] = p
            pool.take(p)
        return picks


def _greedy_mmd(mu, s, m, num_picks, add_row, pool=None):
    """Greedy argmax of ``(a+1) mu - s`` with ``a = m + t`` over ``pool``'s open rows;
    ``add_row(s, p)`` adds k(., p)."""
    pool = pool or _Pool(len(mu))
    picks = np.empty(num_picks, np.int64)
    for t in range(num_picks):
        score = (m + t + 1) * mu - s
        score[pool.closed] = -np.inf
        p = int(np.argmax(score))  # first maximum: lowest index on ties
        picks[t] = p
        pool.take(p)
        add_row(s, p)
    return picks


def _positive(v):
    """Whether ``v`` is a real number > 0 (not a bool)."""
    try:
        return not isinstance(v, bool) and float(v) > 0
    except (TypeError, ValueError):
        return False


class MMDGreedySelector(Selector):
    """Greedy MMD^2(S ∪ R, T) reduction with a Gaussian kernel (see module doc).

    Options: ``backend`` "auto" (default: "numpy" up to ``dense_max`` vectors
    per class, "kmeans" above), "numpy" (dense kernel, exact), "kmeans"
    (cluster-summary ``mu``, ``centroids`` k-means centroids; k-means and the
    kernel sums on the GPU when :func:`gpu_available`, the sums in torch on
    ``kernel_device`` when given, e.g. ``"cpu"`` to check that path) or
    "faiss" (sparse kNN kernel: ``k`` neighbours,
    ``approximate``/``threshold``/``ef_search`` for ``build_index``);
    ``sigma2`` (default: ``bandwidth`` times ``median_sigma2(target, seed,
    max_sigma_points)`` per call, stored as ``self.sigma2_``; ``bandwidth``
    ``DEFAULT_BANDWIDTH`` = 1: the median heuristic itself); ``threads`` FAISS threads (None:
    leave as is). The path taken is stored as ``self.backend_``.
    """

    name = "mmd-greedy"
    BACKENDS = SELECTION_BACKENDS

    def __init__(self, seed=0, k=DEFAULT_K, sigma2=None, backend="auto", approximate=None,
                 threshold=HNSW_THRESHOLD, ef_search=HNSW_EF_SEARCH, threads=None,
                 max_sigma_points=2000, centroids=KMEANS_CENTROIDS, dense_max=DENSE_MAX,
                 kernel_device=None, bandwidth=DEFAULT_BANDWIDTH, **options):
        super().__init__(seed, **options)
        if backend not in self.BACKENDS:
            raise OptionError(f"Unknown backend {backend!r}; choose one of {self.BACKENDS}.")
        for name, v in (("k", k), ("centroids", centroids)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise OptionError(f"{name} must be an int >= 1; got {v!r}.")
        if sigma2 is not None and not _positive(sigma2):
            raise OptionError(f"sigma2 must be > 0; got {sigma2!r}.")
        if not _positive(bandwidth):
            raise OptionError(f"bandwidth must be a number > 0 (a multiple of the median "
                              f"heuristic's sigma^2); got {bandwidth!r}.")
        self.k, self.sigma2, self.backend = int(k), sigma2, backend
        self.bandwidth = float(bandwidth)
        self.approximate, self.threshold, self.ef_search = approximate, threshold, ef_search
        self.threads, self.max_sigma_points = threads, max_sigma_points
        self.centroids, self.dense_max = int(centroids), dense_max
        self.kernel_device = kernel_device
        self.sigma2_ = self.backend_ = None

    def _select(self, x, num_picks, synthetic, pool):
        self.sigma2_ = (float(self.sigma2) if self.sigma2 is not None
                        else self.bandwidth * median_sigma2(x, self.seed, self.max_sigma_points))
        m = 0 if synthetic is None else len(synthetic)
        backend = self.backend
        if backend == "auto":  # DENSE_MAX: exact while it costs seconds (docs/doping.md)
            backend = "numpy" if len(x) <= self.dense_max else "kmeans"
        self.backend_ = backend
        if backend == "numpy":
            return self._dense(x, num_picks, synthetic, m, pool)
        ctx = faiss_threads(self.threads) if self.threads else contextlib.nullcontext()
        with ctx:
            if backend == "kmeans":
                return self._kmeans(x, num_picks, synthetic, m, pool)
            return self._sparse(x, num_picks, synthetic, m, pool)

    def _kmeans(self, x, num_picks, synthetic, m, pool):
        n, sigma2 = len(x), self.sigma2_
        device = self.kernel_device or ("cuda" if gpu_available() else None)
        mu = cluster_kernel_mean(x, kmeans_summary(x, self.centroids, self.seed), sigma2, device)
        s = np.zeros(n) if synthetic is None else kernel_row_sums(x, synthetic, sigma2, device)

        def add_row(s, p):
            row = kernel_row_sums(x, x[p:p + 1], sigma2, device)
            row[p] = 1.0
            s += row

        return _greedy_mmd(mu, s, m, num_picks, add_row, pool)

    def _dense(self, x, num_picks, synthetic, m, pool):
        n, sigma2 = len(x), self.sigma2_
        mu = np.concatenate([k.sum(axis=1) for k in kernel_blocks(x, x, sigma2, diag=True)]) / n
        s = np.zeros(n)
        if synthetic is not None:
            for k in kernel_blocks(synthetic, x, sigma2):
                s += k.sum(axis=0)

        def add_row(s, p):
            s += next(kernel_blocks(x[p:p + 1], x, sigma2, diag=True, start=p))[0]

        return _greedy_mmd(mu, s, m, num_picks, add_row, pool)

    def _sparse(self, x, num_picks, synthetic, m, pool):
        n = len(x)
        index = build_index(x, approximate=self.approximate, threshold=self.threshold,
                            ef_search=self.ef_search)
        nbr = knn(index, x, self.k + 1)[1]  # +1: a point is normally its own first hit
        snbr = None if synthetic is None else knn(index, synthetic, self.k)[1]
        del index  # FAISS holds a copy of x
        indptr, cols = _knn_graph(nbr)
        del nbr
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        vals = _edge_kernel(x, x, rows, cols, self.sigma2_)
        vals[rows == cols] = 1.0
        del rows
        mu = np.add.reduceat(vals, indptr[:-1]) / n  # every row has its self loop
        s = np.zeros(n)
        if synthetic is not None:
            srows = np.repeat(np.arange(m, dtype=np.int64), snbr.shape[1])
            scols = snbr.ravel()
            ok = scols >= 0
            w = _edge_kernel(synthetic, x, srows[ok], scols[ok], self.sigma2_)
            s = np.bincount(scols[ok], weights=w, minlength=n).astype(np.float64)

        def add_row(s, p):
            lo, hi = indptr[p], indptr[p + 1]
            s[cols[lo:hi]] += vals[lo:hi]

        return _greedy_mmd(mu, s, m, num_picks, add_row, pool)


def select_synthetic(target, candidates, num_picks, preferred=None, seed=0):
    """``num_picks`` rows of ``candidates`` (m x d) by greedy MMD^2 to ``target`` (joint selection).

    The mmd-greedy rule with the candidates as the pool: each step adds the
    candidate that most lowers MMD^2(picked, T) (same kernel and bandwidth,
    ``median_sigma2(target, seed)``). Candidates in the boolean mask ``preferred``
    (e.g. recognised by a classifier) are all taken before any other one.
    Returns int64 indices into ``candidates`` in pick order.
    """
    x = _features(target, "target")
    c = _features(candidates, "candidate", x.shape[1])
    _check_picks(num_picks, len(c))
    first = np.ones(len(c), bool) if preferred is None else np.asarray(preferred, bool)
    sigma2, picks = median_sigma2(x, seed), np.empty(0, np.int64)
    for rows in (np.flatnonzero(first), np.flatnonzero(~first)):
        n = min(num_picks - len(picks), len(rows))
        if n:
            picks = np.concatenate([picks, rows[_greedy_from(c[rows], x, c[picks], n, sigma2)]])
    return picks


def select_union(target, candidates, num_picks, recognised=None, seed=0, real_recognised=None):
    """Joint selection from real ∪ candidates: ``(candidate rows, target rows)`` of the
    ``num_picks`` picks.

    Greedy MMD^2 to ``target`` over the pool ``candidates`` ∪ ``target`` (the
    class's real features are both the pool and the target), the real rows and
    the ``recognised`` candidates before any other candidate: a candidate is
    picked only where it lowers MMD^2 more than every real row left. With
    ``real_recognised`` (a mask over ``target``) only those real rows come
    first. Each returned array is in pick order.
    """
    x = _features(target, "target")
    c = _features(candidates, "candidate", x.shape[1])
    first = np.ones(len(c), bool) if recognised is None else np.asarray(recognised, bool)
    real = np.ones(len(x), bool) if real_recognised is None else np.asarray(real_recognised, bool)
    order = select_synthetic(x, np.concatenate([c, x]), min(num_picks, len(c) + len(x)),
                             np.concatenate([first, real]), seed)
    return order[order < len(c)], order[order >= len(c)] - len(c)


def _greedy_from(pool, target, chosen, num_picks, sigma2):
    """Greedy MMD^2(chosen ∪ R, target) picks of ``num_picks`` rows R of ``pool`` (dense kernel)."""
    mu = np.concatenate([k.sum(axis=1) for k in kernel_blocks(pool, target, sigma2)]) / len(target)
    s = np.zeros(len(pool))
    for k in kernel_blocks(chosen, pool, sigma2):
        s += k.sum(axis=0)

    def add_row(s, p):
        s += gaussian(_sqdist_to(pool, pool[p]), sigma2)

    return _greedy_mmd(mu, s, len(chosen), num_picks, add_row)


SELECTORS = {
    "mmd-greedy": MMDGreedySelector,
    "kcenter": KCenterSelector,
    "herding": HerdingSelector,
    "prototypes": PrototypesSelector,
    "random": RandomSelector,
}
assert tuple(SELECTORS) == SELECTOR_NAMES, "fiftyone_dsco.names.SELECTORS must list SELECTORS"


def get_selector(name=DEFAULT_SELECTOR, **options):
    """An instance of the selector registered as ``name`` with ``options``."""
    cls = SELECTORS.get(name)
    if cls is None:
        raise OptionError(f"Unknown selector {name!r}; valid names: {', '.join(SELECTORS)}.")
    return cls(**options)
