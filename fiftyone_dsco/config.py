"""Where fiftyone-dsco keeps files: caches, priors and generated images."""

import os

#: Name of the embedded-document field that marks samples written by DsCo.
DSCO_FIELD = "dsco"
#: Tag on every synthetic sample.
SYNTHETIC_TAG = "dsco:synthetic"
#: Split tags that the built-in datasets use and every step respects.
TRAIN_TAG = "train"
TEST_TAG = "test"


def home_dir():
    """Root of DsCo's own files (``$DSCO_HOME``, default ``~/.cache/fiftyone-dsco``)."""
    path = os.environ.get("DSCO_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache", "fiftyone-dsco"
    )
    return os.path.abspath(path)


def cache_dir(*parts):
    """A folder under ``<home>/cache`` for rebuildable data (image arrays, features)."""
    return os.path.join(home_dir(), "cache", *parts)


def priors_dir(*parts):
    """A folder under ``<home>/priors`` where fitted priors are saved by name."""
    return os.path.join(home_dir(), "priors", *parts)


def media_dir(*parts):
    """A folder for images DsCo writes, under FiftyOne's default dataset dir."""
    import fiftyone as fo

    return os.path.join(fo.config.default_dataset_dir, "dsco", *parts)


def device(prefer=None):
    """The torch device to use: ``prefer`` if given, else CUDA when present, else CPU."""
    import torch

    if prefer:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
