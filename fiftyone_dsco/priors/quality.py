"""Prior quality gate: how recognisable are its samples to a real-data classifier."""

import time

import torch

from ..features.reference import reference_classifier
from .sampler import sample_images


def score_recognisability(prior, train, table, per_class=20, steps=25, guidance=2.0, seed=0,
                          progress=None):
    """Accuracy of the reference classifier on fresh samples of each class.

    Returns a dict with ``overall`` and ``per_class`` accuracies (0-1) and
    the sampling settings, ready for the prior card.
    """
    size, channels = prior.card.image_size, prior.card.channels
    clf = reference_classifier(train, table, size, channels, progress=progress).to(prior.device)
    model_idx = prior.card.class_indices(table.classes)
    labels = torch.arange(len(table.classes)).repeat_interleave(per_class)
    start = time.perf_counter()
    images = sample_images(prior, [model_idx[k] for k in labels.tolist()], seed=seed,
                           steps=steps, guidance=guidance)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        pred = clf(images.to(prior.device)).argmax(1).cpu()
    hit = (pred == labels).float()
    per = {c: float(hit[labels == k].mean()) for k, c in enumerate(table.classes)}
    return dict(overall=float(hit.mean()), per_class=per, samples_per_class=per_class,
                steps=steps, guidance=guidance, sampling_seconds=round(seconds, 2))


def weak_classes(recognisability, below):
    """``{class: score}`` of the classes whose recognisability is below ``below``, worst first."""
    per = (recognisability or {}).get("per_class", {})
    return dict(sorted(((c, r) for c, r in per.items() if r < below), key=lambda cr: cr[1]))


class Plateau:
    """When to stop a fit: the last ``patience`` scores all fall short of the best earlier score
    by ``min_delta``. Only scores after step ``since`` count as "last" (a continued fit scores
    ``patience`` times before it can stop); ``patience`` 0 never stops."""

    def __init__(self, patience=2, min_delta=0.01, history=(), since=0):
        self.patience, self.min_delta, self.since = int(patience or 0), float(min_delta), int(since)
        self.history = [[int(s), float(v)] for s, v in history]

    def update(self, step, score):
        """Record ``score`` at ``step``; True when the fit should stop."""
        self.history.append([int(step), float(score)])
        return self.stopped

    @property
    def stopped(self):
        n = self.patience
        recent = [s for s, _ in self.history if s > self.since]
        if not n or len(recent) < n or len(self.history) <= n:
            return False
        best_before = max(v for _, v in self.history[:-n])
        return max(v for _, v in self.history[-n:]) < best_before + self.min_delta
