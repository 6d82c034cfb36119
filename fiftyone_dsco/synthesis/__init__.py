"""Synthesis: plain sampling or NOpt into the dataset, as a FiftyOne run.

``sampling`` (the run: targets, per-class sampling), ``nopt`` (noise
optimisation during sampling) and ``samples`` (writing synthetic samples).
"""

from .sampling import synthesize

__all__ = ["synthesize"]
