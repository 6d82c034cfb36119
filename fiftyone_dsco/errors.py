"""Errors raised by fiftyone-dsco.

Every error names the problem and the fix. They are raised before anything is
written to the dataset or to disk.
"""


class DscoError(Exception):
    """Base class of every error that fiftyone-dsco raises on bad input."""


class LabelFieldError(DscoError):
    """The label field is missing or is not a ``Classification`` field."""


class EmptyViewError(DscoError):
    """The view (or a split of it) holds no usable samples."""


class MissingLabelsError(DscoError):
    """Some samples have no label in the label field."""


class TooFewSamplesError(DscoError):
    """A class has fewer samples than the operation needs."""


class UnreadableImageError(DscoError):
    """An image file is missing or cannot be decoded."""


class DatasetUnavailableError(DscoError):
    """A built-in dataset's source files are not on this machine."""


class ClassMismatchError(DscoError):
    """The dataset's classes do not map onto a model's classes."""


class PriorError(DscoError):
    """A diffusion prior folder is missing, incomplete or inconsistent."""


class RunError(DscoError):
    """A run key is invalid, already taken, or unknown."""


class OptionError(DscoError, ValueError):
    """An option is out of range or names something unknown."""


class LeakageError(DscoError):
    """The held-out test split overlaps data that training or a DsCo run has read."""


class PriorQualityWarning(UserWarning):
    """A fitted prior's samples of some classes are rarely recognisable (its message says how
    to continue the fit)."""
