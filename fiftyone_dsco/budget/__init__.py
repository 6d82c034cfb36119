"""The budget search: how small can a concentrated set be with no loss (chosen on validation).

``ladder`` (the search's logic, no FiftyOne or torch), ``search``
(:func:`budget_search`, one FiftyOne run) and ``plot`` (its curve).
"""

import importlib

_API = {"budget_search": "search", "format_answer": "search", "format_shard": "search",
        "search": "ladder",
        "no_loss": "ladder", "default_ladder": "ladder", "plot_curve": "plot",
        "curve_traces": "plot"}
__all__ = list(_API)


def __getattr__(name):
    if name not in _API:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_API[name]}"), name)
