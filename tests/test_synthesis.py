"""Synthesis (plain and NOpt) into the dataset, as a resumable FiftyOne run."""

import os

import numpy as np
import pytest
import torch


from fiftyone import ViewField as F

from fiftyone_dsco import data, names, runs
from fiftyone_dsco.errors import ClassMismatchError, OptionError, UnreadableImageError
from fiftyone_dsco.priors import fit_prior
from fiftyone_dsco.synthesis import synthesize

FAST = dict(steps=4, guidance=2.0, extractor="random", device="cpu")
#: Mean absolute pixel error (0-1) of DDIM inversion + denoising with the tiny test prior: measured
#: 0.019 on digits (8 steps, strength 0.5, guidance 1), against 0.13 for forward noising.
INVERSION_TOLERANCE = 0.05


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
    # one class per call (tests/test_class_batch.py resumes a cut-off class batch)
    kw = dict(ipc=2, classes=["3", "4", "5"], iterations=1, class_batch=1, **FAST)
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


def test_guidance_defaults_per_mode(digits_copy, prior):
    """No guidance given: 2 from real data, 1 data-free (chosen on validation), as recorded."""
    fast = {k: v for k, v in FAST.items() if k != "guidance"}
    synthesize(digits_copy, "ground_truth", prior, ipc=1, classes=["0"], run_key="g_real",
               method="plain", **fast)
    synthesize(digits_copy, "ground_truth", prior, ipc=1, classes=["0"], run_key="g_free",
               data_free=True, pool_size=4, iterations=1, **fast)
    assert runs.run_config(digits_copy, "g_real")["guidance"] == names.DEFAULT_GUIDANCE == 2.0
    assert runs.run_config(digits_copy, "g_free")["guidance"] == \
        names.DEFAULT_DATA_FREE_GUIDANCE == 1.0


def test_random_nets_default_per_mode(digits_copy, prior):
    """No random_nets given: 2 data-free (chosen on validation), none from real data; a run
    told 0 records nothing, as data-free runs made before the default."""
    synthesize(digits_copy, "ground_truth", prior, ipc=1, classes=["0"], run_key="n_real",
               **FAST)
    synthesize(digits_copy, "ground_truth", prior, ipc=1, classes=["0"], run_key="n_free",
               data_free=True, pool_size=4, **FAST)
    synthesize(digits_copy, "ground_truth", prior, ipc=1, classes=["0"], run_key="n_free0",
               data_free=True, pool_size=4, random_nets=0, **FAST)
    nopt = {key: runs.run_config(digits_copy, key)["nopt"]
            for key in ("n_real", "n_free", "n_free0")}
    assert nopt["n_free"]["random_nets"] == names.DEFAULT_DATA_FREE_RANDOM_NETS == 2
    assert "random_nets" not in nopt["n_real"] and "random_nets" not in nopt["n_free0"]
    assert names.default_random_nets(True, "prior-latent") == 0  # it sees latents, not images


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


def _written_and_real(ds, res, run_key, classes, size):
    """Per class: (the run's written images, the real images it started from), uint8."""
    out, all_classes = [], runs.run_config(ds, run_key)["classes"]
    for c in classes:
        view = runs.run_samples(ds, run_key).match(F("dsco.class_index") == all_classes.index(c))
        written = np.stack([data.read_image(p, size, 1)
                            for p in view.sort_by("dsco.index").values("filepath")])
        ids = res["classes"][c]["init_ids"]
        out.append((written, data.image_array(ds, ids, size, 1, cache=False)))
    return out


@pytest.mark.parametrize("noising", ["forward", "ddim-inversion"])
def test_real_init_at_strength_0_returns_the_selected_real_images(digits_copy, prior, noising):
    res = synthesize(digits_copy, "ground_truth", prior, ipc=3, method="plain", run_key="real0",
                     init="real", strength=0.0, init_selector="herding", classes=["0", "1"],
                     init_noising=noising, match_histograms=False, **FAST)
    train_ids = set(data.train_view(digits_copy).values("id"))
    for c in ["0", "1"]:
        assert len(res["classes"][c]["init_ids"]) == 3
        assert set(res["classes"][c]["init_ids"]) <= train_ids
    for written, real in _written_and_real(digits_copy, res, "real0", ["0", "1"],
                                           prior.card.image_size):
        assert np.abs(written.astype(int) - real.astype(int)).max() <= 1
    cfg = runs.run_config(digits_copy, "real0")
    assert (cfg["init"], cfg["strength"], cfg["init_selector"]) == ("real", 0.0, "herding")
    assert cfg.get("init_noising", "forward") == noising  # the default is not recorded


