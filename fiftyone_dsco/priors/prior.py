"""A class-conditional diffusion prior: pixel-space UNet or latent DiT + VAE.

Folder layouts are diffusers' own: ``DDPMPipeline.save_pretrained`` (``unet/``,
``scheduler/``) for pixel priors and ``DiTPipeline.save_pretrained``
(``transformer/``, ``vae/``, ``scheduler/``) for latent priors, plus the card
``dsco_card.json``. A pretrained DiT folder without a card takes its class
names from ``model_index.json``'s ``id2label`` (ImageNet); see
:mod:`fiftyone_dsco.priors.imagenet` for mapping a dataset's names onto them.
On CUDA, model calls run under ``torch.autocast`` (bfloat16) unless
``prior.autocast = False``.
"""

import json
import os

import torch

from ..devices import device as pick_device
from ..errors import PriorError
from .card import PriorCard

PIXEL, LATENT = "pixel", "latent"


class DiffusionPrior:
    """A loaded prior: denoiser (+ VAE), a DDIM scheduler and the card."""

    def __init__(self, denoiser, scheduler, card, vae=None):
        self.denoiser = denoiser.eval().requires_grad_(False)
        self.vae = vae.eval().requires_grad_(False) if vae is not None else None
        self.scheduler = scheduler
        self.card = card
        self.path = None
        self.id2label = None  # {index: ImageNet label} of a pretrained DiT pipeline
        self.autocast = True

    # -- io -------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, path, classes=None, device=None):
        """Load a prior folder. ``classes`` names the model's classes when it has no card."""
        from diffusers import AutoencoderKL, DDIMScheduler, DiTTransformer2DModel, UNet2DModel

        index = _read_model_index(path)
        # explicit: without `accelerate` diffusers would warn on every load that it falls back
        load = dict(low_cpu_mem_usage=False)
        dev = pick_device(device)
        card = PriorCard.load(path)
        if "unet" in index:
            denoiser, vae = UNet2DModel.from_pretrained(os.path.join(path, "unet"), **load), None
        elif "transformer" in index:
            denoiser = DiTTransformer2DModel.from_pretrained(os.path.join(path, "transformer"),
                                                             **load)
            vae = AutoencoderKL.from_pretrained(os.path.join(path, "vae"), **load)
        else:
            raise PriorError(
                f"{path}/model_index.json lists neither 'unet' nor 'transformer': "
                f"DsCo loads DDPMPipeline-style (UNet2DModel) and DiTPipeline-style folders."
            )
        scheduler = DDIMScheduler.from_pretrained(path, subfolder="scheduler")
        id2label = {int(k): v for k, v in (index.get("id2label") or {}).items()} or None
        if card is None:
            n = denoiser.config.num_embeds_ada_norm if vae is not None else None
            if not classes and id2label and n and sorted(id2label) == list(range(n)):
                classes = [id2label[k] for k in range(n)]
            card = _card_without_file(denoiser, vae, classes, path)
        _check_card(card, denoiser)
        prior = cls(denoiser.to(dev), scheduler, card, vae.to(dev) if vae is not None else None)
        prior.path, prior.id2label = os.path.abspath(path), id2label
        return prior

    def save_pretrained(self, path):
        """Save in diffusers' pipeline layout with the card beside the weights."""
        from diffusers import DDPMPipeline, DiTPipeline

        if self.family == PIXEL:
            pipe = DDPMPipeline(unet=self.denoiser, scheduler=self.scheduler)
        else:
            pipe = DiTPipeline(transformer=self.denoiser, vae=self.vae, scheduler=self.scheduler)
        pipe.save_pretrained(path)
        self.card.save(path)

    # -- properties -----------------------------------------------------------

    @property
    def family(self):
        return self.card.family

    @property
    def device(self):
        return next(self.denoiser.parameters()).device

    @property
    def classes(self):
        return self.card.classes

    @property
    def latent_shape(self):
        cfg = self.denoiser.config
        return (cfg.in_channels, cfg.sample_size, cfg.sample_size)

    def class_indices(self, dataset_classes, class_map=None):
        """Model class index per dataset class: by name, ``class_map`` (dict or JSON file), or
        ImageNet label names (see :func:`fiftyone_dsco.priors.imagenet.class_indices`)."""
        from .imagenet import class_indices

        return class_indices(self, dataset_classes, class_map)

    def _autocast(self, x):
        cuda = self.autocast and x.device.type == "cuda"
        dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast(x.device.type, dtype=dtype, enabled=cuda)

    def to(self, device):
        self.denoiser.to(device)
        if self.vae is not None:
            self.vae.to(device)
        return self

    # -- model calls ----------------------------------------------------------

    def model_output(self, x, t, labels):
        """Raw denoiser output (noise part only) for states ``x`` at timestep ``t``."""
        tt = torch.full((x.shape[0],), int(t), device=x.device, dtype=torch.long)
        with self._autocast(x):
            if self.family == PIXEL:
                return self.denoiser(x, tt, class_labels=labels).sample.float()
            out = self.denoiser(x, timestep=tt, class_labels=labels).sample.float()
        if out.shape[1] == 2 * x.shape[1]:  # learned variance: keep the noise prediction
            out = out[:, : x.shape[1]]
        return out

    def predict(self, x, t, labels, guidance=1.0):
        """Guided noise prediction and clean-sample prediction ``(eps, x0)``."""
        if guidance != 1.0 and self.card.supports_guidance:
            null = torch.full_like(labels, self.card.null_class)
            out = self.model_output(torch.cat([x, x]), t, torch.cat([labels, null]))
            cond, uncond = out.chunk(2)
            out = uncond + guidance * (cond - uncond)
        else:
            out = self.model_output(x, t, labels)
        return self._eps_x0(out, x, t)

    def _eps_x0(self, out, x, t):
        ab = self.scheduler.alphas_cumprod[int(t)].to(x.device, x.dtype)
        a, s = ab.sqrt(), (1 - ab).sqrt()
        kind = self.scheduler.config.prediction_type
        if kind == "epsilon":
            eps = out
            x0 = (x - s * eps) / a
        elif kind == "v_prediction":
            x0 = a * x - s * out
            eps = s * x + a * out
        elif kind == "sample":
            x0 = out
            eps = (x - a * x0) / s
        else:
            raise PriorError(f"Unsupported prediction_type {kind!r}.")
        return eps, x0

    def encode(self, images):
        """Clean states from images in [-1, 1] (identity for pixel priors)."""
        if self.vae is None:
            return images
        with self._autocast(images):
            return self.vae.encode(images).latent_dist.mean.float() * self.card.latent_scale

    def decode(self, x0):
        """Images in [-1, 1] from clean samples (identity for pixel priors)."""
        if self.vae is None:
            return x0
        with self._autocast(x0):
            return self.vae.decode(x0 / self.card.latent_scale).sample.float()


