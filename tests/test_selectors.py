"""Per-class real-sample selectors for doping, on small hand-made feature sets."""

import numpy as np
import pytest

from fiftyone_dsco.errors import OptionError
from fiftyone_dsco.selection.selectors import (
    SELECTORS, HerdingSelector, KCenterSelector, MMDGreedySelector, RandomSelector,
    build_index, faiss_threads, get_selector, knn, median_sigma2, mmd2,
)

import faiss


def _blobs(seed=0, n=50, d=8, gap=20.0):
    """Two well separated Gaussian clusters: A (indices < n) and B (indices >= n)."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, d))
    b = rng.normal(size=(n, d)) + gap
    return np.vstack([a, b]).astype(np.float32)


def _gauss_set(seed, n, d):
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


@pytest.mark.parametrize("options", [{"backend": "numpy"}, {"k": 64, "backend": "faiss"},
                                     {"k": 64, "backend": "faiss", "approximate": True}])
def test_mmd_greedy_fills_the_missing_cluster(options):
    t = _blobs()
    s = t[:5] + 0.01  # synthetic points on cluster A only
    picks = MMDGreedySelector(**options).select(t, 3, s)
    assert picks.dtype == np.int64 and len(picks) == 3
    assert (picks >= 50).all()


def test_mmd_greedy_sparse_default_k_fills_the_missing_cluster():
    """With 50/50 clusters the median bandwidth spans both clusters, so the sparse
    graph must cover a whole cluster (k=64 above); with a larger missed cluster
    the default k=32 suffices."""
    rng = np.random.default_rng(0)
    t = np.vstack([rng.normal(size=(30, 8)), rng.normal(size=(70, 8)) + 20.0]).astype(np.float32)
    picks = MMDGreedySelector(backend="faiss").select(t, 3, t[:5] + 0.01)
    assert (picks >= 30).all()


def test_hnsw_path_is_deterministic_across_thread_counts():
    """Above the threshold (here 100 points) the sparse kernel's graph comes from HNSW,
    built on one thread: the picks do not depend on FAISS's thread count or the run."""
    rng = np.random.default_rng(11)
    t = (rng.normal(size=(3000, 16)) + 4.0 * rng.integers(0, 6, 3000)[:, None]).astype(np.float32)
    s = t[:8] + 0.01
    sel = dict(backend="faiss", threshold=100, seed=0)
    picks = []
    for threads in (1, 2, 2):
        with faiss_threads(threads):
            picks.append(MMDGreedySelector(**sel).select(t, 20, s))
    assert hasattr(build_index(t, threshold=100), "hnsw")
    for p in picks[1:]:
        np.testing.assert_array_equal(p, picks[0])


