"""Named training recipes: the field's evaluation protocols and DsCo's own.

Every arm of an evaluation is trained with one recipe, stored with the
results, so a number always says how it was made (docs/evaluation.md):

``dsco``  DsCo's recipe so far: SGD 0.01 (momentum 0.9, weight decay 5e-4,
          batch 256), 300 epochs, cosine schedule, random shifts of ±2 px.
``dc``    DC's evaluation (VICO-UoE/DatasetCondensation ``evaluate_synset``):
          SGD 0.01, 300 epochs, lr × 0.1 once after epoch ``epochs // 2 + 1``,
          no augmentation (DC's setting for Fashion-MNIST), images normalised
          by the real train split's mean and std.
``dsa``   DSA/DM/MTT's evaluation: as ``dc`` but 1000 epochs with
          differentiable siamese augmentation (``color_crop_cutout_flip_scale_rotate``,
          one operation per batch; flip left out for digit datasets).
"""

from dataclasses import asdict, dataclass, replace

from ..errors import OptionError
from ..names import DEFAULT_RECIPE, RECIPES as RECIPE_NAMES

DSA_STRATEGY = "color_crop_cutout_flip_scale_rotate"


@dataclass(frozen=True)
class Recipe:
    """How every arm is trained: optimiser, schedule, augmentation, input normalisation."""

    name: str
    epochs: int
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 256
    schedule: str = "cosine"  #: "cosine" (per step) or "step" (× 0.1 once, after epochs // 2 + 1)
    augment: str = "shift"  #: "shift" (±max_shift px), "dsa" or "none"
    max_shift: int = 2
    dsa_strategy: str = ""
    normalize: bool = False  #: standardise inputs by the real train split's mean and std

    def to_dict(self):
        return asdict(self)

    def training_options(self):
        """The keyword arguments of :func:`~fiftyone_dsco.evaluation.training.train_classifier`."""
        return dict(epochs=self.epochs, lr=self.lr, momentum=self.momentum,
                    weight_decay=self.weight_decay, batch_size=self.batch_size,
                    schedule=self.schedule, augment=self.augment, max_shift=self.max_shift,
                    dsa_strategy=self.dsa_strategy)


def step_lr(lr, epochs, epoch):
    """DC's step schedule: ``lr`` until epoch ``epochs // 2 + 1`` (0-based) is trained, then × 0.1.

    DatasetCondensation's ``evaluate_synset`` multiplies the rate by 0.1 after
    training epoch ``Epoch // 2 + 1``.
    """
    return lr * (0.1 if epoch > epochs // 2 + 1 else 1.0)


RECIPES = {
    "dsco": Recipe("dsco", 300),
    "dc": Recipe("dc", 300, schedule="step", augment="none", normalize=True),
    "dsa": Recipe("dsa", 1000, schedule="step", augment="dsa", dsa_strategy=DSA_STRATEGY,
                  normalize=True),
}
assert tuple(RECIPES) == RECIPE_NAMES


def get_recipe(name=DEFAULT_RECIPE, classes=None, **overrides):
    """The recipe ``name`` for a dataset with ``classes``, with explicit overrides applied.

    DSA leaves ``flip`` out for digit datasets (every class name a single
    digit): a flipped 2 is not a 2. ``overrides`` (e.g. ``epochs``, ``lr``)
    that are None are ignored.
    """
    if name not in RECIPES:
        raise OptionError(f"Unknown recipe {name!r}; choose one of {list(RECIPES)} "
                          f"(docs/evaluation.md).")
    recipe = RECIPES[name]
    if recipe.augment == "dsa" and classes and all(len(str(c)) == 1 and str(c).isdigit()
                                                   for c in classes):
        recipe = replace(recipe, dsa_strategy=recipe.dsa_strategy.replace("_flip", ""))
    return replace(recipe, **{k: v for k, v in overrides.items() if v is not None})
