"""Synthesis: plain sampling or NOpt into the dataset, as a FiftyOne run.

``sampling`` (the run: targets, sampling by class batches), ``nopt`` (noise
optimisation during sampling), ``batching`` (classes per denoiser call),
``histograms`` (matching a class's pixels to its real images') and ``samples``
(writing synthetic samples).
"""

__all__ = ["synthesize"]


def __getattr__(name):  # lazy: nopt and the sampler import without FiftyOne
    if name == "synthesize":
        from .sampling import synthesize

        return synthesize
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
