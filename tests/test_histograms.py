"""Histogram matching of a synthetic class's pixels to its real images' (issue #22)."""

import numpy as np
import pytest

from fiftyone_dsco import data, names, runs
from fiftyone_dsco.errors import OptionError, RunError
from fiftyone_dsco.synthesis import synthesize
from fiftyone_dsco.synthesis.histograms import match_histograms

FAST = dict(steps=4, guidance=2.0, extractor="random", device="cpu")


def _hazy_and_real(seed=0):
    """Real-like images (black background, a bright square) and the same with a faint haze."""
    rng = np.random.default_rng(seed)
    real = np.zeros((20, 1, 16, 16), np.uint8)
    real[:, :, 4:12, 4:12] = rng.integers(120, 256, (20, 1, 8, 8))
    hazy = real.copy()
    background = real == 0
    hazy[background] = rng.integers(3, 13, background.sum())  # 1-5 % of full scale
    return hazy, real


def test_matching_a_set_to_itself_changes_nothing():
    x = np.random.default_rng(0).integers(0, 256, (6, 3, 8, 8)).astype(np.uint8)
    assert (match_histograms(x, x) == x).all()


def test_matching_removes_a_background_haze_and_keeps_the_order():
    hazy, real = _hazy_and_real()
    out = match_histograms(hazy, real)
    assert (out[real == 0] == 0).all()  # the haze is black again
    assert abs(out.mean() - real.mean()) < 1.0
    flat_in, flat_out = hazy.ravel(), out.ravel()
    order = np.argsort(flat_in, kind="stable")
    assert (np.diff(flat_out[order].astype(int)) >= 0).all()  # one monotone map


def test_channels_are_matched_separately_and_sizes_may_differ():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (4, 2, 8, 8)).astype(np.uint8)
    ref = np.stack([np.zeros((10, 12, 12)), np.full((10, 12, 12), 255)], 1).astype(np.uint8)
    out = match_histograms(x, ref)
    assert (out[:, 0] == 0).all() and (out[:, 1] == 255).all()


@pytest.mark.parametrize("images, reference, error", [
    (np.zeros((2, 1, 4, 4)), np.zeros((2, 1, 4, 4), np.uint8), TypeError),
    (np.zeros((2, 1, 4, 4), np.uint8), np.zeros((2, 3, 4, 4), np.uint8), ValueError),
    (np.zeros((2, 4, 4), np.uint8), np.zeros((2, 4, 4), np.uint8), ValueError),
])
def test_bad_arrays_are_refused(images, reference, error):
    with pytest.raises(error):
        match_histograms(images, reference)


@pytest.fixture(scope="module")
def prior(prior_dir):
    from fiftyone_dsco.priors import load_prior

    return load_prior(prior_dir, device="cpu")


def _class_images(ds, view, c, size):
    ids = view.match({"ground_truth.label": c}).sort_by("filepath").values("id")
    return data.image_array(ds, ids, size, 1, cache=False)


def test_synthesize_writes_the_matched_pixels_and_records_the_option(digits_copy, prior):
    plain = synthesize(digits_copy, "ground_truth", prior, ipc=4, method="plain",
                       run_key="unmatched", classes=["5"], match_histograms=False, **FAST)
    matched = synthesize(digits_copy, "ground_truth", prior, ipc=4, method="plain",
                         run_key="matched", classes=["5"], match_histograms=True, **FAST)
    assert plain["num_samples"] == matched["num_samples"] == 4
    size = prior.card.image_size
    before, after = (_class_images(digits_copy, runs.synthetic_samples(digits_copy, key), "5", size)
                     for key in ("unmatched", "matched"))
    real = _class_images(digits_copy, data.train_view(digits_copy), "5", size)
    # same seeds, so the matched run is the unmatched one mapped onto the real histogram
    assert (match_histograms(before, real) == after).all()
    assert not (before == after).all()
    assert runs.run_config(digits_copy, "matched")["match_histograms"] is True
    assert "match_histograms" not in runs.run_config(digits_copy, "unmatched")  # older runs resume


def test_a_data_free_run_cannot_match_and_is_refused_before_anything_is_written(digits_copy,
                                                                                  prior):
    for kw, match in ((dict(data_free=True, match_histograms=True), "data-free"),
                      (dict(match_histograms="yes"), "True, False or None")):
        with pytest.raises(OptionError, match=match):
            synthesize(digits_copy, "ground_truth", prior, ipc=2, method="plain",
                       run_key="bad_match", **FAST, **kw)
    assert not digits_copy.has_run("bad_match")


def test_data_accessible_runs_match_by_default_from_either_start_data_free_do_not(digits_copy,
                                                                                  prior):
    assert names.default_match_histograms(data_free=False) is True
    assert names.default_match_histograms(data_free=True) is False
    for init in names.INITS:
        synthesize(digits_copy, "ground_truth", prior, ipc=2, method="plain",
                   run_key=f"{init}_default", classes=["4"], init=init, **FAST)
        assert runs.run_config(digits_copy, f"{init}_default")["match_histograms"] is True


def test_the_cli_leaves_the_default_to_the_library():
    from fiftyone_dsco.cli import main

    for command in ("synthesize", "concentrate"):
        param = next(p for p in main.commands[command].params if p.name == "match_histograms")
        assert param.default is None  # the library's per-mode default


def test_a_run_made_unmatched_is_refused_under_the_default_and_resumes_when_told(digits_copy,
                                                                                 prior):
    kw = dict(ipc=2, method="plain", run_key="before_default", classes=["3"], **FAST)
    synthesize(digits_copy, "ground_truth", prior, match_histograms=False, **kw)
    n = len(runs.run_samples(digits_copy, "before_default"))
    with pytest.raises(RunError, match="other options"):
        synthesize(digits_copy, "ground_truth", prior, **kw)  # the default matches
    assert len(runs.run_samples(digits_copy, "before_default")) == n  # nothing written
    synthesize(digits_copy, "ground_truth", prior, match_histograms=False, **kw)
    assert len(runs.run_samples(digits_copy, "before_default")) == n
