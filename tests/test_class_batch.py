"""Class batches: several classes share each denoiser call; each class's images stay its own."""

import glob
import os

import numpy as np
import pytest
import torch
from fiftyone import ViewField as F

from fiftyone_dsco import data, names, runs
from fiftyone_dsco.errors import OptionError
from fiftyone_dsco.priors import load_prior
from fiftyone_dsco.runs import state as run_state
from fiftyone_dsco.synthesis import synthesize

FAST = dict(steps=4, guidance=2.0, extractor="random", device="cpu")
#: Three classes: with class_batch=2 the second batch is partial.
CLASSES = ["3", "4", "5"]


class Crash(Exception):
    pass


@pytest.fixture(scope="module")
def prior(prior_dir):
    return load_prior(prior_dir, device="cpu")


def _sample_alone_and_batched(prior, **options):
    """Three classes' final states: one class per denoiser call, then all in one."""
    from fiftyone_dsco.features import build_extractor
    from fiftyone_dsco.priors.sampler import denoise, initial_noise
    from fiftyone_dsco.synthesis.nopt import NOptBatch, NOptHook, NOptOptions

    ext = build_extractor("random", prior)
    size, ch = prior.card.image_size, prior.card.channels

    def hook(k):
        images = torch.rand(12, ch, size, size, generator=torch.Generator().manual_seed(k)) * 2 - 1
        with torch.no_grad():
            target = ext(images)
        return NOptHook(prior, ext, target, torch.full((2,), k, dtype=torch.long), 2.0, 4,
                        NOptOptions(**options), seed=k, target_images=images)

    plain = options.get("iterations") == 0
    alone, hooks = [], [hook(k) for k in range(3)]
    for k, h in enumerate(hooks):
        alone.append(denoise(prior, initial_noise(prior, 2, k), h.labels, 4, 2.0,
                             None if plain else h))
    batch = [hook(k) for k in range(3)]
    together = denoise(prior, torch.cat([initial_noise(prior, 2, k) for k in range(3)]),
                       torch.cat([h.labels for h in batch]), 4, 2.0,
                       None if plain else NOptBatch(batch))
    return torch.cat(alone), together, hooks, batch


@pytest.mark.parametrize("options", [dict(iterations=0), dict(), dict(reuse_prediction=False),
                                     dict(diversity=0.5, augment="crop_scale", random_nets=1)])
def test_a_class_batch_gives_each_class_its_one_class_states(prior, options):
    alone, together, hooks, batch = _sample_alone_and_batched(prior, **options)
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)
    for a, b in zip(hooks, batch):  # each class's own loss, draw for draw
        np.testing.assert_allclose(b.losses, a.losses, rtol=1e-4, atol=1e-6)
        assert len(a.losses) == (0 if options.get("iterations") == 0 else 4)


def _pixels(ds, run_key):
    view = runs.run_samples(ds, run_key).sort_by("filepath")
    return np.stack([np.asarray(data.read_image(p)) for p in view.values("filepath")]).astype(int)


@pytest.mark.parametrize("kw", [dict(method="plain"), dict(iterations=1),
                                dict(iterations=1, init="real", strength=0.5,
                                     init_noising="ddim-inversion"),
                                dict(iterations=1, data_free=True, pool_size=8)],
                         ids=["plain", "nopt", "nopt-real-init", "nopt-data-free"])
def test_class_batches_write_the_per_class_images(digits_copy, prior, kw):
    res = {cb: synthesize(digits_copy, "ground_truth", prior, ipc=2, classes=CLASSES,
                          run_key=f"cb{cb}", class_batch=cb, **FAST, **kw) for cb in (1, 2)}
    one, two = _pixels(digits_copy, "cb1"), _pixels(digits_copy, "cb2")
    assert one.shape == two.shape == (6,) + one.shape[1:]
    assert np.abs(one - two).max() <= 1 and np.abs(one - two).mean() < 0.01  # uint8 rounding
    for c in CLASSES:
        a, b = res[1]["classes"][c], res[2]["classes"][c]
        assert b["mmd"] == pytest.approx(a["mmd"], rel=1e-4, abs=1e-6)
        assert a.get("init_ids") == b.get("init_ids")
    assert [res[2]["classes"][c].get("batch_classes") for c in CLASSES] == [2, 2, None]
    assert runs.run_config(digits_copy, "cb2")["class_batch"] == 2


@pytest.mark.parametrize("method", ["plain", "nopt"])
def test_a_class_batch_calls_the_denoiser_less_often(digits_copy, prior, method):
    calls = {}
    for cb in (1, 2):
        seen = calls[cb] = []
        handle = prior.denoiser.register_forward_hook(lambda m, a, out, s=seen: s.append(len(a[0])))
        try:
            synthesize(digits_copy, "ground_truth", prior, ipc=2, classes=CLASSES, method=method,
                       run_key=f"calls{cb}", class_batch=cb, **FAST)
        finally:
            handle.remove()
    per_class = len(calls[1]) // 3
    assert per_class >= 4 and len(calls[1]) == 3 * per_class
    assert len(calls[2]) == 2 * per_class  # batches {3, 4} and {5}
    assert sum(calls[2]) == sum(calls[1])  # the same images, in fewer calls


