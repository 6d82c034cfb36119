"""fiftyone-dsco: Dataset Concentration for FiftyOne.

Public API (heavy dependencies such as torch and diffusers load on first use)::

    import fiftyone_dsco as dsco

    ds = dsco.load_builtin("digits")
    prior = dsco.fit_prior(ds, "ground_truth", name="digits")     # or dsco.load_prior(folder)
    out = dsco.concentrate(ds, "ground_truth", prior, budget=20)  # NOpt + doping, 20 per class
    res = dsco.evaluate(ds, "ground_truth", {"dsco": ds.load_saved_view(out["saved_view"])})
    print(res.format_table())

The steps one by one: ``synthesize`` (plain or NOpt, data-free or not),
``dope`` (selected real samples), ``evaluate``; ``budget_search`` finds the smallest set
with no loss (chosen on a validation split); runs are managed with
``list_runs`` / ``load_results`` / ``delete_run``.
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
    "load_builtin": "data.builtin",
    "list_builtin": "data.builtin",
    # priors
    "fit_prior": "priors",
    "load_prior": "priors",
    "list_priors": "priors",
    "DiffusionPrior": "priors",
    # pipeline
    "synthesize": "synthesis",
    "dope": "selection.doping",
    "concentrated_view": "selection.doping",
    "concentrate": "concentrate",
    "evaluate": "evaluation",
    "budget_search": "budget",
    "validation_split": "data.splits",
    "load_evaluation": "evaluation",
    "delete_evaluation": "evaluation",
    # runs
    "list_runs": "runs",
    "load_results": "runs",
    "delete_run": ("runs", "delete"),
    # errors
    "DscoError": "errors",
}


def __getattr__(name):
    target = _API.get(name)
    if target is None:
        raise AttributeError(f"module 'fiftyone_dsco' has no attribute {name!r}")
    import importlib

    module, attr = target if isinstance(target, tuple) else (target, name)
    return getattr(importlib.import_module(f"{__name__}.{module}"), attr)


def __dir__():
    return sorted(list(globals()) + list(_API))
