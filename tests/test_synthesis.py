"""Synthesis (plain and NOpt) into the dataset, as a resumable FiftyOne run."""

import os

import numpy as np
import pytest
import torch


from fiftyone import ViewField as F

from fiftyone_dsco import data, runs
from fiftyone_dsco.errors import ClassMismatchError, OptionError, UnreadableImageError
from fiftyone_dsco.priors import fit_prior
from fiftyone_dsco.synthesis import synthesize

FAST = dict(steps=4, guidance=2.0, extractor="random", device="cpu")


@pytest.fixture(scope="module")
def prior(digits, tmp_path_factory):
    return fit_prior(digits, "ground_truth", output_dir=str(tmp_path_factory.mktemp("prior")),
                     steps=30, batch_size=16, block_out_channels=(8, 16, 16),
                     recognisability=False, device="cpu")


def test_nopt_lowers_mmd_vs_plain_same_seeds(digits_copy, prior):
    res = synthesize(digits_copy, "ground_truth", prior, ipc=4, classes=["0", "1", "2"],
                     iterations=3, lr=0.2, **FAST)
    for c in ["0", "1", "2"]:
        r = res["classes"][c]
        assert r["mmd"] < r["mmd_plain"], (c, r)


def test_samples_fields_tags_views_and_delete(digits_copy, prior):
    res = synthesize(digits_copy, "ground_truth", prior, ipc=2, method="plain",
                     run_key="plain_demo", **FAST)
    synth = digits_copy.match_tags("dsco:synthetic")
    assert len(synth) == 20 and res["num_samples"] == 20 and res["complete"]
    s = synth.first()
    assert s.dsco.source == "synthetic" and s.dsco.run_key == "plain_demo"
    assert s.dsco.method == "plain" and isinstance(s.dsco.seed, int)
    assert s.ground_truth.label in [str(d) for d in range(10)]
    assert os.path.isfile(s.filepath) and s.filepath.endswith(".png")
    assert "dsco:plain_demo" in s.tags
    assert len(data.real_view(digits_copy)) == 1797
    assert len(data.train_view(digits_copy)) == 1437
    assert digits_copy.has_saved_view("dsco-plain-demo")
    assert len(digits_copy.load_saved_view("dsco-plain-demo")) == 20
    assert [r["key"] for r in runs.list_runs(digits_copy)] == ["plain_demo"]
    # re-running the same key never duplicates samples
    synthesize(digits_copy, "ground_truth", prior, ipc=2, method="plain", run_key="plain_demo", **FAST)
    assert len(digits_copy.match_tags("dsco:synthetic")) == 20
    # other options need overwrite, which replaces cleanly
    with pytest.raises(Exception, match="overwrite=True"):
        synthesize(digits_copy, "ground_truth", prior, ipc=3, method="plain", run_key="plain_demo", **FAST)
    synthesize(digits_copy, "ground_truth", prior, ipc=3, method="plain", run_key="plain_demo",
               overwrite=True, **FAST)
    assert len(digits_copy.match_tags("dsco:synthetic")) == 30
    paths = digits_copy.match_tags("dsco:synthetic").values("filepath")
    runs.delete_run(digits_copy, "plain_demo")
    assert len(digits_copy.match_tags("dsco:synthetic")) == 0
    assert not any(os.path.exists(p) for p in paths)
    assert not digits_copy.has_saved_view("dsco-plain-demo") and not digits_copy.has_run("plain_demo")
    assert len(digits_copy) == 1797


class Crash(Exception):
    pass


def test_resume_after_crash_gives_same_samples(digits_copy, prior):
    kw = dict(ipc=2, classes=["3", "4", "5"], iterations=1, **FAST)
    synthesize(digits_copy, "ground_truth", prior, run_key="straight", **kw)
    calls = []

    def crash_after_first_class(pb):
        calls.append(pb.iteration)
        if pb.iteration == 1:
            raise Crash

    with pytest.raises(Crash):
        synthesize(digits_copy, "ground_truth", prior, run_key="crashy",
                   progress=crash_after_first_class, **kw)
    assert len(runs.run_samples(digits_copy, "crashy")) == 2  # one class done, nothing partial
    synthesize(digits_copy, "ground_truth", prior, run_key="crashy", **kw)

    def pixels(key):
        view = runs.run_samples(digits_copy, key).sort_by("filepath")
        return [np.asarray(data.read_image(p)) for p in view.values("filepath")], \
            view.values("ground_truth.label")

    a, la = pixels("straight")
    b, lb = pixels("crashy")
    assert la == lb and len(a) == 6
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_data_free_opens_no_real_image(digits_copy, prior):
    # every real image is made unreadable: data-free synthesis must not care
    real = data.real_view(digits_copy)
    real.set_values("filepath", ["/nonexistent/real-%d.png" % i for i in range(len(real))])
    with pytest.raises(UnreadableImageError):
        synthesize(digits_copy, "ground_truth", prior, ipc=1, classes=["0"], run_key="da", **FAST)
    assert not digits_copy.has_run("da")  # failed before anything was written
    res = synthesize(digits_copy, "ground_truth", prior, ipc=2, classes=["0", "1"], run_key="df",
                     data_free=True, pool_size=8, iterations=1, **FAST)
    assert res["classes"]["0"]["done"] and "mmd" in res["classes"]["0"]
    assert len(runs.run_samples(digits_copy, "df")) == 4


