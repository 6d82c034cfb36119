"""FiftyOne operators of fiftyone-dsco: one module per capability.

Each operator is a form, validation, and one call into ``fiftyone_dsco``.
"""

from .load_builtin_dataset import LoadBuiltinDataset

OPERATORS = [LoadBuiltinDataset]
