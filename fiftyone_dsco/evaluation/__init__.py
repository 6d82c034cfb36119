"""Evaluation: train classifiers on concentrated sets, test them on held-out real data.

``protocol`` (the plan, its checks, training every arm), ``convergence`` (the
full arm's epoch ladder), ``resume`` (the finished seeds an interrupted
evaluation reads back), ``training`` (the one SGD loop), ``classifiers``
(ConvNet-3, ResNet-18), ``report`` (table, plot, App traces) and ``storage``
(the run, fields and summary on the dataset).
"""

import importlib

_API = {"evaluate": "protocol", "measure": "protocol", "full_arm_epochs": "protocol",
        "MIN_FULL_EPOCHS": "protocol", "Convergence": "convergence",
        "EvaluationResults": "report", "format_table": "report", "plot_results": "report",
        "plotly_traces": "report", "RANDOM": "report", "FULL": "report",
        "load_evaluation": "storage", "delete_evaluation": "storage"}
__all__ = list(_API)


def __getattr__(name):
    """Load on first use, so ``evaluation.training`` imports without FiftyOne (GPU boxes)."""
    if name not in _API:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_API[name]}"), name)