def test_an_interrupted_batch_is_redone_and_each_class_recorded_once(digits_copy, prior,
                                                                     monkeypatch):
    from fiftyone_dsco.synthesis import sampling

    kw = dict(ipc=2, classes=CLASSES, iterations=1, class_batch=2, **FAST)
    synthesize(digits_copy, "ground_truth", prior, run_key="straight", **kw)
    write, written = sampling.write_class, []

    def crash_in_the_batch(*args, **kwargs):  # class 3 written, then the process dies
        written.append(args[4])
        if len(written) == 2:
            raise Crash
        return write(*args, **kwargs)

    monkeypatch.setattr(sampling, "write_class", crash_in_the_batch)
    with pytest.raises(Crash):
        synthesize(digits_copy, "ground_truth", prior, run_key="cut", **kw)
    monkeypatch.setattr(sampling, "write_class", write)
    assert written == [3, 4] and not run_state.done_indices(digits_copy, "cut")
    assert len(runs.run_samples(digits_copy, "cut")) == 2  # class 3's, not recorded
    res = synthesize(digits_copy, "ground_truth", prior, run_key="cut", **kw)
    assert run_state.done_indices(digits_copy, "cut") == {3, 4, 5}
    assert all(res["classes"][c]["done"] for c in CLASSES)
    view = runs.run_samples(digits_copy, "cut")
    assert view.count_values("dsco.class_index") == {3: 2, 4: 2, 5: 2}
    assert np.array_equal(_pixels(digits_copy, "cut"), _pixels(digits_copy, "straight"))
    folder = runs.media_folder(digits_copy, "cut")
    assert len(glob.glob(os.path.join(folder, "**", "*.png"), recursive=True)) == 6


@pytest.mark.parametrize("bad", [dict(class_batch=0), dict(class_batch=-2),
                                 dict(class_batch=1.5), dict(class_batch="two"),
                                 dict(class_batch=True), dict(class_batch=None),
                                 dict(autocast="no")])
def test_bad_batching_options_are_refused_before_anything_is_written(digits_copy, prior, bad):
    before = len(digits_copy)
    with pytest.raises(OptionError, match=next(iter(bad))):
        synthesize(digits_copy, "ground_truth", prior, ipc=1, run_key="bad_batch", **FAST, **bad)
    assert not digits_copy.has_run("bad_batch") and len(digits_copy) == before


def test_batching_options_are_recorded_only_off_the_default(digits_copy, prior):
    kw = dict(ipc=1, method="plain", classes=["3"], **FAST)
    synthesize(digits_copy, "ground_truth", prior, run_key="dflt", **kw)
    assert not {"class_batch", "autocast"} & set(runs.run_config(digits_copy, "dflt"))
    synthesize(digits_copy, "ground_truth", prior, run_key="set", class_batch=3, autocast=False,
               **kw)
    cfg = runs.run_config(digits_copy, "set")
    assert (cfg["class_batch"], cfg["autocast"]) == (3, False)
    assert prior.autocast  # the prior's own setting is restored
    view = runs.run_samples(digits_copy, "set").match(F("dsco.class_index") == 3)
    assert len(view) == 1
    # class_batch changes no image: a resume (or another shard) may use another value
    synthesize(digits_copy, "ground_truth", prior, run_key="set", class_batch=1, autocast=False,
               **kw)
    assert len(runs.run_samples(digits_copy, "set")) == 1


def test_cli_passes_class_batch_and_autocast(digits_copy, prior_dir):
    from click.testing import CliRunner

    from fiftyone_dsco.cli import main

    assert [names.class_batch_value(v) for v in ("auto", "4", " 2 ", "0", "-1", "x")] == \
        ["auto", 4, 2, 0, -1, "x"]
    for command in ("synthesize", "concentrate"):
        param = next(p for p in main.commands[command].params if p.name == "class_batch")
        assert param.default == names.DEFAULT_CLASS_BATCH
    base = ["synthesize", digits_copy.name, "--prior", prior_dir, "--ipc", "1", "--steps", "2",
            "--method", "plain", "--extractor", "random"]
    r = CliRunner().invoke(main, base + ["--class-batch", "0", "--run-key", "cli_bad"])
    assert r.exit_code != 0 and "class_batch" in r.output and not digits_copy.has_run("cli_bad")
    r = CliRunner().invoke(main, base + ["--class-batch", "4", "--no-autocast", "--run-key",
                                         "cli_cb"])
    assert r.exit_code == 0, r.output
    cfg = runs.run_config(digits_copy, "cli_cb")
    assert (cfg["class_batch"], cfg["autocast"]) == (4, False)
