"""Training recipes: DsCo's, DC's and DSA's schedules and augmentations."""

import pytest
import torch

from fiftyone_dsco.errors import OptionError
from fiftyone_dsco.evaluation import augment, recipes
from fiftyone_dsco.evaluation.training import train_classifier

DIGITS = [str(d) for d in range(10)]
FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]


def test_recipes_match_the_published_settings():
    dc, dsa, dsco = (recipes.get_recipe(n, FASHION) for n in ("dc", "dsa", "dsco"))
    assert (dc.epochs, dc.schedule, dc.augment, dc.normalize) == (300, "step", "none", True)
    assert (dsa.epochs, dsa.schedule, dsa.augment) == (1000, "step", "dsa")
    assert dsa.dsa_strategy == "color_crop_cutout_flip_scale_rotate"
    assert (dsco.epochs, dsco.schedule, dsco.augment, dsco.normalize) == (300, "cosine", "shift", False)
    for r in (dc, dsa, dsco):
        assert (r.lr, r.momentum, r.weight_decay, r.batch_size) == (0.01, 0.9, 5e-4, 256)


def test_flip_is_off_for_digit_datasets():
    assert "flip" not in recipes.get_recipe("dsa", DIGITS).dsa_strategy
    assert "flip" in recipes.get_recipe("dsa", FASHION).dsa_strategy


def test_unknown_recipe_and_overrides():
    with pytest.raises(OptionError, match="Unknown recipe 'dca'"):
        recipes.get_recipe("dca")
    r = recipes.get_recipe("dsa", FASHION, epochs=5, lr=None)
    assert r.epochs == 5 and r.lr == 0.01


def test_step_schedule_drops_the_rate_once_after_epoch_half_plus_one():
    """DC's evaluate_synset: lr x 0.1 after training epoch Epoch // 2 + 1."""
    assert [recipes.step_lr(1.0, 300, e) for e in (0, 150, 151)] == [1.0, 1.0, 1.0]
    assert [recipes.step_lr(1.0, 300, e) for e in (152, 299)] == [pytest.approx(0.1)] * 2
    seen = []
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    handle = register_optimizer_step_pre_hook(
        lambda opt, args, kwargs: seen.append(opt.param_groups[0]["lr"]))
    try:
        x, y = torch.rand(8, 1, 16, 16) * 2 - 1, torch.arange(8) % 2
        train_classifier(x, y, 2, epochs=8, batch_size=8, lr=0.5, schedule="step",
                         augment="none")
    finally:
        handle.remove()
    assert seen == [0.5] * 6 + [pytest.approx(0.05)] * 2  # epochs 0..5 (8 // 2 + 1 = 5), then 6, 7


def test_dsa_is_seeded_and_deterministic():
    x = torch.rand(16, 1, 28, 28)
    a = augment.dsa_augment(x, recipes.DSA_STRATEGY, torch.Generator().manual_seed(3))
    b = augment.dsa_augment(x, recipes.DSA_STRATEGY, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    outs = [augment.dsa_augment(x, recipes.DSA_STRATEGY, torch.Generator().manual_seed(s))
            for s in range(12)]
    assert sum(not torch.equal(o, outs[0]) for o in outs) >= 6


def test_dsa_operations_do_what_the_published_ones_do():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 1, 28, 28) + 1.0  # strictly positive, so a zero is fill
    crop = augment._crop(x, g)
    zero_rows = (crop == 0).all(dim=3).sum(dim=(1, 2))  # translation of up to 4 px, zero fill
    assert crop.shape == x.shape and zero_rows.max() <= 4 and (zero_rows > 0).any()
    cut = augment._cutout(x, g)
    zeros = (cut == 0).sum(dim=(1, 2, 3))
    assert zeros.max() == 14 * 14 and (zeros > 0).all()  # a square of half the side (clipped)
    flip = augment._flip(x, g)
    flipped = [torch.equal(f, o.flip(2)) for f, o in zip(flip, x)]
    assert 10 < sum(flipped) < 54
    grey = augment._saturation(x, g)
    assert torch.allclose(grey, x)  # a no-op on grey images, as in DSA's code
    for op in ("scale", "rotate", "color"):
        assert augment.dsa_augment(x, op, g).shape == x.shape


def test_dsa_training_runs_and_standardised_models_predict_raw_images():
    x, y = torch.rand(20, 1, 16, 16) * 2 - 1, torch.arange(20) % 2
    r = recipes.get_recipe("dsa", FASHION, epochs=2)
    model, _ = train_classifier(x, y, 2, normalize=(-0.4, 0.7), **r.training_options())
    assert isinstance(model[0], __import__("fiftyone_dsco.evaluation.training",
                                           fromlist=["Standardize"]).Standardize)
    assert model(x).shape == (20, 2)
