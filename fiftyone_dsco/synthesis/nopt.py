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

Objective levers (off in :class:`NOptOptions`; ``synthesize`` turns ``random_nets`` on for
data-free runs, ``names.default_random_nets``; docs/method.md says what each measured):
``diversity`` adds ``diversity x mean k(S, S)``, a repulsion between the
class's synthetic features on top of the one inside MMD^2; ``augment``
(a DSA strategy such as ``"color_crop_cutout_scale_rotate"``) draws one DSA
operation per iteration and applies it, with the same seed, to the decoded
images and to a batch of the class's target *images*, whose features are then
computed afresh (the siamese augmentation of DSA and distribution matching);
``random_nets`` averages the loss with MMD^2 in that many freshly initialised
ConvNet-3 embeddings per sampler step, each with its own bandwidth
(distribution matching's random networks). ``augment`` and ``random_nets``
need the target images (``target_images``), the other options only features.

Several classes can share each denoiser call (:class:`NOptBatch`, synthesis's
``class_batch``): their losses are summed, so each class's states get its own
loss's gradient and Adam (elementwise) moves them as it would alone.
"""

from dataclasses import dataclass

import numpy as np
import torch

from ..evaluation.classifiers import create_classifier, embed
from ..mmd import mean_kernel, median_sigma2, mmd2
from ..names import DEFAULT_STEP_FRACTION

#: Seed offsets that keep the levers' draws apart from the target rows' and from each other.
_AUGMENT_SEED, _NET_SEED = 1_000_003, 2_000_003
_LEVERS = ("diversity", "augment", "random_nets")


@dataclass
class NOptOptions:
    """Options of the noise optimisation (see the module docstring)."""

    iterations: int = 1  #: Adam steps per sampler step (0 = plain sampling)
    lr: float = 0.03  #: Adam learning rate on x_t (the first step moves each element by lr)
    kernel: str = "gaussian"  #: "gaussian" (median bandwidth of the target batch) or "linear"
    target_batch: int = 500  #: target features drawn per iteration
    norm_weight: float = 0.1  #: weight of the norm-keeping penalty
    step_fraction: float = DEFAULT_STEP_FRACTION  #: optimise the first fraction of steps only
    reuse_prediction: bool = True  #: sampler step reuses the last iteration's noise prediction
    diversity: float = 0.0  #: weight of the extra repulsion mean k(S, S) (0 = plain MMD^2)
    augment: str = None  #: DSA strategy applied to both sides per iteration (None = off)
    random_nets: int = 0  #: fresh random ConvNet-3 embeddings per sampler step (0 = off)

    def record(self):
        """The options as a run records them: the levers only when on, so runs made before
        the levers existed still resume with the same options."""
        off = NOptOptions()
        return {k: v for k, v in vars(self).items()
                if k not in _LEVERS or v != getattr(off, k)}

    @property
    def needs_images(self):
        """Whether the target's images (not only its features) are needed."""
        return bool(self.augment) or self.random_nets > 0


class NOptHook:
    """A ``step_hook`` for :func:`fiftyone_dsco.priors.sampler.denoise`."""

    def __init__(self, prior, extractor, target, labels, guidance, steps, options, seed=0,
                 target_images=None):
        if options.needs_images and target_images is None:
            raise ValueError("augment and random_nets need the target images.")
        self.prior, self.extractor, self.target = prior, extractor, target
        self.target_images = target_images
        self.labels, self.guidance, self.options = labels, guidance, options
        self.last_step = int(np.ceil(options.step_fraction * steps))
        self.seed, self.rng = seed, np.random.default_rng(seed)
        self.losses = []
        self._draws = 0  # iterations so far: seeds the augmentation of each

    def _target_rows(self):
        n = len(self.target) if self.target_images is None else len(self.target_images)
        b = min(self.options.target_batch, n)
        return np.sort(self.rng.choice(n, size=b, replace=False)) if b < n else np.arange(n)

    def seen(self, x0):
        """What the extractor sees of clean predictions ``x0``: latents, or decoded images."""
        return x0 if self.extractor.space == "latent" else self.prior.decode(x0).clamp(-1, 1)

    def objective(self, seen, nets=()):
        """This class's loss on ``seen`` (see :meth:`seen`): MMD^2 to a fresh target batch,
        levers included (the norm penalty is :class:`NOptBatch`'s)."""
        opts, rows = self.options, self._target_rows()
        if not opts.needs_images:
            return self._mmd(self.extractor(seen), self._bank(rows, seen.device))
        images, real = seen, self.target_images[rows].to(seen.device)
        if opts.augment:
            from ..evaluation.augment import dsa_augment

            seed = self.seed * 100003 + _AUGMENT_SEED + self._draws
            images, real = (dsa_augment(v, opts.augment, torch.Generator().manual_seed(seed))
                            for v in (images, real))
        if opts.augment:  # features of the augmented target; else the bank's rows
            with torch.no_grad():
                target = self.extractor(real)
        else:
            target = self._bank(rows, seen.device)
        losses = [self._mmd(self.extractor(images), target)]
        for net in nets:
            with torch.no_grad():
                target = embed(net, real)
            losses.append(self._mmd(embed(net, images), target))
        return sum(losses) / len(losses)

    def _bank(self, rows, device):
        """Rows of the target feature bank (the same rows as ``target_images``)."""
        return torch.as_tensor(np.asarray(self.target[rows]), device=device)

    def _mmd(self, feats, target):
        kernel = self.options.kernel
        sigma2 = median_sigma2(target) if kernel == "gaussian" else None  # the target's, always
        loss = mmd2(feats, target, sigma2, kernel=kernel, include_bb=False)
        if self.options.diversity:
            loss = loss + self.options.diversity * mean_kernel(feats, feats, sigma2, kernel)
        return loss

    def _random_nets(self, k, device):
        """``random_nets`` freshly initialised ConvNet-3 embedders for sampler step ``k``."""
        nets = []
        for j in range(self.options.random_nets):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed * 100003 + _NET_SEED + 1000 * k + j)
                net = create_classifier("convnet3", 2, self.target_images.shape[1],
                                        self.target_images.shape[-1])
            nets.append(net.to(device).eval().requires_grad_(False))
        return nets

    def __call__(self, x, t, k):
        """The optimised state and, with ``reuse_prediction``, a noise prediction to step with."""
        return NOptBatch([self])(x, t, k)


