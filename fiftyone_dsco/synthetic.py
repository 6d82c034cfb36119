"""Write synthetic images into the dataset, one class at a time, all or nothing.

Shared by plain sampling and NOpt. Images are PNG files under the run's media
folder; samples carry the label, a ``dsco`` document (run key, source,
method, seed, class and position) and the tags ``dsco:synthetic`` and
``dsco:<run_key>``, so every real-data view excludes them.
"""

import os
import shutil

import numpy as np
from PIL import Image

import fiftyone as fo
from fiftyone import ViewField as F

from .config import DSCO_FIELD, SYNTHETIC_TAG
from .runs import run_media_dir, run_tag


def class_folder(dataset, run_key, class_index):
    return os.path.join(run_media_dir(dataset, run_key), f"class{class_index:05d}")


def class_samples(dataset, run_key, class_index):
    """The synthetic samples that run ``run_key`` wrote for class ``class_index``."""
    return dataset.match((F(DSCO_FIELD + ".run_key") == run_key)
                         & (F(DSCO_FIELD + ".source") == "synthetic")
                         & (F(DSCO_FIELD + ".class_index") == class_index))


def clear_class(dataset, run_key, class_index):
    """Remove whatever an interrupted attempt left for this class."""
    dataset.delete_samples(class_samples(dataset, run_key, class_index))
    shutil.rmtree(class_folder(dataset, run_key, class_index), ignore_errors=True)


def write_class(dataset, run_key, label_field, class_name, class_index, images, method, seed,
                extra=None):
    """Add ``images`` (uint8 ``(N, C, H, W)``) of one class as synthetic samples.

    Either every sample and file is written, or none is. Returns the sample ids.
    """
    clear_class(dataset, run_key, class_index)
    folder = class_folder(dataset, run_key, class_index)
    tmp = folder + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    ids = []
    try:
        for i, img in enumerate(images):
            arr = img[0] if img.shape[0] == 1 else np.transpose(img, (1, 2, 0))
            Image.fromarray(arr).save(os.path.join(tmp, f"{i:05d}.png"))
        os.replace(tmp, folder)
        samples = []
        for i in range(len(images)):
            s = fo.Sample(filepath=os.path.join(folder, f"{i:05d}.png"),
                          tags=[SYNTHETIC_TAG, run_tag(run_key)])
            s[label_field] = fo.Classification(label=class_name)
            s[DSCO_FIELD] = fo.DynamicEmbeddedDocument(
                source="synthetic", run_key=run_key, method=method, seed=int(seed),
                class_index=int(class_index), index=i, **(extra or {}))
            samples.append(s)
        ids = dataset.add_samples(samples, progress=False)
        return ids
    except BaseException:
        if ids:
            dataset.delete_samples(ids)
        clear_class(dataset, run_key, class_index)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
