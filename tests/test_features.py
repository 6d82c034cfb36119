"""Feature extractors: timm backbones from local checkpoints, the prior's own space."""

import pytest
import torch

import timm

from fiftyone_dsco.errors import OptionError
from fiftyone_dsco.features import build_extractor, features_of_images
from fiftyone_dsco.priors import PriorCard


class _Prior:  # build_extractor reads only the card (and the path for prior-latent)
    def __init__(self):
        self.card = PriorCard("pixel", [str(d) for d in range(10)], 16, 1)
        self.classes, self.path, self.vae = self.card.classes, None, None


def test_timm_extractor_loads_a_classifier_checkpoint(tmp_path):
    ckpt = tmp_path / "resnet18.pth"
    torch.save(timm.create_model("resnet18", num_classes=7, in_chans=1).state_dict(), ckpt)
    ext = build_extractor("timm", _Prior(), options={"model": "resnet18", "checkpoint": str(ckpt),
                                                   "in_chans": 1})
    feats = features_of_images(ext, torch.zeros(3, 1, 16, 16), "cpu")
    assert feats.shape == (3, 512)


def test_timm_extractor_errors(tmp_path):
    with pytest.raises(OptionError, match="needs options model"):
        build_extractor("timm", _Prior(), options={})
    with pytest.raises(OptionError, match="not found"):
        build_extractor("timm", _Prior(), options={"model": "resnet18", "checkpoint": "/nope.pth"})
    ckpt = tmp_path / "other.pth"
    torch.save(timm.create_model("resnet18", num_classes=7, in_chans=1).state_dict(), ckpt)
    with pytest.raises(OptionError, match="does not fit timm model 'resnet34'"):
        build_extractor("timm", _Prior(), options={"model": "resnet34", "checkpoint": str(ckpt),
                                                   "in_chans": 1})


def test_prior_latent_extractor_is_the_pixel_space_for_pixel_priors():
    ext = build_extractor("prior-latent", _Prior())
    x = torch.randn(2, 1, 16, 16)
    assert ext.space == "latent" and torch.equal(ext(x), x.flatten(1))
