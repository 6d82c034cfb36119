"""One training loop: hard and soft (teacher) labels both go through ``train_classifier``."""

from types import SimpleNamespace

import numpy as np
import torch

from fiftyone_dsco.evaluation import protocol as evaluation
from fiftyone_dsco.evaluation import training
from fiftyone_dsco.evaluation.recipes import get_recipe
from fiftyone_dsco.data import to_unit_range


def test_soft_labels_train_through_train_classifier(monkeypatch):
    real, calls = training.train_classifier, []

    def spy(*args, **kwargs):
        calls.append(kwargs.get("teacher"))
        return real(*args, **kwargs)

    x = np.random.default_rng(0).integers(0, 256, size=(12, 1, 8, 8), dtype=np.uint8)
    y = np.arange(12) % 2
    teacher, _ = real(to_unit_range(x), y, 2, epochs=1, batch_size=4, device="cpu")
    monkeypatch.setattr(training, "train_classifier", spy)
    plan = dict(table=SimpleNamespace(classes=["a", "b"]), arch="convnet3",
                recipe=get_recipe("dsco", batch_size=4))
    student, _ = evaluation._fit(plan, x, y, 1, 0, teacher, "cpu")
    assert calls == [teacher] and not hasattr(evaluation, "train_soft_classifier")
    # the student learnt from the teacher alone: the same run without labels gives the same weights
    direct, _ = real(to_unit_range(x), None, 2, epochs=1, batch_size=4, device="cpu",
                     teacher=teacher)
    for a, b in zip(student.state_dict().values(), direct.state_dict().values()):
        assert torch.equal(a, b)