class NOptBatch:
    """A ``step_hook`` that optimises several classes' states (concatenated in the order of
    ``hooks``) with one denoiser call per iteration.

    The loss is the sum of the classes' losses (each its own target rows, seeds and
    levers), so each class's gradient is its own loss's; Adam is elementwise, so each
    class's states move as they would alone (up to float rounding).
    """

    def __init__(self, hooks):
        first = hooks[0]
        self.hooks, self.prior, self.guidance = hooks, first.prior, first.guidance
        self.options, self.last_step = first.options, first.last_step
        self.labels = torch.cat([h.labels for h in hooks])
        self.sizes = [len(h.labels) for h in hooks]

    def _loss(self, x, t, norm0, nets):
        """``(eps, summed loss)``; each class's loss (with its norm penalty) goes to its hook."""
        eps, x0 = self.prior.predict(x, t, self.labels, self.guidance)
        seen = self.hooks[0].seen(x0)
        dims = tuple(range(1, x.dim()))
        drift = (x.pow(2).sum(dims).sqrt() / norm0.flatten() - 1) ** 2
        losses = []
        for h, s, d, n in zip(self.hooks, seen.split(self.sizes), drift.split(self.sizes), nets):
            losses.append(h.objective(s, n) + self.options.norm_weight * d.mean())
            h._draws += 1
        losses = torch.stack(losses)
        for h, value in zip(self.hooks, losses.detach().tolist()):  # one device sync
            h.losses.append(value)
        return eps, losses.sum()

    def __call__(self, x, t, k):
        """The optimised states and, with ``reuse_prediction``, a noise prediction to step with."""
        opts = self.options
        if opts.iterations <= 0 or k >= self.last_step:
            return x, None
        dims = tuple(range(1, x.dim()))
        norm0 = x.detach().pow(2).sum(dims, keepdim=True).sqrt()
        x = x.detach().clone().requires_grad_(True)
        optim = torch.optim.Adam([x], lr=opts.lr)
        nets = [h._random_nets(k, x.device) if opts.random_nets else [] for h in self.hooks]
        for _ in range(opts.iterations):
            with torch.enable_grad():
                eps, loss = self._loss(x, t, norm0, nets)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
        with torch.no_grad():
            x = x * (norm0 / x.pow(2).sum(dims, keepdim=True).sqrt())
        return x.detach(), eps.detach() if opts.reuse_prediction else None
