"""Built-in datasets: scikit-learn's digits and Debian's Fashion-MNIST.

Each becomes a persistent FiftyOne dataset of PNG files with a
``ground_truth`` ``fo.Classification`` field and ``train``/``test`` tags.
Loading twice returns the existing dataset; a load that fails half-way leaves
no dataset and no files behind.
"""

import gzip
import os
import shutil
import uuid

import numpy as np
from PIL import Image

import fiftyone as fo
import fiftyone.core.utils as fou

from ..errors import DatasetUnavailableError, OptionError
from ..names import BUILTIN_DATASETS, DEFAULT_DATASET, DEFAULT_LABEL_FIELD, TEST_TAG, TRAIN_TAG
from ..paths import media_dir

LABEL_FIELD = DEFAULT_LABEL_FIELD
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
DIGITS_CLASSES = [str(d) for d in range(10)]


def list_builtin():
    """Names of the built-in datasets."""
    return list(BUILTIN_DATASETS)


def load_builtin(name=DEFAULT_DATASET, dataset_name=None, train_per_class=None,
                 test_per_class=None, overwrite=False, source_dir=None, progress=None):
    """Load a built-in dataset into FiftyOne (idempotent) and return it.

    Args:
        name: ``"digits"`` or ``"fashion-mnist"``
        dataset_name (None): the FiftyOne dataset name; default ``"dsco-<name>"``
            (with a ``-<train>x<test>`` suffix when the splits are limited)
        train_per_class (None): keep at most this many train images per class
        test_per_class (None): keep at most this many test images per class
        overwrite (False): delete and rebuild an existing dataset
        source_dir (None): where Fashion-MNIST's IDX files are
        progress (None): a FiftyOne ``progress`` value (bool or callback)
    """
    if name not in _LOADERS:
        raise OptionError(
            f"Unknown built-in dataset {name!r}; choose one of {list_builtin()}."
        )
    for v in (train_per_class, test_per_class):
        if v is not None and v < 1:
            raise OptionError("train_per_class and test_per_class must be >= 1.")
    if dataset_name is None:
        dataset_name = "dsco-" + name
        if train_per_class or test_per_class:
            dataset_name += f"-{train_per_class or 'all'}x{test_per_class or 'all'}"
    if fo.dataset_exists(dataset_name):
        ds = fo.load_dataset(dataset_name)
        if not overwrite and ds.info.get("dsco_builtin_complete"):
            return ds
        _delete(ds)
    (xtr, ytr, xte, yte), classes = _LOADERS[name](source_dir)
    xtr, ytr = _limit(xtr, ytr, train_per_class)
    xte, yte = _limit(xte, yte, test_per_class)
    return _write(dataset_name, classes, [(TRAIN_TAG, xtr, ytr), (TEST_TAG, xte, yte)],
                  source=name, progress=progress)


def _delete(ds):
    """Delete a built-in dataset, its DsCo runs, and the image files that no clone still uses."""
    from ..runs import delete, list_runs, remove_files

    folder, paths = ds.info.get("dsco_media_dir"), ds.values("filepath")
    for run in list_runs(ds):
        delete(ds, run["key"])
    ds.delete()
    if folder:
        remove_files(paths, folder)


def _limit(x, y, per_class):
    if per_class is None:
        return x, y
    keep = np.concatenate([np.flatnonzero(y == c)[:per_class] for c in np.unique(y)])
    keep.sort()
    return x[keep], y[keep]


def _write(dataset_name, classes, splits, source, progress=None):
    folder = media_dir(dataset_name, uuid.uuid4().hex[:8])  # never the files of an earlier load
    os.makedirs(folder)
    ds = None
    try:
        ds = fo.Dataset(dataset_name)
        total = sum(len(y) for _, _, y in splits)
        samples = []
        with fou.ProgressBar(total=total, progress=progress) as pb:
            for tag, x, y in splits:
                for k in range(len(y)):
                    path = os.path.join(folder, f"{tag}-{k:06d}.png")
                    Image.fromarray(x[k]).save(path)
                    samples.append(fo.Sample(
                        filepath=path, tags=[tag],
                        **{LABEL_FIELD: fo.Classification(label=classes[int(y[k])])},
                    ))
                    pb.update()
        ds.add_samples(samples, progress=False)
        ds.classes[LABEL_FIELD] = list(classes)
        ds.default_classes = list(classes)
        ds.info.update(dsco_builtin=source, dsco_media_dir=folder,
                       dsco_builtin_complete=True)
        ds.persistent = True
        ds.save()
        return ds
    except BaseException:
        if ds is not None:
            ds.delete()
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _digits(_source_dir=None):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)
    y = d.target.astype(np.int64)
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=360, stratify=y, random_state=51)
    tr.sort()
    te.sort()
    return (x[tr], y[tr], x[te], y[te]), DIGITS_CLASSES


def _read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _fashion_mnist(source_dir=None):
    folder = source_dir or FASHION_MNIST_DIR
    names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    paths = [os.path.join(folder, n) for n in names]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise DatasetUnavailableError(
            f"Fashion-MNIST files not found: {missing}. Install them with "
            f"'sudo apt-get install dataset-fashion-mnist' (Debian/Ubuntu), or "
            f"pass source_dir= / --source-dir pointing at the four IDX .gz files."
        )
    xtr, ytr, xte, yte = (_read_idx(p) for p in paths)
    return (xtr, ytr.astype(np.int64), xte, yte.astype(np.int64)), FASHION_MNIST_CLASSES


_LOADERS = {"digits": _digits, "fashion-mnist": _fashion_mnist}
assert tuple(_LOADERS) == BUILTIN_DATASETS, "fiftyone_dsco.names.BUILTIN_DATASETS must list _LOADERS"