def test_mmd_greedy_without_synthetic_picks_from_both_clusters():
    picks = MMDGreedySelector().select(_blobs(), 2)
    assert {int(p) // 50 for p in picks} == {0, 1}


def test_kcenter_first_pick_is_the_outlier():
    t = _gauss_set(1, 40, 8)
    t[17] += 50.0
    s = _gauss_set(2, 5, 8)
    assert KCenterSelector().select(t, 3, s)[0] == 17


def test_kcenter_without_synthetic_starts_at_the_mean_then_goes_far():
    t = _gauss_set(3, 40, 8)
    t[29] += 50.0
    center = int(np.argmin(((t - t.mean(0)) ** 2).sum(1)))
    picks = KCenterSelector().select(t, 2)
    assert picks[0] == center and picks[1] == 29


def test_herding_first_pick_is_closest_to_mean():
    t = _gauss_set(4, 60, 8)
    closest = int(np.argmin(((t.astype(np.float64) - t.mean(0)) ** 2).sum(1)))
    picks = HerdingSelector().select(t, 4, synthetic=t[:3])
    assert picks[0] == closest
    # the picked set's mean moves towards the class mean; the synthetic set is ignored
    err = [np.linalg.norm(t[picks[:i]].mean(0) - t.mean(0)) for i in (1, 4)]
    assert err[1] < err[0] / 2
    np.testing.assert_array_equal(picks, HerdingSelector().select(t, 4))


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_every_selector_is_deterministic_and_valid(name):
    t, s = _gauss_set(5, 80, 8), _gauss_set(6, 4, 8)
    a = get_selector(name, seed=3).select(t, 10, s)
    b = get_selector(name, seed=3).select(t, 10, s)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.int64 and len(set(a.tolist())) == 10
    assert ((a >= 0) & (a < 80)).all()


def test_random_depends_on_seed():
    t = _gauss_set(7, 100, 4)
    a = RandomSelector(seed=0).select(t, 10)
    b = RandomSelector(seed=1).select(t, 10)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("seed", range(5))
def test_sparse_with_full_graph_equals_dense(seed):
    rng = np.random.default_rng(seed)
    t = (rng.normal(size=(120, 8)) + 3.0 * rng.integers(0, 3, 120)[:, None]).astype(np.float32)
    s = rng.normal(size=(6, 8)).astype(np.float32)
    sparse = MMDGreedySelector(k=200, seed=seed, backend="faiss").select(t, 25, s)
    dense = MMDGreedySelector(backend="numpy", seed=seed).select(t, 25, s)
    np.testing.assert_array_equal(sparse, dense)
    np.testing.assert_array_equal(MMDGreedySelector(k=120, backend="faiss").select(t, 10),
                                  MMDGreedySelector(backend="numpy").select(t, 10))


def test_dense_greedy_matches_the_objective():
    """Each dense greedy pick is the argmin of MMD^2(S ∪ R ∪ {x}, T) by direct evaluation."""
    t, s = _gauss_set(8, 30, 4), _gauss_set(9, 3, 4)
    sel = MMDGreedySelector(backend="numpy")
    picks = sel.select(t, 4, s)
    chosen = []
    for p in picks:
        vals = [np.inf if x in chosen else mmd2(np.vstack([s, t[chosen + [x]]]), t, sel.sigma2_)
                for x in range(len(t))]
        assert int(np.argmin(vals)) == p
        chosen.append(int(p))


def test_sparse_small_k_beats_random():
    rng = np.random.default_rng(10)
    t = (rng.normal(size=(200, 16)) + 4.0 * rng.integers(0, 4, 200)[:, None]).astype(np.float32)
    s = t[rng.integers(0, 200, 5)] + 0.05
    sel = MMDGreedySelector(k=10, backend="faiss")
    picks = sel.select(t, 15, s)
    ours = mmd2(np.vstack([s, t[picks]]), t, sel.sigma2_)
    rand = [mmd2(np.vstack([s, t[RandomSelector(seed=i).select(t, 15)]]), t, sel.sigma2_)
            for i in range(10)]
    assert ours < np.mean(rand) and ours < mmd2(s, t, sel.sigma2_)


def test_hnsw_path_returns_valid_unique_indices():
    t, s = _gauss_set(11, 300, 16), _gauss_set(12, 5, 16)
    index = build_index(t, threshold=100)
    assert isinstance(index, faiss.IndexHNSWFlat)
    assert isinstance(build_index(t), faiss.IndexFlatL2)
    picks = MMDGreedySelector(k=10, threshold=100).select(t, 20, s)
    assert len(set(picks.tolist())) == 20 and ((picks >= 0) & (picks < 300)).all()


def test_knn_returns_squared_distances():
    t = _gauss_set(13, 50, 8)
    d, i = knn(build_index(t), t[:3], 100)  # k clipped to n
    assert d.dtype == np.float32 and i.dtype == np.int64 and d.shape == (3, 50)
    np.testing.assert_array_equal(i[:, 0], [0, 1, 2])
    ref = ((t[:3, None, :].astype(np.float64) - t[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(np.sort(d, 1), np.sort(ref, 1), rtol=1e-4, atol=1e-4)


def test_faiss_threads_restores_previous_value():
    before = faiss.omp_get_max_threads()
    with faiss_threads(1):
        assert faiss.omp_get_max_threads() == 1
    assert faiss.omp_get_max_threads() == before


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_budget_edge_cases(name):
    t = _gauss_set(14, 12, 4)
    sel = get_selector(name)
    out = sel.select(t, 0)
    assert out.dtype == np.int64 and out.shape == (0,)
    assert sorted(sel.select(t, 12).tolist()) == list(range(12))
    with pytest.raises(OptionError, match=">= 0"):
        sel.select(t, -1)
    with pytest.raises(OptionError, match="12 real samples"):
        sel.select(t, 13)
    with pytest.raises(OptionError):
        sel.select(t, 2.0)


def test_bad_inputs_and_names():
    t = _gauss_set(15, 10, 4)
    with pytest.raises(OptionError, match="mmd-greedy"):
        get_selector("nope")
    with pytest.raises(ValueError):  # OptionError subclasses ValueError
        get_selector("nope")
    with pytest.raises(OptionError, match="dims"):
        get_selector().select(t, 2, synthetic=_gauss_set(0, 3, 5))
    with pytest.raises(OptionError, match="2-D float"):
        get_selector().select(t[0], 1)
    with pytest.raises(OptionError, match="2-D float"):
        get_selector().select(t.astype(np.int64), 1)
    with pytest.raises(OptionError, match="backend"):
        get_selector(backend="torch")
    with pytest.raises(OptionError, match="option"):
        get_selector("random", k=3)
    # empty synthetic set == no synthetic set; float64 input accepted
    np.testing.assert_array_equal(get_selector().select(t.astype(np.float64), 3, np.empty((0, 4))),
                                  get_selector().select(t, 3))


def test_mmd2_matches_double_loop():
    a, b = _gauss_set(16, 4, 3), _gauss_set(17, 5, 3) + 0.5
    sigma2 = 1.7

    def k(x, y):
        return np.exp(-np.sum((x.astype(np.float64) - y) ** 2) / (2 * sigma2))

    def mean_k(x, y):
        return sum(k(u, v) for u in x for v in y) / (len(x) * len(y))

    ref = mean_k(a, a) + mean_k(b, b) - 2 * mean_k(a, b)
    assert mmd2(a, b, sigma2) == pytest.approx(ref, rel=1e-10, abs=1e-12)
    assert mmd2(b, b, sigma2) == pytest.approx(0.0, abs=1e-12)


def test_median_sigma2_rule():
    x = np.array([[0.0], [1.0], [3.0]], np.float32)  # squared distances 1, 9, 4
    assert median_sigma2(x) == 4.0
    big = _gauss_set(18, 500, 4)
    assert median_sigma2(big, seed=1, max_points=100) == median_sigma2(big, seed=1, max_points=100)
    assert median_sigma2(np.zeros((3, 2), np.float32)) == 1.0


def test_mmd_greedy_bandwidth_scales_the_median_rule():
    """``bandwidth`` multiplies the median heuristic's sigma^2; a bad one is refused."""
    t = _gauss_set(13, 60, 4)
    base = MMDGreedySelector(backend="numpy")
    half = MMDGreedySelector(backend="numpy", bandwidth=0.5)
    base.select(t, 3)
    half.select(t, 3)
    assert base.sigma2_ == pytest.approx(median_sigma2(t))
    assert half.sigma2_ == pytest.approx(0.5 * median_sigma2(t))
    for bad in (0, -1.0, "wide", True, None):
        with pytest.raises(OptionError, match="bandwidth"):
            MMDGreedySelector(bandwidth=bad)


@pytest.mark.parametrize("name, options", [
    ("mmd-greedy", {"backend": "numpy"}), ("mmd-greedy", {"backend": "faiss", "k": 16}),
    ("mmd-greedy", {"backend": "kmeans"}), ("herding", {}), ("kcenter", {}), ("random", {})])
def test_preferred_rows_are_picked_first(name, options):
    """``preferred`` rows all come before any other; all rows preferred = no preference."""
    t = _gauss_set(5, 200, 8)
    preferred = np.random.default_rng(1).random(200) < 0.3
    sel = get_selector(name, **options)
    assert (sel.select(t, 10, preferred=np.ones(200, bool)) == sel.select(t, 10)).all()
    picks = sel.select(t, 80, preferred=preferred)
    n = int(preferred.sum())
    assert len(set(picks.tolist())) == 80 and preferred[picks[:n]].all()
    assert preferred[sel.select(t, 10, t[:5] + 0.1, preferred)].all()


def test_preferred_rows_change_greedy_picks_and_need_one_flag_per_row():
    t = _blobs()
    preferred = np.arange(100) >= 50  # only cluster B may be picked while it lasts
    assert (MMDGreedySelector(backend="numpy").select(t, 4, preferred=preferred) >= 50).all()
    assert (HerdingSelector().select(t, 4, preferred=preferred) >= 50).all()
    with pytest.raises(OptionError, match="preferred"):
        HerdingSelector().select(t, 4, preferred=preferred[:10])


def test_prototypes_pick_the_sample_nearest_each_cluster_centre():
    """Two far clusters, two picks: one per cluster, each the sample nearest its mean."""
    t = _blobs(n=40)
    picks = get_selector("prototypes").select(t, 2)
    a, b = t[:40].astype(np.float64), t[40:].astype(np.float64)
    nearest = {int(np.argmin(((a - a.mean(0)) ** 2).sum(1))),
               40 + int(np.argmin(((b - b.mean(0)) ** 2).sum(1)))}
    assert set(picks.tolist()) == nearest
    with pytest.raises(OptionError, match="niter"):
        get_selector("prototypes", niter=0)
