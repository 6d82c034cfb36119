"""One MMD^2 formula and one bandwidth rule for NOpt, the reports and the selectors."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from fiftyone_dsco import mmd
from fiftyone_dsco.synthesis import sampling as synthesis
from fiftyone_dsco.selection import doping, selectors
from fiftyone_dsco.mmd import median_sigma2, mmd2, report_mmd2


def _sets(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(5, 3)), rng.normal(1, size=(7, 3))


def _kmean(x, y, s2):
    return np.exp(-((x[:, None] - y[None]) ** 2).sum(-1) / (2 * s2)).mean()


def test_numpy_and_torch_paths_agree_with_the_formula():
    a, b = _sets()
    s2 = 1.7
    want = _kmean(a, a, s2) + _kmean(b, b, s2) - 2 * _kmean(a, b, s2)
    ta, tb = torch.tensor(a), torch.tensor(b)
    assert mmd2(ta, tb, s2).item() == pytest.approx(want, rel=1e-9)
    assert mmd2(a, b, s2) == pytest.approx(want, rel=1e-9)
    # default bandwidth: the same rule on both paths
    assert mmd2(ta, tb).item() == pytest.approx(mmd2(a, b), rel=1e-9)
    lin = ((a.mean(0) - b.mean(0)) ** 2).sum()
    assert mmd2(ta, tb, kernel="linear").item() == pytest.approx(lin)
    assert mmd2(a, b, kernel="linear") == pytest.approx(lin)
    # differentiable; include_bb=False drops only the constant k(B, B) term
    ta.requires_grad_(True)
    loss = mmd2(ta, tb, include_bb=False)
    loss.backward()
    assert ta.grad.abs().sum() > 0
    assert loss.item() == pytest.approx(mmd2(a, b) - _kmean(b, b, median_sigma2(b)), rel=1e-9)


def test_bandwidth_is_the_target_median_whatever_the_scored_set():
    a, b = _sets()
    d = ((b[:, None] - b[None]) ** 2).sum(-1)[np.triu_indices(len(b), 1)]
    assert median_sigma2(b) == pytest.approx(np.median(d))
    assert median_sigma2(torch.tensor(b)) == pytest.approx(np.median(d))
    for x in (a, a + 5.0):
        assert mmd2(torch.tensor(x), torch.tensor(b)).item() == pytest.approx(
            mmd2(x, b, np.median(d)), rel=1e-9)


class _Identity:
    """A pixel-space "extractor" whose features are its input."""

    space = "pixel"

    def __call__(self, x):
        return x


def test_synthesis_and_doping_report_the_same_number():
    rng = np.random.default_rng(1)
    bank = rng.normal(size=(2500, 8)).astype(np.float32)  # > 2000: both report on a subset
    feats = rng.normal(0.3, size=(6, 8)).astype(np.float32)
    targets = SimpleNamespace(extractor=_Identity())
    from_synthesis = synthesis._Targets.mmd(targets, torch.tensor(feats), None, bank)
    from_doping = doping._mmd(feats, bank)
    assert from_synthesis == from_doping == report_mmd2(feats, bank)
    rows = np.linspace(0, 2499, 2000).astype(int)
    assert from_doping == pytest.approx(mmd2(feats, bank[rows], median_sigma2(bank[rows])))


def test_selectors_use_the_shared_formula_and_rule():
    assert selectors.mmd2 is mmd.mmd2 and selectors.median_sigma2 is mmd.median_sigma2
    assert not hasattr(selectors, "_sqdist") and not hasattr(selectors, "_kernel_blocks")
