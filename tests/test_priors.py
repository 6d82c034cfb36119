"""Priors: both diffusers families round-trip; fitting resumes to the same weights, sizes the
UNet by preset, stops on a plateau and continues a finished prior."""

import os

import pytest
import torch

from fiftyone_dsco.data import class_table, train_view
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
        fit_prior(digits, "ground_truth", output_dir=out, **dict(FIT, lr=1e-3))


def test_fit_bad_options(digits, tmp_path):
    with pytest.raises(OptionError, match="multiple of 4"):
        fit_prior(digits, "ground_truth", output_dir=str(tmp_path), image_size=18, **FIT)
    with pytest.raises(OptionError, match="label_dropout"):
        fit_prior(digits, "ground_truth", output_dir=str(tmp_path), label_dropout=1.5, **FIT)
    assert not os.listdir(tmp_path)


def test_recognisability_is_recorded(digits, tmp_path):
    from fiftyone_dsco.priors.quality import score_recognisability

    prior = fit_prior(digits, "ground_truth", output_dir=str(tmp_path), **FIT)
    table = class_table(train_view(digits), "ground_truth")
    rec = score_recognisability(prior, train_view(digits), table, per_class=2, steps=2)
    assert set(rec["per_class"]) == set(table.classes) and 0 <= rec["overall"] <= 1


def test_more_steps_continue_the_finished_prior(digits, tmp_path):
    straight = fit_prior(digits, "ground_truth", output_dir=str(tmp_path / "a"),
                         **dict(FIT, steps=10))
    out = str(tmp_path / "b")
    fit_prior(digits, "ground_truth", output_dir=out, **FIT)
    assert os.path.isfile(os.path.join(out, "training_state.pt"))
    more = fit_prior(digits, "ground_truth", output_dir=out, more_steps=4, **FIT)
    for (k, v), (_, w) in zip(straight.denoiser.state_dict().items(),
                              more.denoiser.state_dict().items()):
        assert torch.equal(v, w), k  # 6 + 4 steps = 10 straight steps
    t = more.card.training
    assert t["steps_done"] == 10 and t["stop_reason"] == "steps" and t["preset"] == "tiny"
    mtime = os.path.getmtime(os.path.join(out, "dsco_card.json"))
    fit_prior(digits, "ground_truth", output_dir=out, **dict(FIT, steps=8))  # fewer: reused
    assert os.path.getmtime(os.path.join(out, "dsco_card.json")) == mtime
    longer = fit_prior(digits, "ground_truth", output_dir=out, **dict(FIT, steps=12))
    assert longer.card.training["steps_done"] == 12  # a larger cap continues too
    with pytest.raises(PriorError, match="there is none"):
        fit_prior(digits, "ground_truth", output_dir=str(tmp_path / "c"), more_steps=2, **FIT)


def test_prior_of_an_earlier_version_is_reused_not_continued(digits, tmp_path):
    """Cards written before steps_done: their fingerprint included the step count."""
    import json

    from fiftyone_dsco.priors import fit as fit_module

    out = tmp_path / "p"
    fit_prior(digits, "ground_truth", output_dir=str(out), **FIT)
    card = json.loads((out / "dsco_card.json").read_text())
    options = {k: card["training"][k] for k in (
        "image_size", "channels", "steps", "batch_size", "lr", "label_dropout", "ema_decay",
        "seed", "block_out_channels", "layers_per_block")}
    table = class_table(train_view(digits), "ground_truth")
    card["training"] = dict(options, fingerprint=fit_module._fingerprint(
        digits.name, "ground_truth", table, options))
    (out / "dsco_card.json").write_text(json.dumps(card))
    os.remove(out / "training_state.pt")
    assert fit_prior(digits, "ground_truth", output_dir=str(out), **FIT).card.training == \
        card["training"]
    with pytest.raises(PriorError, match="no training state"):
        fit_prior(digits, "ground_truth", output_dir=str(out), more_steps=2, **FIT)


@pytest.mark.parametrize("size, channels, preset, widths, attention", [
    (16, 1, "tiny", [32, 64, 64], 0),            # digits: the 0.1 default UNet
    (28, 1, "tiny", [32, 64, 64], 0),            # Fashion-MNIST
    (16, 3, "tiny", [32, 64, 64], 0),
    (32, 3, "small", [64, 128, 128, 256], 3),    # attention at 16, 8 and 4 px
    (64, 3, "small", [64, 128, 128, 256], 2),
    (128, 3, "base", [128, 256, 256, 512, 512], 2),
    (256, 3, "base", [128, 256, 256, 512, 512, 512], 2),
])
def test_presets_pick_sizes_by_resolution_and_channels(size, channels, preset, widths, attention):
    from fiftyone_dsco.priors.presets import unet_shape

    shape = unet_shape(size, channels)
    assert shape["preset"] == preset and shape["block_out_channels"] == widths
    assert shape["down_block_types"].count("AttnDownBlock2D") == attention
    assert shape["up_block_types"] == [b.replace("Down", "Up")
                                       for b in reversed(shape["down_block_types"])]
    assert shape["layers_per_block"] == (1 if preset == "tiny" else 2)


def test_explicit_sizes_override_the_preset():
    from fiftyone_dsco.priors.presets import unet_shape

    shape = unet_shape(32, 3, "tiny", layers_per_block=2)
    assert shape["block_out_channels"] == [32, 64, 64, 64] and shape["layers_per_block"] == 2
    shape = unet_shape(128, 3, block_out_channels=(16, 32, 32))
    assert shape["preset"] == "base" and shape["block_out_channels"] == [16, 32, 32]
    with pytest.raises(OptionError, match="multiple of 8"):
        unet_shape(36, 3, block_out_channels=(8, 16, 16, 16))
    with pytest.raises(OptionError, match="Unknown preset 'huge'"):
        unet_shape(32, 3, "huge")


def test_small_preset_builds_and_denoises_rgb():
    from diffusers import UNet2DModel

    from fiftyone_dsco.priors.presets import unet_shape

    shape = unet_shape(32, 3)
    blocks = {k: tuple(shape[k]) for k in ("block_out_channels", "down_block_types",
                                           "up_block_types")}
    unet = UNet2DModel(sample_size=32, in_channels=3, out_channels=3, norm_num_groups=8,
                       layers_per_block=shape["layers_per_block"], num_class_embeds=4,
                       attention_head_dim=shape["attention_head_dim"], **blocks)
    with torch.no_grad():
        out = unet(torch.zeros(1, 3, 32, 32), torch.tensor([10]), class_labels=torch.tensor([1]))
    assert out.sample.shape == (1, 3, 32, 32)


def test_plateau_stops_when_scores_stop_rising():
    from fiftyone_dsco.priors.quality import Plateau

    scores = [0.30, 0.55, 0.70, 0.705, 0.69]
    watch = Plateau(patience=2, min_delta=0.01)
    stops = [watch.update(500 * (k + 1), s) for k, s in enumerate(scores)]
    assert stops == [False, False, False, False, True]  # 0.705, 0.69 < 0.70 + 0.01
    rising = Plateau(patience=2, min_delta=0.01)
    assert not any(rising.update(k, 0.1 * k) for k in range(1, 9))
    never = Plateau(patience=0)
    assert not any(never.update(k, 0.5) for k in range(1, 9))
    # a continued fit scores `patience` times before it may stop again
    more = Plateau(2, 0.01, history=watch.history, since=2500)
    assert not more.stopped and not more.update(3000, 0.6) and more.update(3500, 0.6)