def load_prior(path, classes=None, device=None):
    """Load a prior (see :class:`DiffusionPrior`) from a folder or a name (see :func:`resolve_prior`)."""
    return DiffusionPrior.from_pretrained(resolve_prior(path), classes=classes, device=device)


def resolve_prior(name_or_path):
    """The folder of a prior: ``name_or_path`` if it holds a diffusers model, else the
    fitted prior of that name under DsCo's priors dir; else a :class:`PriorError`
    naming both candidates and the known priors."""
    from ..paths import priors_dir
    from .card import list_priors

    path = os.fspath(name_or_path)
    candidates = [path]
    if path and os.path.basename(os.path.normpath(path)) == path and path not in (".", ".."):
        candidates.append(priors_dir(path))  # a plain name
    for folder in candidates:
        if os.path.isfile(os.path.join(folder, "model_index.json")):
            return folder
    tried = "; ".join(
        f"'{c}' ({'a folder without model_index.json' if os.path.isdir(c) else 'does not exist'})"
        for c in candidates
    )
    known = ", ".join(list_priors()) or "none yet"
    name = os.path.basename(os.path.normpath(path)) or "NAME"
    raise PriorError(
        f"No prior '{path}': tried {tried}. Known priors: {known}. Fit one with "
        f"'dsco prior fit <dataset> --name {name}', or give a folder that "
        f"DDPMPipeline/DiTPipeline.save_pretrained wrote."
    )


def _read_model_index(path):
    index_path = os.path.join(path, "model_index.json")
    if not os.path.isfile(index_path):
        raise PriorError(
            f"No diffusers model at '{path}' (model_index.json is missing). Give the "
            f"folder that DDPMPipeline/DiTPipeline.save_pretrained wrote, or fit one "
            f"with 'dsco prior fit'."
        )
    with open(index_path) as f:
        return json.load(f)


def _card_without_file(denoiser, vae, classes, path):
    if not classes:
        raise PriorError(
            f"The prior at '{path}' has no dsco_card.json, so its class names are "
            f"unknown. Pass classes=[...] (names in the model's index order)."
        )
    classes = list(classes)
    cfg = denoiser.config
    if vae is None:
        n = cfg.num_class_embeds
        return PriorCard(PIXEL, classes, cfg.sample_size, cfg.out_channels,
                         null_class=len(classes) if n == len(classes) + 1 else None)
    down = 2 ** (len(vae.config.block_out_channels) - 1)
    return PriorCard(LATENT, classes, cfg.sample_size * down, vae.config.out_channels,
                     null_class=cfg.num_embeds_ada_norm,
                     latent_scale=vae.config.scaling_factor)


def _check_card(card, denoiser):
    cfg = denoiser.config
    n = cfg.num_class_embeds if card.family == PIXEL else cfg.num_embeds_ada_norm
    if n is None:
        raise PriorError("The denoiser is not class-conditional (no class embeddings).")
    if len(card.classes) > n:
        raise PriorError(
            f"The card lists {len(card.classes)} classes but the model embeds only {n}."
        )
