"""fiftyone-dsco: Dataset Concentration for FiftyOne.

Public API (heavy dependencies such as torch and diffusers load on first use)::

    import fiftyone_dsco as dsco

    ds = dsco.load_builtin("digits")
    table = dsco.class_table(dsco.train_view(ds), "ground_truth")
"""

import os as _os

# FiftyOne reads these when it is first imported.
_os.environ.setdefault("FIFTYONE_DATABASE_VALIDATION", "false")
_os.environ.setdefault("FIFTYONE_DO_NOT_TRACK", "true")

__version__ = "0.1.0"

_API = {
    # data layer
    "class_table": "data",
    "real_view": "data",
    "train_view": "data",
    "test_view": "data",
    "ClassTable": "data",
    # built-in datasets
    "load_builtin": "datasets",
    "list_builtin": "datasets",
}


def __getattr__(name):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'fiftyone_dsco' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__():
    return sorted(list(globals()) + list(_API))
