"""Kernel MMD between feature sets (torch, differentiable).

``MMD^2 = mean k(A, A) + mean k(B, B) - 2 mean k(A, B)`` (biased V-statistic).
Kernels: Gaussian with the median-heuristic bandwidth, or linear (mean matching).
"""

import torch

KERNELS = ("gaussian", "linear")


def median_sigma2(a, b):
    """Median heuristic: the lower median of the squared pairwise distances of ``a`` ∪ ``b``."""
    z = torch.cat([a, b]).detach()
    d = torch.cdist(z, z).pow(2)
    off = d[~torch.eye(len(z), dtype=torch.bool, device=z.device)]
    return off.median().clamp_min(1e-8)


def _k(a, b, kernel, sigma2):
    if kernel == "linear":
        return a @ b.T
    return torch.exp(-torch.cdist(a, b).pow(2) / (2 * sigma2))


def mmd2(a, b, kernel="gaussian", sigma2=None, include_bb=True):
    """MMD^2 between feature sets ``a`` (m x d) and ``b`` (n x d).

    ``sigma2=None`` uses the median heuristic. ``include_bb=False`` drops the
    constant ``k(B, B)`` term (for optimising ``a``).
    """
    if kernel not in KERNELS:
        raise ValueError(f"Unknown kernel {kernel!r}; choose one of {KERNELS}.")
    if kernel == "gaussian" and sigma2 is None:
        sigma2 = median_sigma2(a, b)
    if kernel == "linear":  # ||mean a - mean b||^2
        diff = a.mean(0) - b.mean(0)
        out = diff @ diff
        return out if include_bb else out - b.mean(0) @ b.mean(0)
    out = _k(a, a, kernel, sigma2).mean() - 2 * _k(a, b, kernel, sigma2).mean()
    if include_bb:
        out = out + _k(b, b, kernel, sigma2).mean()
    return out
