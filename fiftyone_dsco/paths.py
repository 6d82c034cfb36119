"""Where fiftyone-dsco keeps files: caches, priors and generated images."""

import os

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
