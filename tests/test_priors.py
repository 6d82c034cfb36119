"""Priors: both diffusers families round-trip; fitting resumes to the same weights."""

import os

import pytest
import torch

from fiftyone_dsco.errors import ClassMismatchError, OptionError, PriorError
from fiftyone_dsco.priors import DiffusionPrior, PriorCard, fit_prior, load_prior
from fiftyone_dsco.priors.sampler import sample_images

CLASSES = ["cat", "dog", "fox"]


def tiny_unet_prior(classes=CLASSES, size=8):
    from diffusers import DDIMScheduler, UNet2DModel

    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=size, in_channels=1, out_channels=1, block_out_channels=(8, 16),
                       layers_per_block=1, down_block_types=("DownBlock2D",) * 2,
                       up_block_types=("UpBlock2D",) * 2, num_class_embeds=len(classes) + 1,
                       norm_num_groups=8)
    card = PriorCard("pixel", list(classes), size, 1, null_class=len(classes))
    return DiffusionPrior(unet, DDIMScheduler(beta_schedule="squaredcos_cap_v2"), card)


def tiny_dit_prior(classes=CLASSES):
    from diffusers import AutoencoderKL, DDIMScheduler, DiTTransformer2DModel

    torch.manual_seed(0)
    dit = DiTTransformer2DModel(num_attention_heads=2, attention_head_dim=8, in_channels=4,
                                out_channels=8, num_layers=1, sample_size=4, patch_size=2,
                                num_embeds_ada_norm=len(classes))
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4,
                        block_out_channels=(8, 16), norm_num_groups=8,
                        down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2)
    card = PriorCard("latent", list(classes), 8, 3, null_class=len(classes),
                     latent_scale=vae.config.scaling_factor)
    return DiffusionPrior(dit, DDIMScheduler(clip_sample=False), card, vae)


@pytest.mark.parametrize("make", [tiny_unet_prior, tiny_dit_prior])
def test_round_trip_and_seeded_sampling(make, tmp_path):
    prior = make()
    prior.save_pretrained(tmp_path)
    assert (tmp_path / "model_index.json").is_file() and (tmp_path / "dsco_card.json").is_file()
    loaded = load_prior(str(tmp_path), device="cpu")
    assert loaded.family == prior.family and loaded.classes == CLASSES
    a = sample_images(loaded, [0, 1, 2], seed=7, steps=3, guidance=2.0)
    b = sample_images(loaded, [0, 1, 2], seed=7, steps=3, guidance=2.0)
    c = sample_images(loaded, [0, 1, 2], seed=8, steps=3, guidance=2.0)
    size, ch = prior.card.image_size, prior.card.channels
    assert a.shape == (3, ch, size, size) and a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)
    ref = sample_images(prior, [0, 1, 2], seed=7, steps=3, guidance=2.0)
    torch.testing.assert_close(a, ref)


def test_dit_folder_is_diffusers_layout(tmp_path):
    from diffusers import DiTPipeline

    tiny_dit_prior().save_pretrained(tmp_path)
    pipe = DiTPipeline.from_pretrained(tmp_path)  # diffusers itself can read it
    assert pipe.transformer.config.num_embeds_ada_norm == 3


def test_model_without_card_needs_classes(tmp_path):
    prior = tiny_unet_prior()
    prior.save_pretrained(tmp_path)
    os.remove(tmp_path / "dsco_card.json")
    with pytest.raises(PriorError, match="classes="):
        load_prior(str(tmp_path))
    loaded = load_prior(str(tmp_path), classes=CLASSES)
    assert loaded.card.null_class == 3 and loaded.card.supports_guidance


def test_class_map_validation():
    card = tiny_unet_prior().card
    assert card.class_indices(["dog", "cat"]) == [1, 0]
    with pytest.raises(ClassMismatchError, match=r"\['wolf'\].*class_map"):
        card.class_indices(["cat", "wolf"])
    assert card.class_indices(["cat", "wolf"], class_map={"wolf": "fox"}) == [0, 2]
    assert card.class_indices(["n01", "n02"], class_map={"n01": 2, "n02": 0}) == [2, 0]
    with pytest.raises(ClassMismatchError, match="not in the dataset"):
        card.class_indices(["cat"], class_map={"lion": 1})
    with pytest.raises(ClassMismatchError):
        card.class_indices(["cat", "n9"], class_map={"n9": 99})


