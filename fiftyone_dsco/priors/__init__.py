"""Class-conditional diffusion priors: load (pixel UNet or latent DiT), fit, score."""

from .card import PriorCard
from .fit import default_steps, fit_prior
from .prior import DiffusionPrior, list_priors, load_prior

__all__ = ["PriorCard", "DiffusionPrior", "fit_prior", "load_prior", "list_priors", "default_steps"]
