"""Classifier architectures, picked by name through timm.

``convnet3`` is the ConvNet of the dataset-distillation literature (3 blocks of
conv 128 -> instance norm -> ReLU -> 2x2 average pooling, then a linear head),
registered with timm so that ``timm.create_model("convnet3", ...)`` works like
any timm model. ``resnet18_small`` is timm's ResNet-18 with a 3x3 stride-1 stem
and no max-pool, the usual adaptation to 28-32 px inputs.
"""

import torch
from torch import nn

import timm
from timm.models import register_model

from ..names import ARCHITECTURES  # noqa: F401  (re-exported)


class ConvNet(nn.Module):
    """ConvNet-D: ``depth`` blocks of conv(width) -> instance norm -> ReLU -> avgpool."""

    def __init__(self, num_classes=10, in_chans=1, width=128, depth=3, img_size=28, **_):
        super().__init__()
        layers, c, size = [], in_chans, img_size
        for _ in range(depth):
            layers += [
                nn.Conv2d(c, width, 3, padding=1),
                nn.GroupNorm(width, width, affine=True),  # instance norm, as in DC/DM/MTT
                nn.ReLU(inplace=True),
                nn.AvgPool2d(2),
            ]
            c, size = width, size // 2
        self.features = nn.Sequential(*layers)
        self.num_features = width * size * size
        self.head = nn.Linear(self.num_features, num_classes)

    def forward_features(self, x):
        return self.features(x).flatten(1)

    def forward(self, x):
        return self.head(self.forward_features(x))


@register_model
def convnet3(pretrained=False, **kwargs):
    """ConvNet-3, width 128, instance norm (dataset-distillation standard)."""
    return ConvNet(depth=3, **kwargs)


@register_model
def resnet18_small(pretrained=False, num_classes=10, in_chans=1, **kwargs):
    """timm ResNet-18 with a 3x3 stride-1 stem and no max-pool, for 28-32 px images."""
    kwargs.pop("img_size", None)
    model = timm.create_model("resnet18", num_classes=num_classes, in_chans=in_chans, **kwargs)
    model.conv1 = nn.Conv2d(in_chans, 64, 3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


def create_classifier(arch, num_classes, in_chans, img_size):
    """A classifier by timm name (our registered ones included)."""
    kwargs = dict(num_classes=num_classes, in_chans=in_chans)
    if arch == "convnet3":
        kwargs["img_size"] = img_size
    return timm.create_model(arch, **kwargs)


def embed(model, x):
    """Penultimate features of a timm-style classifier."""
    feats = model.forward_features(x)
    if feats.dim() > 2:
        feats = model.forward_head(feats, pre_logits=True) if hasattr(model, "forward_head") \
            else torch.flatten(feats, 1)
    return feats
