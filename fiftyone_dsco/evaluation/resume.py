"""Finished fits of an evaluation, kept on disk until it ends, so that an interrupted one resumes.

An evaluation trains arms × seeds models, hours of work on a large split; a
rerun of the same call reads back every seed finished before the interruption
and trains only the rest. One JSON file per arm and epochs, under
``<home>/cache/fits``, named by a digest of all its fits depend on: the test
images and labels, network, recipe, image shape and input normalisation, and
the arm's training images and labels as they are trained (for the random arm,
the train split's and the class counts it draws), so that a set whose images
changed under the same sample ids is trained anew.
A file maps each finished seed to its fit, the first seed's test predictions
with it. Fits made with a soft-label teacher are not kept (the teacher is
retrained on resume). The evaluation removes its files when it ends.
"""

import hashlib
import json
import os

import numpy as np

from ..paths import cache_dir
from .report import FULL, RANDOM


class FitStore:
    """The finished seeds of one evaluation's arms (see the module's docstring)."""

    def __init__(self, plan, arrays):
        self._plan, self._arrays, self._digests = plan, arrays, {}
        self._common = dict(
            classes=plan["table"].classes, arch=plan["arch"],
            test=self._digest("test", plan["test_table"].labels()),
            recipe=dict(plan["recipe"].to_dict(), epochs=None), image_size=plan["image_size"],
            channels=plan["channels"], normalize=plan.get("normalize"))
        self._paths = set()

    def load(self, arm, epochs, teacher=None):
        """``{seed: (fit, predictions, confidences)}`` saved for ``arm`` at ``epochs``.

        Predictions and confidences are None but for the first seed.
        """
        path = self._path(arm, epochs, teacher)
        if path is None or not os.path.isfile(path):
            return {}
        with open(path) as f:
            saved = json.load(f)
        return {int(seed): (rec["fit"], _array(rec.get("pred")), _array(rec.get("conf")))
                for seed, rec in saved.items()}

    def save(self, arm, epochs, seed, fit, pred=None, conf=None, teacher=None):
        """Record ``seed``'s finished fit (atomically: an interruption keeps the file whole)."""
        path = self._path(arm, epochs, teacher)
        if path is None:
            return
        saved = {}
        if os.path.isfile(path):
            with open(path) as f:
                saved = json.load(f)
        saved[str(seed)] = dict(fit=fit, **({} if pred is None else
                                            dict(pred=pred.tolist(), conf=conf.tolist())))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "w") as f:
            json.dump(saved, f)
        os.replace(path + ".tmp", path)

    def clear(self):
        """Remove the files of this evaluation: it has ended, nothing is left to resume."""
        for path in self._paths:
            if os.path.isfile(path):
                os.remove(path)

    def _path(self, arm, epochs, teacher):
        if teacher is not None:
            return None
        key = dict(self._common, arm=self._arm_data(arm), epochs=int(epochs))
        digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
        path = os.path.join(cache_dir("fits"), f"{digest}.json")
        self._paths.add(path)
        return path

    def _arm_data(self, arm):
        """What the arm's models are trained on, as JSON."""
        table, spec = self._plan["table"], self._plan["arms"].get(arm, {"kind": arm})
        if spec["kind"] in (FULL, RANDOM):
            train = self._digest("train", table.labels())
            return dict(kind=spec["kind"], train=train, counts=spec.get("counts"))
        return dict(kind="set", images=self._digest(arm, spec["labels"]))

    def _digest(self, name, labels):
        """SHA-1 of the array ``name`` (uint8 images) and its labels, computed once."""
        if name not in self._digests:
            h = hashlib.sha1(np.ascontiguousarray(self._arrays[name]).tobytes())
            h.update(np.asarray(labels, dtype=np.int64).tobytes())
            self._digests[name] = h.hexdigest()
        return self._digests[name]


def _array(values):
    return None if values is None else np.array(values)
