"""The prior card: what a diffusion prior knows, stored as JSON beside its weights."""

import json
import os
from dataclasses import asdict, dataclass, field

from ..errors import ClassMismatchError, PriorError

CARD_NAME = "dsco_card.json"


@dataclass
class PriorCard:
    """Facts about a prior that DsCo needs and users read.

    Attributes:
        family: ``"pixel"`` (UNet2DModel) or ``"latent"`` (DiT + VAE)
        classes: class names in the model's index order
        image_size: side of the generated images, in pixels
        channels: channels of the generated images (1 grey, 3 RGB)
        normalization: value range of the model's images
        null_class: class index used as "no class" for classifier-free
            guidance, or None when the model has no guidance support
        latent_scale: VAE scaling factor (latent family only)
        training: how the prior was trained (data, steps, time, ...)
        recognisability: accuracy of a real-data classifier on fresh samples
    """

    family: str
    classes: list
    image_size: int
    channels: int
    normalization: str = "[-1, 1]"
    null_class: int = None
    latent_scale: float = None
    training: dict = field(default_factory=dict)
    recognisability: dict = field(default_factory=dict)

    @property
    def supports_guidance(self):
        return self.null_class is not None

    def save(self, folder):
        with open(os.path.join(folder, CARD_NAME), "w") as f:
            json.dump(asdict(self), f, indent=2)

    @classmethod
    def load(cls, folder):
        path = os.path.join(folder, CARD_NAME)
        if not os.path.isfile(path):
            return None
        with open(path) as f:
            data = json.load(f)
        try:
            return cls(**data)
        except TypeError as e:
            raise PriorError(f"Prior card {path} is malformed: {e}") from e

    def class_indices(self, dataset_classes, class_map=None):
        """Model class index for each dataset class (in the dataset's order).

        Args:
            dataset_classes: the dataset's class names
            class_map (None): dict from dataset class to a model class name or
                index, for models trained on another label set (e.g. ImageNet
                indices); classes not in it are matched by name
        """
        class_map = dict(class_map or {})
        unknown_keys = sorted(set(class_map) - set(dataset_classes))
        if unknown_keys:
            raise ClassMismatchError(
                f"class_map names classes that are not in the dataset: {unknown_keys}."
            )
        by_name = {c: k for k, c in enumerate(self.classes)}
        out, missing = [], []
        for c in dataset_classes:
            target = class_map.get(c, c)
            if isinstance(target, int) and not isinstance(target, bool):
                if 0 <= target < len(self.classes):
                    out.append(target)
                    continue
            elif target in by_name:
                out.append(by_name[target])
                continue
            missing.append(c)
        if missing:
            raise ClassMismatchError(
                f"The prior does not know these dataset classes: {missing}. Its "
                f"{len(self.classes)} classes are {self.classes[:20]}"
                f"{' ...' if len(self.classes) > 20 else ''}. Fit a prior on this "
                f"dataset, or pass class_map={{dataset_class: model_class_or_index}}."
            )
        return out


def list_priors():
    """Names and cards of the priors saved under DsCo's priors dir (reads JSON only)."""
    from ..paths import priors_dir

    root = priors_dir()
    out = {}
    if os.path.isdir(root):
        for name in sorted(os.listdir(root)):
            card = PriorCard.load(os.path.join(root, name))
            if card is not None:
                out[name] = card
    return out
