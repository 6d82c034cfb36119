"""The reference classifier: a ConvNet trained briefly on the real train split.

It scores prior quality (recognisability), serves as a feature extractor and
tells doping which real samples it recognises (``prefer_recognised``).
Trained once per (train split, image size) and cached on disk.
"""

import hashlib
import json
import os

import numpy as np
import torch

from ..data.access import image_array, to_unit_range
from ..paths import cache_dir


def reference_key(table, size, channels, dataset_name):
    blob = json.dumps([dataset_name, table.classes, table.ids(), size, channels])
    return hashlib.sha1(blob.encode()).hexdigest()[:20]


def reference_classifier(view, table, size, channels, min_images=20000, max_epochs=50,
                         seed=0, device=None, progress=None):
    """A ``convnet3`` trained on the real images of ``table`` (cached on disk).

    It sees about ``min_images`` images (at least one epoch), which on
    Fashion-MNIST gives ~88% test accuracy in about a minute on 2 CPU cores.
    """
    from ..evaluation.classifiers import create_classifier
    from ..evaluation.training import train_classifier

    key = reference_key(table, size, channels, view._dataset.name)
    path = os.path.join(cache_dir("reference"), key + ".pt")
    if os.path.isfile(path):
        model = create_classifier("convnet3", len(table.classes), channels, size)
        model.load_state_dict(torch.load(path, map_location="cpu"))
        return model.eval()
    images = to_unit_range(image_array(view, table.ids(), size, channels, progress=progress))
    epochs = int(min(max_epochs, max(1, -(-min_images // len(images)))))
    model, _ = train_classifier(images, table.labels(), len(table.classes), "convnet3",
                                epochs=epochs, batch_size=128, lr=0.01, seed=seed,
                                device=device)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"  # per process: shards may train it at the same time
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, path)
    return model.cpu().eval()


@torch.no_grad()
def recognised_mask(classifier, features, label, device="cpu"):
    """Mask of the rows of ``features`` (``classifier``'s penultimate features, as
    the reference extractor gives them) that it labels ``label``."""
    logits = classifier.head(torch.as_tensor(np.array(features, np.float32)).to(device))
    return (logits.argmax(1) == label).cpu().numpy()
