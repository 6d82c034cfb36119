"""Kernel MMD^2 between feature sets: the package's one bandwidth rule and one formula.

``MMD^2(A, B) = mean k(A, A) + mean k(B, B) - 2 mean k(A, B)`` (biased
V-statistic) with the Gaussian kernel ``k(x, y) = exp(-||x - y||^2 / (2 sigma^2))``
or the linear kernel ``k(x, y) = x . y`` (mean matching).

Bandwidth rule (:func:`median_sigma2`): ``sigma^2`` is the median of the squared
pairwise distances of the *target* set ``B`` alone (a seeded subsample of 2000
rows when larger), never of the set being scored. Every set scored against the
same target therefore uses the same kernel, so NOpt's loss, synthesis's
per-class ``mmd``, doping's ``mmd_before``/``mmd_after`` (all via
:func:`report_mmd2`) and the selectors' objective are comparable.

:func:`mmd2` takes NumPy arrays (float64, kernels summed in row blocks, so
memory stays bounded) or torch tensors (dense kernels on the input's device,
differentiable: NOpt's loss). torch is not imported here: NumPy callers (the
selectors) need only NumPy.
"""

import sys

import numpy as np

from .errors import OptionError
from .names import KERNELS
REPORT_POINTS = 2000  #: target rows :func:`report_mmd2` compares against


def _is_tensor(x):
    torch = sys.modules.get("torch")  # a tensor exists only once torch is imported
    return torch is not None and isinstance(x, torch.Tensor)


def _numpy(x):
    """``x`` as a NumPy array (a tensor is detached and copied to the CPU in float64)."""
    return x.detach().cpu().double().numpy() if _is_tensor(x) else np.asarray(x)


def sqdist(a, b):
    """Dense squared Euclidean distances between the rows of ``a`` and ``b`` (float64, >= 0)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    d = np.einsum("ij,ij->i", a64, a64)[:, None] + np.einsum("ij,ij->i", b64, b64)[None, :]
    d -= 2.0 * (a64 @ b64.T)
    return np.maximum(d, 0.0, out=d)


def gaussian(d2, sigma2):
    """The Gaussian kernel of squared distances ``d2``."""
    return np.exp(-d2 / (2.0 * sigma2))


def kernel_blocks(a, b, sigma2, diag=False, start=0, cells=1 << 23):
    """Dense Gaussian kernel ``k(a, b)`` (NumPy) in row blocks of at most ``cells`` entries.

    ``diag=True``: row ``i`` of ``a`` is row ``start + i`` of ``b``, so that
    entry is set to exactly 1.
    """
    step = max(1, cells // max(1, len(b)))
    for s in range(0, len(a), step):
        k = gaussian(sqdist(a[s:s + step], b), sigma2)
        if diag:
            i = np.arange(len(k))
            k[i, start + s + i] = 1.0
        yield k


def median_sigma2(x, seed=0, max_points=2000):
    """Median-heuristic bandwidth ``sigma^2`` of the target set ``x`` (array or tensor).

    Rule: if ``x`` has more than ``max_points`` rows, take ``max_points`` of
    them uniformly without replacement (``np.random.default_rng(seed)``); then
    return ``np.median`` of the squared Euclidean distances over all pairs
    ``i < j`` (mean of the two middle values for an even count). If that median
    is 0 (mostly duplicates), the mean of the positive distances is used; 1.0 if
    there are none or fewer than 2 points.
    """
    x = _numpy(x)
    if len(x) > max_points:
        x = x[np.sort(np.random.default_rng(seed).choice(len(x), max_points, replace=False))]
    if len(x) < 2:
        return 1.0
    d = sqdist(x, x)[np.triu(np.ones((len(x), len(x)), bool), k=1)]
    med = float(np.median(d))
    if med > 0:
        return med
    pos = d[d > 0]
    return float(pos.mean()) if len(pos) else 1.0


def _mean_k(x, y, kernel, sigma2):
    """Mean kernel value over ``x`` x ``y``."""
    if kernel == "linear":
        return x.mean(0) @ y.mean(0)
    if _is_tensor(x):
        torch = sys.modules["torch"]
        return torch.exp(-torch.cdist(x, y).pow(2) / (2 * sigma2)).mean()
    return sum(float(k.sum()) for k in kernel_blocks(x, y, sigma2)) / (len(x) * len(y))


def mean_kernel(a, b, sigma2=None, kernel="gaussian"):
    """Mean kernel value over ``a`` x ``b`` (tensors: differentiable); ``sigma2=None``: the
    bandwidth rule on ``b``."""
    if kernel == "gaussian" and sigma2 is None:
        sigma2 = median_sigma2(b)
    return _mean_k(a, b, kernel, sigma2)


def mmd2(a, b, sigma2=None, kernel="gaussian", include_bb=True):
    """Biased MMD^2 between feature sets ``a`` (m x d) and ``b`` (n x d, the target).

    Both NumPy arrays (returns a float, computed in float64) or both torch
    tensors (returns a differentiable 0-d tensor). ``sigma2=None`` uses
    ``median_sigma2(b)``. ``include_bb=False`` drops the constant ``k(B, B)``
    term (for optimising ``a``).
    """
    if kernel not in KERNELS:
        raise OptionError(f"Unknown kernel {kernel!r}; choose one of {KERNELS}.")
    if not len(a) or not len(b):
        raise OptionError("mmd2 needs at least one sample in each set.")
    if kernel == "gaussian":
        sigma2 = median_sigma2(b) if sigma2 is None else float(sigma2)
    if not _is_tensor(a):
        a, b = (np.asarray(_numpy(v), np.float64) for v in (a, b))
    out = _mean_k(a, a, kernel, sigma2) - 2 * _mean_k(a, b, kernel, sigma2)
    if include_bb:
        out = out + _mean_k(b, b, kernel, sigma2)
    return out if _is_tensor(out) else float(out)


def report_mmd2(features, target, max_points=REPORT_POINTS):
    """The MMD^2 a run records: Gaussian ``mmd2`` of ``features`` against ``max_points``
    evenly spaced rows of ``target`` (all rows when fewer), computed in NumPy float64
    whether the inputs are arrays or tensors, so every run reports the same number
    for the same set."""
    target = _numpy(target)
    rows = np.linspace(0, len(target) - 1, min(len(target), max_points)).astype(int)
    return mmd2(_numpy(features), target[rows])
