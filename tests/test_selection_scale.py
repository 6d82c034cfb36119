"""The large-class path of mmd-greedy (backend "kmeans"), auto's choice and the GPU probe."""

import faiss
import numpy as np
import pytest

from fiftyone_dsco.errors import OptionError
from fiftyone_dsco.names import SELECTION_BACKENDS
from fiftyone_dsco.selection import selectors as sel
from fiftyone_dsco.selection.selectors import (
    DENSE_MAX, MMDGreedySelector, faiss_threads, kmeans_summary, median_sigma2, mmd2,
)


def _mixture(seed, n=600, d=16, modes=6, warp=False):
    """Class-like features: a Gaussian mixture; ``warp``: anisotropic ReLU projection of it."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) + 3.0 * rng.normal(size=(modes, d))[rng.integers(0, modes, n)]
    if warp:
        x = np.maximum(x @ (rng.normal(size=(d, d)) * np.arange(1, d + 1) ** -0.7), 0)
    return x.astype(np.float32)


def _quality(t, s, picks):
    return mmd2(np.vstack([s, t[picks]]), t, median_sigma2(t))


def test_kmeans_is_a_backend_name():
    assert "kmeans" in SELECTION_BACKENDS and MMDGreedySelector.BACKENDS == SELECTION_BACKENDS
    with pytest.raises(OptionError):
        MMDGreedySelector(backend="kmeans", centroids=0)


@pytest.mark.parametrize("seed", range(4))
def test_kmeans_picks_reach_dense_mmd_within_5_percent(seed):
    """Gaussian-mixture classes (the cluster model of the kmeans path), K = 32 for
    n = 600: MMD^2(S ∪ R, T) of the kmeans picks at most 5 % above the dense picks'."""
    t = _mixture(seed)
    s = t[:4] + 0.01
    dense = MMDGreedySelector(backend="numpy", seed=seed).select(t, 15, s)
    km = MMDGreedySelector(backend="kmeans", centroids=32, seed=seed).select(t, 15, s)
    assert len(set(km.tolist())) == 15
    assert _quality(t, s, km) <= 1.05 * _quality(t, s, dense)


def test_kmeans_on_anisotropic_features_stays_near_dense():
    """ReLU of an anisotropic projection (clusters not isotropic Gaussians): over 8
    seeds the kmeans picks' MMD^2 is on average within 10 % of the dense picks' and
    never 1.5x worse (measured: mean 0.99, 0.70 to 1.44); the sparse kNN kernel at
    k = 8 is 2.9x to 31x worse on the same sets."""
    ratios = []
    for seed in range(8):
        t = _mixture(seed, warp=True)
        s = t[:4] + 0.01
        dense = MMDGreedySelector(backend="numpy").select(t, 15, s)
        km = MMDGreedySelector(backend="kmeans", centroids=32, seed=seed).select(t, 15, s)
        ratios.append(_quality(t, s, km) / _quality(t, s, dense))
    assert np.mean(ratios) <= 1.10 and max(ratios) < 1.5


def test_kmeans_with_one_centroid_per_point_equals_dense():
    """K = n: each cluster is one point with variance 0, so mu is the dense kernel mean."""
    t = _mixture(7, n=200)
    s = t[:3] + 0.01
    np.testing.assert_array_equal(
        MMDGreedySelector(backend="kmeans", centroids=200).select(t, 20, s),
        MMDGreedySelector(backend="numpy").select(t, 20, s))


def test_kmeans_is_seeded_and_deterministic_across_threads():
    t = _mixture(3, n=3000, d=32)
    s = t[:5] + 0.01
    runs = []
    for threads in (1, 2, 2):
        with faiss_threads(threads):
            runs.append(MMDGreedySelector(backend="kmeans", centroids=64, seed=5).select(t, 12, s))
    for r in runs[1:]:
        np.testing.assert_array_equal(r, runs[0])
    a, b = (kmeans_summary(t, 64, seed=1) for _ in range(2))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], kmeans_summary(t, 64, seed=2)[0])


def test_kmeans_summary_weights_and_variances():
    t = _mixture(4, n=500, d=8)
    cent, w, var = kmeans_summary(t, 10)
    assert cent.shape == (10, 8) and var.shape == (10, 8) and abs(w.sum() - 1) < 1e-12
    lab = np.argmin(((t[:, None, :] - cent[None]) ** 2).sum(-1), axis=1)
    for c in range(10):  # per cluster and per dimension
        resid = ((t[lab == c] - cent[c]) ** 2).mean(0)
        np.testing.assert_allclose(var[c], resid, rtol=1e-4, atol=1e-9)