def test_ddim_inversion_then_denoising_reconstructs_the_real_images(digits_copy, prior):
    """DDIM inversion to strength 0.5, then DDIM back at guidance 1 without NOpt, about returns
    the real starts; forward noising (fresh noise) does not."""
    error = {}
    for noising in ("ddim-inversion", "forward"):
        key = noising.replace("-", "_")
        res = synthesize(digits_copy, "ground_truth", prior, ipc=3, method="plain", run_key=key,
                         init="real", strength=0.5, classes=["2"], init_noising=noising,
                         match_histograms=False, **dict(FAST, guidance=1.0, steps=8))
        [(written, real)] = _written_and_real(digits_copy, res, key, ["2"], prior.card.image_size)
        error[noising] = np.abs(written.astype(float) - real.astype(float)).mean() / 255
    assert error["ddim-inversion"] < INVERSION_TOLERANCE, error
    assert error["ddim-inversion"] < error["forward"] / 3, error


@pytest.mark.parametrize("noising", ["forward", "ddim-inversion"])
def test_real_init_reads_no_test_image(digits_copy, prior, monkeypatch, noising):
    read = []
    read_image = data.access.read_image
    monkeypatch.setattr(data.access, "read_image",
                        lambda *a, **k: read.append(k.get("sample_id")) or read_image(*a, **k))
    res = synthesize(digits_copy, "ground_truth", prior, ipc=2, run_key="real5", init="real",
                     strength=0.5, classes=["3"], iterations=1, init_noising=noising, **FAST)
    init_ids = res["classes"]["3"]["init_ids"]
    assert len(init_ids) == 2 and set(init_ids) <= set(read)  # the spy saw the real reads
    assert not set(read) & set(digits_copy.match_tags("test").values("id"))


def test_real_starts_are_picked_among_the_recognised_samples_first(digits_copy, prior,
                                                                   monkeypatch):
    """``init_prefer_recognised`` picks the starts among the samples the reference classifier
    recognises: here (its verdict replaced) only each class's last three train samples."""
    from fiftyone_dsco.synthesis import sampling

    def last_three(classifier, features, label, device="cpu"):
        mask = np.zeros(len(features), bool)
        mask[-3:] = True
        return mask

    monkeypatch.setattr(sampling, "recognised_mask", last_three)
    res = synthesize(digits_copy, "ground_truth", prior, ipc=3, method="plain", run_key="rec0",
                     init="real", strength=0.0, init_selector="herding",
                     init_prefer_recognised=True, classes=["4", "7"], match_histograms=False,
                     **FAST)
    table = data.class_table(data.train_view(digits_copy), "ground_truth")
    for c in ["4", "7"]:
        assert sorted(res["classes"][c]["init_ids"]) == sorted(table.ids_by_class[c][-3:]), c
    assert runs.run_config(digits_copy, "rec0")["init_prefer_recognised"] is True


def test_noise_runs_keep_their_config(digits_copy, prior):
    synthesize(digits_copy, "ground_truth", prior, ipc=1, method="plain", run_key="noisy",
               classes=["3"], **FAST)
    cfg = runs.run_config(digits_copy, "noisy")
    assert not {"init", "init_noising", "strength"} & set(cfg)  # older runs still resume


