"""A validation split carved from the train split: choose on validation, report on test.

Every choice DsCo makes from data (a budget, a strength, a default) is made on
a seeded, per-class share of the train split that nothing else reads; the test
split is read once, for the chosen configuration. One implementation, used by
:func:`fiftyone_dsco.budget_search` and the benchmarks.
"""

import numpy as np

from ..errors import OptionError
from ..names import DEFAULT_VALIDATION_FRACTION
from .access import class_table, train_view


class ValidationSplit:
    """The train split of ``view`` cut in two: ``fit`` (the rest of ``view``) and ``val``.

    ``fit`` is ``view`` without the validation samples, so that every step run
    on it (synthesis, doping, the full-data reference) reads only the
    remaining train samples; ``val`` holds the validation samples.
    """

    def __init__(self, view, val_ids, fraction, seed):
        self.val_ids = list(val_ids)
        self.fraction, self.seed = float(fraction), int(seed)
        self.fit = view.exclude(self.val_ids)
        self.val = view._dataset.select(self.val_ids)

    def to_dict(self):
        """What a run records: the fraction, the seed and the validation ids."""
        return dict(fraction=self.fraction, seed=self.seed, num_val=len(self.val_ids),
                    val_ids=self.val_ids)


def validation_split(view, label_field, fraction=DEFAULT_VALIDATION_FRACTION, seed=0):
    """Carve a seeded validation split from each class of ``view``'s train split.

    Per class, ``round(fraction * n)`` samples (at least 1, and at least 1 left
    to fit on) chosen by a generator seeded with ``seed``; the same view,
    fraction and seed always give the same split. Nothing is written to the
    dataset. Returns a :class:`ValidationSplit`.
    """
    if not isinstance(fraction, (int, float)) or isinstance(fraction, bool) or \
            not 0 < fraction < 1:
        raise OptionError(f"The validation fraction must be in (0, 1), e.g. 0.1; got {fraction!r}.")
    table = class_table(train_view(view), label_field, min_per_class=2)
    rng = np.random.default_rng(int(seed))
    val = []
    for c in table.classes:
        ids = sorted(table.ids_by_class[c])
        n = min(len(ids) - 1, max(1, round(fraction * len(ids))))
        val += [ids[i] for i in np.sort(rng.choice(len(ids), n, replace=False))]
    return ValidationSplit(view, val, fraction, seed)