def test_cluster_kernel_mean_of_an_anisotropic_cluster():
    """One elongated Gaussian cluster: the per-dimension model (around the assigned vectors'
    mean, not k-means' sampled centroid) gives the kernel mean; an isotropic model of the
    same cluster (one variance) is off by far more."""
    rng = np.random.default_rng(0)
    t = (rng.normal(size=(50000, 8)) * np.geomspace(0.1, 3.0, 8)).astype(np.float32)
    sigma2 = median_sigma2(t)
    x = t[:200]
    exact = np.exp(-sel.sqdist(x, t) / (2 * sigma2)).mean(1)
    cent, w, var = kmeans_summary(t, 1)
    got = sel.cluster_kernel_mean(x, (cent, w, var), sigma2)
    iso = sel.cluster_kernel_mean(x, (cent, w, np.repeat(var.mean(1, keepdims=True), 8, 1)),
                                  sigma2)
    err, iso_err = np.abs(got / exact - 1).mean(), np.abs(iso / exact - 1).mean()
    assert err < 0.005 and iso_err > 10 * err


@pytest.mark.parametrize("n, dense_max, expected", [(150, 100, "kmeans"), (100, 100, "numpy"),
                                                    (DENSE_MAX, None, "numpy"),
                                                    (DENSE_MAX + 1, None, "kmeans")])
def test_auto_chooses_by_class_size(n, dense_max, expected):
    t = _mixture(1, n=n, d=4)
    opts = {} if dense_max is None else {"dense_max": dense_max}
    m = MMDGreedySelector(centroids=8, **opts)
    m.select(t, 3)
    assert m.backend_ == expected


def test_auto_is_exact_at_a_fashion_mnist_class_size():
    """6,000 vectors a class (Fashion-MNIST's train split): auto takes the dense kernel, whose
    picks the tables measured; the kmeans summary's differed there (docs/doping.md)."""
    t = _mixture(0, n=6000, d=8, warp=True)
    auto = MMDGreedySelector()
    picks = auto.select(t, 10)
    assert auto.backend_ == "numpy"
    assert list(picks) == list(MMDGreedySelector(backend="numpy").select(t, 10))


def test_gpu_branch_only_when_the_probe_says_so(monkeypatch):
    moved, devices = [], set()
    monkeypatch.setattr(sel, "_to_gpu", lambda index: moved.append(type(index).__name__) or index)
    numpy_backend = sel._backend(None)
    monkeypatch.setattr(sel, "_backend", lambda device: devices.add(device) or numpy_backend)
    t = _mixture(2, n=400)
    s = t[:3] + 0.01
    monkeypatch.setattr(sel, "gpu_available", lambda: False)
    cpu = MMDGreedySelector(backend="kmeans", centroids=16).select(t, 5, s)
    sel.build_index(t)
    assert moved == [] and devices == {None}
    monkeypatch.setattr(sel, "gpu_available", lambda: True)
    gpu = MMDGreedySelector(backend="kmeans", centroids=16).select(t, 5, s)
    assert moved == ["IndexFlatL2"]  # k-means' index (train + assignment)
    assert devices == {None, "cuda"}  # the kernel sums go to the GPU too
    sel.build_index(t)
    assert moved == ["IndexFlatL2"] * 2  # flat search index
    np.testing.assert_array_equal(cpu, gpu)


def test_gpu_probe_needs_a_faiss_gpu_build_and_cuda(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    probe = sel.gpu_available.__wrapped__  # uncached
    monkeypatch.delattr(faiss, "StandardGpuResources", raising=False)
    assert probe() is False
    monkeypatch.setattr(faiss, "StandardGpuResources", object, raising=False)
    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 0)
    assert probe() is False
    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1)
    assert probe() is True
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert probe() is False


@pytest.mark.skipif(not sel.gpu_available(), reason="needs a FAISS GPU build and a GPU")
def test_gpu_and_cpu_agree_on_small_inputs():
    t = _mixture(5, n=3000, d=32)
    s = t[:4] + 0.01
    cpu, gpu = (kmeans_summary(t, 32, gpu=g) for g in (False, True))
    np.testing.assert_allclose(gpu[1], cpu[1], atol=0.02)  # cluster shares
    picks = {g: MMDGreedySelector(backend="kmeans", centroids=32) for g in (False, True)}
    q = {}
    for g, selector in picks.items():
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(sel, "gpu_available", lambda g=g: g)
            q[g] = _quality(t, s, selector.select(t, 10, s))
    assert q[True] == pytest.approx(q[False], rel=0.01)


def test_kernel_sums_in_torch_match_numpy():
    """The GPU path's kernel sums (torch, float64), checked on the CPU: same mu, same picks."""
    pytest.importorskip("torch")
    t = _mixture(6, n=800, d=16, warp=True)
    s = t[:3] + 0.01
    summary, s2 = kmeans_summary(t, 32), median_sigma2(t)
    np.testing.assert_allclose(sel.cluster_kernel_mean(t, summary, s2, "cpu"),
                               sel.cluster_kernel_mean(t, summary, s2), rtol=1e-10)
    np.testing.assert_allclose(sel.kernel_row_sums(t, s, s2, "cpu"),
                               sel.kernel_row_sums(t, s, s2), rtol=1e-10)
    numpy_picks = MMDGreedySelector(backend="kmeans", centroids=32).select(t, 8, s)
    torch_picks = MMDGreedySelector(backend="kmeans", centroids=32,
                                    kernel_device="cpu").select(t, 8, s)
    np.testing.assert_array_equal(numpy_picks, torch_picks)
