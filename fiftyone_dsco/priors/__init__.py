"""Class-conditional diffusion priors: load (pixel UNet or latent DiT), fit, score.

Names load lazily so that reading cards (``list_priors``) does not import torch.
"""

_API = {
    "PriorCard": "card",
    "DiffusionPrior": "prior",
    "load_prior": "prior",
    "resolve_prior": "prior",
    "list_priors": "card",
    "fit_prior": "fit",
    "default_steps": "fit",
    "fit_latent_prior": "latent",
}


def __getattr__(name):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = list(_API)
