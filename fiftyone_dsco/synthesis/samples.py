"""Write synthetic images into the dataset, one class at a time, all or nothing.

Shared by plain sampling and NOpt. Images are PNG files under the run's media
folder; samples carry the label, a ``dsco`` document (run key, source,
method, seed, class and position) and the tags ``dsco:synthetic`` and
``dsco:<run_key>``, so every real-data view excludes them. The ``dsco`` fields
are declared in the dataset's schema, so the App's sidebar filters on them.
"""

import glob
import os
import shutil
import uuid

import numpy as np
from PIL import Image

import fiftyone as fo
from fiftyone import ViewField as F

from ..names import DSCO_FIELD, SYNTHETIC_TAG, run_tag
from ..runs import media_folder, remove_files


def _class_prefix(dataset, run_key, class_index):
    return os.path.join(media_folder(dataset, run_key), f"class{class_index:05d}")


def class_samples(dataset, run_key, class_index):
    """The synthetic samples that run ``run_key`` wrote for class ``class_index``."""
    return dataset.match((F(DSCO_FIELD + ".run_key") == run_key)
                         & (F(DSCO_FIELD + ".source") == "synthetic")
                         & (F(DSCO_FIELD + ".class_index") == class_index))


def clear_class(dataset, run_key, class_index):
    """Remove whatever an earlier attempt left for this class (files no other sample uses)."""
    view = class_samples(dataset, run_key, class_index)
    paths = view.values("filepath")
    dataset.delete_samples(view)
    prefix = _class_prefix(dataset, run_key, class_index)
    for folder in glob.glob(glob.escape(prefix) + "*"):
        left = [os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs]
        remove_files(paths + left, folder)


def write_class(dataset, run_key, label_field, class_name, class_index, images, method, seed,
                extra=None):
    """Add ``images`` (uint8 ``(N, C, H, W)``) of one class as synthetic samples.

    Either every sample and file is written, or none is. Each attempt writes
    into a folder of its own, so it never touches files that another dataset
    (a clone) still uses. Returns the sample ids.
    """
    clear_class(dataset, run_key, class_index)
    folder = f"{_class_prefix(dataset, run_key, class_index)}-{uuid.uuid4().hex[:8]}"
    tmp = folder + ".tmp"
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
        _declare_fields(dataset, samples[0][DSCO_FIELD].field_names if samples else ())
        return ids
    except BaseException:
        if ids:
            dataset.delete_samples(ids)
        clear_class(dataset, run_key, class_index)
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _declare_fields(dataset, keys):
    """Declare ``dsco.<key>`` sample fields that the schema lacks (App sidebar filters)."""
    schema = dataset.get_field_schema(flat=True)
    if any(f"{DSCO_FIELD}.{k}" not in schema for k in keys):
        dataset.add_dynamic_sample_fields(fields=DSCO_FIELD)
