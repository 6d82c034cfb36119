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
