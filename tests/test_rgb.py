"""RGB end to end on CPU: coloured shapes through fit (tiny preset), synthesize, dope, evaluate."""

import os
import warnings

import numpy as np
import pytest
from PIL import Image

import fiftyone as fo

from fiftyone_dsco import dope, evaluate, fit_prior, synthesize
from fiftyone_dsco.errors import PriorQualityWarning

SHAPES = ("red square", "green disc", "blue bar")
SIDE = 14  # the prior trains at 16 px, its smallest size


def _shape(kind, rng):
    """One ``SIDE`` px RGB image of ``kind`` on a noisy grey background."""
    img = rng.integers(90, 140, (SIDE, SIDE, 3)).astype(np.uint8)
    y, x = np.mgrid[:SIDE, :SIDE]
    cy, cx, r = rng.integers(5, SIDE - 5, 2).tolist() + [int(rng.integers(2, 5))]
    mask = {"red square": (abs(y - cy) <= r) & (abs(x - cx) <= r),
            "green disc": (y - cy) ** 2 + (x - cx) ** 2 <= r * r,
            "blue bar": (abs(y - cy) <= 1) & (abs(x - cx) <= r + 2)}[kind]
    img[mask] = {"red square": (220, 30, 30), "green disc": (30, 200, 40),
                 "blue bar": (40, 60, 230)}[kind]
    return img


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """16 train + 6 test images per class, ``train``/``test`` tags, ``ground_truth`` labels."""
    folder, rng = tmp_path_factory.mktemp("shapes"), np.random.default_rng(0)
    ds = fo.Dataset()
    samples = []
    for tag, n in (("train", 16), ("test", 6)):
        for kind in SHAPES:
            for k in range(n):
                path = str(folder / f"{tag}-{kind.replace(' ', '_')}-{k}.png")
                Image.fromarray(_shape(kind, rng)).save(path)
                samples.append(fo.Sample(filepath=path, tags=[tag],
                                         ground_truth=fo.Classification(label=kind)))
    ds.add_samples(samples, progress=False)
    ds.default_classes = list(SHAPES)
    yield ds
    ds.delete()


@pytest.fixture(scope="module")
def fitted(shapes, tmp_path_factory):
    """A tiny-preset RGB prior that stops on a plateau after two checkpoints (nothing can gain
    1.01), every class flagged as weak (below 101 %)."""
    out = str(tmp_path_factory.mktemp("rgb") / "prior")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PriorQualityWarning)
        prior = fit_prior(shapes, "ground_truth", output_dir=out, preset="tiny", steps=40,
                          batch_size=8, checkpoint_every=2, patience=1, min_delta=1.01,
                          warn_below=1.01, device="cpu")
    return prior, [w for w in caught if w.category is PriorQualityWarning]


def test_rgb_prior_is_tiny_stops_on_plateau_and_names_weak_classes(fitted):
    prior, caught = fitted
    card, t = prior.card, prior.card.training
    assert (card.channels, card.image_size) == (3, 16)
    assert t["preset"] == "tiny" and t["block_out_channels"] == [32, 64, 64]
    assert t["steps_done"] == 4 and t["stop_reason"] == "plateau" and t["steps"] == 40
    assert [step for step, _ in t["history"]] == [2, 4]
    assert set(card.recognisability["per_class"]) == set(SHAPES)
    assert len(caught) == 1
    msg = str(caught[0].message)
    assert "3 of 3 classes" in msg and "'red square'" in msg
    assert f"dsco prior fit {prior.card.training['dataset']} --output-dir {prior.path} " \
           f"--image-size 16 --preset tiny --batch-size 8 --more-steps 4" in msg
    assert "larger --preset" in msg


def test_rgb_synthesize_dope_evaluate(shapes, fitted):
    prior, _ = fitted
    syn = synthesize(shapes, "ground_truth", prior, ipc=2, steps=4, run_key="rgb", device="cpu")
    assert syn["complete"] and syn["num_samples"] == 6
    view = shapes.match_tags("dsco:rgb")
    view.compute_metadata()
    size = prior.card.image_size
    for s in view:
        assert os.path.isabs(s.filepath) and s.filepath.endswith(".png")
        with Image.open(s.filepath) as img:  # what the App shows
            assert img.mode == "RGB" and img.size == (size, size)
        assert (s.metadata.num_channels, s.metadata.width, s.metadata.height) == (3, size, size)
    dop = dope(shapes, "ground_truth", "rgb", 2, run_key="rgb_dope", device="cpu")
    assert dop["num_selected"] == 6
    res = evaluate(shapes, "ground_truth", {"dsco": shapes.load_saved_view("dsco-rgb-dope")},
                   epochs=2, seeds=(0,), full_epochs=1, eval_key="rgb_eval", device="cpu")
    assert list(res["arms"]) == ["dsco", "random", "full"] and res["test_size"] == 18
    assert res["arms"]["dsco"]["size"] == 12


def test_prior_info_shows_the_warning_and_the_command(fitted):
    from click.testing import CliRunner

    from fiftyone_dsco.cli import main

    prior, _ = fitted
    r = CliRunner().invoke(main, ["prior", "info", prior.path])
    assert r.exit_code == 0, r.output
    assert "4 steps, stopped on a recognisability plateau" in r.output
    assert "UNet: preset tiny, widths [32, 64, 64]" in r.output
    assert "WARNING: 3 of 3 classes" in r.output and "--more-steps 4" in r.output


def test_fit_prior_operator_takes_a_preset_and_more_steps(shapes, installed_plugin):
    import fiftyone.operators as foo

    op = foo.get_operator("@dsco/fiftyone-dsco/fit_prior")
    out = op(shapes, "ground_truth", "rgb-op", steps=2, preset="tiny")
    assert out["steps"] == 2 and out["stop_reason"] == "steps"
    assert out["warning"] is None or "--name rgb-op" in out["warning"]
    out = op(shapes, "ground_truth", "rgb-op", more_steps=1, preset="tiny")
    assert out["steps"] == 3 and 0 <= out["recognisability"] <= 1