def test_missing_folder_is_clear(tmp_path):
    with pytest.raises(PriorError, match="nothing' \\(does not exist\\)"):
        load_prior(str(tmp_path / "nothing"))


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private DsCo home, and a working directory apart from it."""
    monkeypatch.setenv("DSCO_HOME", str(tmp_path / "home"))
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    return tmp_path


def test_unknown_prior_lists_known_ones_and_how_to_fit(home):
    from fiftyone_dsco.paths import priors_dir

    tiny_unet_prior().save_pretrained(priors_dir("digits-small"))
    with pytest.raises(PriorError) as e:
        load_prior("mnist")
    msg = str(e.value)
    assert "Known priors: digits-small." in msg
    assert "'dsco prior fit <dataset> --name mnist'" in msg


def test_prior_name_wins_over_a_folder_without_model(home):
    """`dsco prior fit mnist5k --name mnist5k` then `--prior mnist5k` beside an image folder mnist5k/."""
    from fiftyone_dsco.paths import priors_dir

    tiny_unet_prior().save_pretrained(priors_dir("mnist5k"))
    (home / "work" / "mnist5k" / "train").mkdir(parents=True)
    (home / "work" / "mnist5k" / "train" / "0.png").write_bytes(b"")
    loaded = load_prior("mnist5k", device="cpu")
    assert loaded.path == priors_dir("mnist5k") and loaded.classes == CLASSES
    # a folder that holds a model wins over a prior of the same name
    tiny_unet_prior(classes=["a", "b"]).save_pretrained("mnist5k")
    assert load_prior("mnist5k", device="cpu").classes == ["a", "b"]
    # neither: the error names both candidates
    (home / "work" / "other").mkdir()
    with pytest.raises(PriorError) as e:
        load_prior("other")
    msg = str(e.value)
    assert "'other' (a folder without model_index.json)" in msg
    assert f"'{priors_dir('other')}' (does not exist)" in msg
    assert "Known priors: mnist5k." in msg


FIT = dict(steps=6, batch_size=8, block_out_channels=(8, 16, 16), checkpoint_every=3,
           recognisability=False, device="cpu")


class Interrupt(Exception):
    pass


def test_fit_resumes_to_the_same_weights(digits, tmp_path):
    seen = {}

    def score(step, snapshot, seconds):  # sampling a snapshot must not disturb training
        sample_images(snapshot, [0, 1], seed=0, steps=2)
        seen[step] = {k: v.clone() for k, v in snapshot.denoiser.state_dict().items()}

    straight = fit_prior(digits, "ground_truth", output_dir=str(tmp_path / "a"),
                         on_checkpoint=score, **FIT)
    assert sorted(seen) == [3, 6]
    for k, v in straight.denoiser.state_dict().items():  # the last snapshot = the saved EMA
        assert torch.equal(seen[6][k], v), k

    def crash(step):
        if step == 4:
            raise Interrupt

    out = str(tmp_path / "b")
    with pytest.raises(Interrupt):
        fit_prior(digits, "ground_truth", output_dir=out, callback=crash, **FIT)
    assert not os.path.exists(out) and os.path.isfile(out + ".partial/checkpoint.pt")
    resumed = fit_prior(digits, "ground_truth", output_dir=out, **FIT)
    assert not os.path.exists(out + ".partial")
    for (k, v), (_, w) in zip(straight.denoiser.state_dict().items(),
                              resumed.denoiser.state_dict().items()):
        assert torch.equal(v, w), k
    card = resumed.card
    assert card.classes == [str(d) for d in range(10)] and card.image_size == 16
    assert card.null_class == 10 and card.training["steps"] == 6


def test_fitted_prior_is_reused_not_retrained(digits, tmp_path):
    out = str(tmp_path / "p")
    first = fit_prior(digits, "ground_truth", output_dir=out, **FIT)
    mtime = os.path.getmtime(os.path.join(out, "dsco_card.json"))
    again = fit_prior(digits, "ground_truth", output_dir=out, **FIT)
    assert os.path.getmtime(os.path.join(out, "dsco_card.json")) == mtime
    assert again.card.training["fingerprint"] == first.card.training["fingerprint"]
    with pytest.raises(PriorError, match="overwrite=True"):
        fit_prior(digits, "ground_truth", output_dir=out, **dict(FIT, steps=7))


def test_fit_bad_options(digits, tmp_path):
    with pytest.raises(OptionError, match="multiple of 4"):
        fit_prior(digits, "ground_truth", output_dir=str(tmp_path), image_size=18, **FIT)
    with pytest.raises(OptionError, match="label_dropout"):
        fit_prior(digits, "ground_truth", output_dir=str(tmp_path), label_dropout=1.5, **FIT)
    assert not os.listdir(tmp_path)


def test_recognisability_is_recorded(digits, tmp_path):
    from fiftyone_dsco.data import class_table, train_view
    from fiftyone_dsco.priors.quality import score_recognisability

    prior = fit_prior(digits, "ground_truth", output_dir=str(tmp_path), **FIT)
    table = class_table(train_view(digits), "ground_truth")
    rec = score_recognisability(prior, train_view(digits), table, per_class=2, steps=2)
    assert set(rec["per_class"]) == set(table.classes) and 0 <= rec["overall"] <= 1
