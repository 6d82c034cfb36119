"""NOpt: noise optimisation inside the denoising loop.

At each sampler step the states x_t of one class's IPC samples are optimised
jointly for a few Adam steps to lower MMD^2 between the features of their
predicted clean images and the class's target features (a fresh random
minibatch of the target bank per iteration, which also sets the Gaussian
bandwidth by the rule of :mod:`fiftyone_dsco.mmd`), plus a penalty that keeps
each state at its pre-step norm. Afterwards each state is rescaled to that norm,
so it stays on the sampler's noise level. Gradients flow through the
denoiser at the current step only, never through the chain.

With ``reuse_prediction`` the sampler step reuses the noise prediction of the
last optimisation iteration (made at the state just before its update)
instead of predicting again at the updated state: one guided denoiser pass
less per step, a first-order approximation of the same step.
"""

from dataclasses import dataclass

import numpy as np
import torch

from ..mmd import mmd2


@dataclass
class NOptOptions:
    """Options of the noise optimisation (see the module docstring)."""

    iterations: int = 1  #: Adam steps per sampler step (0 = plain sampling)
    lr: float = 0.03  #: Adam learning rate on x_t (the first step moves each element by lr)
    kernel: str = "gaussian"  #: "gaussian" (median bandwidth of the target batch) or "linear"
    target_batch: int = 500  #: target features drawn per iteration
    norm_weight: float = 0.1  #: weight of the norm-keeping penalty
    step_fraction: float = 1.0  #: optimise the first fraction of sampler steps only
    reuse_prediction: bool = True  #: sampler step reuses the last iteration's noise prediction


class NOptHook:
    """A ``step_hook`` for :func:`fiftyone_dsco.priors.sampler.denoise`."""

    def __init__(self, prior, extractor, target, labels, guidance, steps, options, seed=0):
        self.prior, self.extractor, self.target = prior, extractor, target
        self.labels, self.guidance, self.options = labels, guidance, options
        self.last_step = int(np.ceil(options.step_fraction * steps))
        self.rng = np.random.default_rng(seed)
        self.losses = []

    def _target_batch(self, device):
        n = len(self.target)
        b = min(self.options.target_batch, n)
        rows = np.sort(self.rng.choice(n, size=b, replace=False)) if b < n else np.arange(n)
        return torch.as_tensor(np.asarray(self.target[rows]), device=device)

    def features(self, x, t):
        """``(eps, features)`` of the guided clean-sample prediction at ``x``."""
        eps, x0 = self.prior.predict(x, t, self.labels, self.guidance)
        if self.extractor.space == "latent":
            return eps, self.extractor(x0)
        return eps, self.extractor(self.prior.decode(x0).clamp(-1, 1))

    def __call__(self, x, t, k):
        """The optimised state and, with ``reuse_prediction``, a noise prediction to step with."""
        opts = self.options
        if opts.iterations <= 0 or k >= self.last_step:
            return x, None
        dims = tuple(range(1, x.dim()))
        norm0 = x.detach().pow(2).sum(dims, keepdim=True).sqrt()
        x = x.detach().clone().requires_grad_(True)
        optim = torch.optim.Adam([x], lr=opts.lr)
        for _ in range(opts.iterations):
            target = self._target_batch(x.device)
            with torch.enable_grad():
                eps, feats = self.features(x, t)
                loss = mmd2(feats, target, kernel=opts.kernel, include_bb=False)
                norm = x.pow(2).sum(dims, keepdim=True).sqrt()
                loss = loss + opts.norm_weight * ((norm / norm0 - 1) ** 2).mean()
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            self.losses.append(float(loss.detach()))
        with torch.no_grad():
            x = x * (norm0 / x.pow(2).sum(dims, keepdim=True).sqrt())
        return x.detach(), eps.detach() if opts.reuse_prediction else None