def test_bad_options_write_nothing(digits_copy, prior):
    before = len(digits_copy)
    with pytest.raises(OptionError, match="ipc"):
        synthesize(digits_copy, "ground_truth", prior, ipc=0, **FAST)
    with pytest.raises(OptionError, match="feature extractor"):
        synthesize(digits_copy, "ground_truth", prior, ipc=1, **dict(FAST, extractor="vgg"))
    with pytest.raises(OptionError, match="method"):
        synthesize(digits_copy, "ground_truth", prior, ipc=1, method="gan", **FAST)
    other = digits_copy.clone()
    try:
        s = other.first()
        s.ground_truth.label = "ten"
        s.save()
        with pytest.raises(ClassMismatchError, match="ten"):
            synthesize(other, "ground_truth", prior, ipc=1, **FAST)
        assert not other.list_runs()
    finally:
        other.delete()
    assert len(digits_copy) == before and not digits_copy.list_runs()


@pytest.mark.parametrize("reuse, calls_per_step", [(True, 1), (False, 2)])
def test_reuse_prediction_saves_one_denoiser_pass_per_step(prior, monkeypatch, reuse, calls_per_step):
    from fiftyone_dsco.features import build_extractor
    from fiftyone_dsco.synthesis.nopt import NOptHook, NOptOptions
    from fiftyone_dsco.priors.sampler import denoise, initial_noise

    calls = []
    predict = prior.predict
    monkeypatch.setattr(prior, "predict", lambda *a, **k: calls.append(1) or predict(*a, **k))
    ext = build_extractor("random", prior)
    labels = torch.zeros(3, dtype=torch.long)
    size, ch = prior.card.image_size, prior.card.channels
    with torch.no_grad():
        target = ext(torch.rand(20, ch, size, size) * 2 - 1)
    hook = NOptHook(prior, ext, target, labels, 2.0, 4, NOptOptions(reuse_prediction=reuse))
    out = denoise(prior, initial_noise(prior, 3, 0), labels, steps=4, guidance=2.0, step_hook=hook)
    assert len(calls) == 4 * calls_per_step
    assert torch.isfinite(out).all()


def test_real_init_at_strength_0_returns_the_selected_real_images(digits_copy, prior):
    res = synthesize(digits_copy, "ground_truth", prior, ipc=3, method="plain", run_key="real0",
                     init="real", strength=0.0, init_selector="herding", classes=["0", "1"],
                     **FAST)
    for k, c in enumerate(["0", "1"]):
        ids = res["classes"][c]["init_ids"]
        assert len(ids) == 3 and set(ids) <= set(data.train_view(digits_copy).values("id"))
        view = runs.run_samples(digits_copy, "real0").match(F("dsco.class_index") == k)
        written = np.stack([data.read_image(p, prior.card.image_size, 1)
                            for p in view.sort_by("dsco.index").values("filepath")])
        real = data.image_array(digits_copy, ids, prior.card.image_size, 1, cache=False)
        assert np.abs(written.astype(int) - real.astype(int)).max() <= 1
    cfg = runs.run_config(digits_copy, "real0")
    assert (cfg["init"], cfg["strength"], cfg["init_selector"]) == ("real", 0.0, "herding")


def test_real_init_reads_no_test_image_and_noise_runs_keep_their_config(digits_copy, prior):
    test = digits_copy.match_tags("test")
    test.set_values("filepath", [f"/nonexistent/{i}.png" for i in range(len(test))])
    res = synthesize(digits_copy, "ground_truth", prior, ipc=2, run_key="real5", init="real",
                     strength=0.5, classes=["3"], iterations=1, **FAST)
    assert len(res["classes"]["3"]["init_ids"]) == 2
    synthesize(digits_copy, "ground_truth", prior, ipc=1, method="plain", run_key="noisy",
               classes=["3"], **FAST)
    assert "init" not in runs.run_config(digits_copy, "noisy")  # older runs still resume


def test_real_init_options_are_checked_before_anything_is_written(digits_copy, prior):
    for kw, match in ((dict(init="real", data_free=True), "data-free"),
                      (dict(init="real", strength=1.5), "strength"),
                      (dict(init="photo"), "Unknown init"),
                      (dict(init="real", init_selector="best"), "init_selector"),
                      (dict(init="real", ipc=500), "fewer")):
        args = dict(dict(ipc=2, method="plain", run_key="bad", **FAST), **kw)
        with pytest.raises(OptionError, match=match):
            synthesize(digits_copy, "ground_truth", prior, **args)
    assert not digits_copy.has_run("bad")