def test_real_init_options_are_checked_before_anything_is_written(digits_copy, prior):
    for kw, match in ((dict(init="real", data_free=True), "data-free"),
                      (dict(init="real", strength=1.5), "strength"),
                      (dict(init="photo"), "Unknown init"),
                      (dict(init="real", init_selector="best"), "init_selector"),
                      (dict(init="real", init_noising="reverse"), "init_noising"),
                      (dict(init="real", init_prefer_recognised="yes"), "init_prefer_recognised"),
                      (dict(init="real", ipc=500), "fewer")):
        args = dict(dict(ipc=2, method="plain", run_key="bad", **FAST), **kw)
        with pytest.raises(OptionError, match=match):
            synthesize(digits_copy, "ground_truth", prior, **args)
    assert not digits_copy.has_run("bad")
    from fiftyone_dsco import names
    from fiftyone_dsco.cli import main

    for command in ("synthesize", "concentrate"):
        param = next(p for p in main.commands[command].params if p.name == "init_noising")
        assert tuple(param.type.choices) == names.INIT_NOISINGS
        assert param.default == names.DEFAULT_INIT_NOISING


def _lever_hook(prior, **options):
    from fiftyone_dsco.features import build_extractor
    from fiftyone_dsco.synthesis.nopt import NOptHook, NOptOptions

    ext = build_extractor("random", prior)
    size, ch = prior.card.image_size, prior.card.channels
    images = torch.rand(20, ch, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        target = ext(images)
    return NOptHook(prior, ext, target, torch.zeros(3, dtype=torch.long), 2.0, 4,
                    NOptOptions(**options), target_images=images)


@pytest.mark.parametrize("options", [dict(diversity=1.0), dict(augment="crop_cutout_scale_rotate"),
                                     dict(random_nets=2)])
def test_each_lever_changes_the_samples_and_is_seeded(prior, options):
    from fiftyone_dsco.priors.sampler import denoise, initial_noise

    def run(**opts):
        hook = _lever_hook(prior, **opts)
        return denoise(prior, initial_noise(prior, 3, 0), hook.labels, steps=4, guidance=2.0,
                       step_hook=hook)

    base, lever, again = run(), run(**options), run(**options)
    assert torch.isfinite(lever).all() and not torch.allclose(base, lever)
    torch.testing.assert_close(lever, again)  # the levers' draws are seeded


def test_diversity_adds_the_repulsion_term(prior):
    from fiftyone_dsco.mmd import mean_kernel, median_sigma2, mmd2

    hook = _lever_hook(prior, diversity=0.5)
    feats = torch.randn(3, hook.target.shape[1])
    s2 = median_sigma2(hook.target)
    want = mmd2(feats, hook.target, s2, include_bb=False) + 0.5 * mean_kernel(feats, feats, s2)
    torch.testing.assert_close(hook._mmd(feats, hook.target), want)


def test_image_levers_need_the_target_images(prior):
    from fiftyone_dsco.synthesis.nopt import NOptHook, NOptOptions

    with pytest.raises(ValueError, match="target images"):
        NOptHook(prior, None, None, None, 2.0, 4, NOptOptions(random_nets=1))


def test_levers_run_end_to_end_and_are_recorded_only_when_on(digits_copy, prior):
    res = synthesize(digits_copy, "ground_truth", prior, ipc=2, run_key="levers", classes=["0"],
                     diversity=0.5, augment="crop_scale", random_nets=1, **FAST)
    assert res["classes"]["0"]["done"]
    nopt = runs.run_config(digits_copy, "levers")["nopt"]
    assert (nopt["diversity"], nopt["augment"], nopt["random_nets"]) == (0.5, "crop_scale", 1)
    synthesize(digits_copy, "ground_truth", prior, ipc=2, run_key="no_levers", classes=["0"],
               **FAST)
    assert not {"diversity", "augment", "random_nets"} & set(
        runs.run_config(digits_copy, "no_levers")["nopt"])


@pytest.mark.parametrize("options, match", [(dict(diversity=-1), "diversity"),
                                            (dict(random_nets=1.5), "random_nets"),
                                            (dict(augment="crop_blur"), "blur"),
                                            (dict(augment="crop", extractor="prior-latent"),
                                             "latents")])
def test_bad_levers_are_refused_before_the_run_exists(digits_copy, prior, options, match):
    with pytest.raises(OptionError, match=match):
        synthesize(digits_copy, "ground_truth", prior, ipc=1, run_key="bad_levers", **options)
    assert "bad_levers" not in digits_copy.list_runs()
