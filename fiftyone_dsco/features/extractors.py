"""Pluggable feature extractors, shared by NOpt, doping and evaluation.

An extractor maps images in [-1, 1] (N, C, H, W) at the prior's resolution to
feature vectors, differentiably (NOpt back-propagates through it). Features of
real samples are computed once and cached on disk (memory-mapped, keyed by
the extractor and the sample ids), never stored in MongoDB.

Extractors:
    ``reference``     a ConvNet-3 trained briefly on the real train split (in
                      data-free mode: on the prior's own sample pool instead)
    ``random``        a randomly initialised ConvNet-3 (distribution matching
                      needs no trained weights)
    ``timm``          a timm backbone from a local checkpoint
                      (``options={"model": "resnet18", "checkpoint": path}``)
    ``prior-latent``  the prior's own space: pixels for pixel priors, VAE
                      latents for latent priors
"""

import hashlib
import json
import os

import numpy as np
import torch
import torch.nn.functional as nnf

from ..data.access import iter_image_batches, to_unit_range
from ..errors import OptionError
from ..evaluation.classifiers import create_classifier, embed
from ..names import EXTRACTORS
from ..paths import cache_dir


class FeatureExtractor:
    """A differentiable image -> feature map with a stable cache ``key``."""

    #: "image" extractors see decoded images; "latent" ones see the prior's x0.
    space = "image"

    def __init__(self, name, key, module=None):
        self.name, self.key, self.module = name, key, module
        if module is not None:
            module.eval().requires_grad_(False)

    def to(self, device):
        if self.module is not None:
            self.module.to(device)
        return self

    def __call__(self, x):
        return embed(self.module, x)


class _TimmExtractor(FeatureExtractor):
    def __init__(self, key, module, in_chans, min_size=32):
        super().__init__("timm", key, module)
        self.in_chans, self.min_size = in_chans, min_size

    def __call__(self, x):
        if x.shape[1] != self.in_chans:
            x = x.expand(-1, self.in_chans, -1, -1) if x.shape[1] == 1 else x.mean(1, keepdim=True)
        if x.shape[-1] < self.min_size:
            x = nnf.interpolate(x, size=self.min_size, mode="bilinear", align_corners=False)
        return self.module(x).flatten(1)


class _PriorSpaceExtractor(FeatureExtractor):
    space = "latent"

    def __init__(self, key, prior):
        super().__init__("prior-latent", key)
        self.prior = prior

    def encode_images(self, x):
        """Real images -> the prior's space (identity for pixel priors)."""
        if self.prior.vae is None:
            return x
        return self.prior.vae.encode(x).latent_dist.mean * self.prior.card.latent_scale

    def __call__(self, x0):
        return x0.flatten(1)


def build_extractor(name, prior, view=None, table=None, pool=None, options=None, seed=0,
                    progress=None):
    """Make extractor ``name`` for ``prior``'s images.

    ``view``/``table`` give the real train split (data-accessible); ``pool``
    = ``(images, labels)`` of prior samples replaces them in data-free mode.
    """
    options = dict(options or {})
    size, ch = prior.card.image_size, prior.card.channels
    n_classes = len(table.classes) if table is not None else len(prior.classes)
    if name == "reference":
        if pool is not None:
            return _pool_classifier(pool, n_classes, ch, size, seed)
        from .reference import reference_classifier, reference_key

        model = reference_classifier(view, table, size, ch, seed=seed, progress=progress)
        return FeatureExtractor(name, "reference-" + reference_key(table, size, ch, view._dataset.name), model)
    if name == "random":
        torch.manual_seed(seed)
        model = create_classifier("convnet3", n_classes, ch, size)
        return FeatureExtractor(name, f"random-convnet3-{ch}x{size}-seed{seed}", model)
    if name == "timm":
        return _timm_extractor(options, ch)
    if name == "prior-latent":
        return _PriorSpaceExtractor("prior-" + _hash(prior.path or id(prior)), prior)
    raise OptionError(f"Unknown feature extractor {name!r}; choose one of {list(EXTRACTORS)}.")


def _pool_classifier(pool, n_classes, ch, size, seed):
    from ..evaluation.training import train_classifier

    images, labels = pool
    epochs = int(min(50, max(1, -(-20000 // len(images)))))
    model, _ = train_classifier(images, labels, n_classes, "convnet3", epochs=epochs,
                                batch_size=128, seed=seed)
    return FeatureExtractor("reference", f"pool-convnet3-{_hash(images.sum().item())}", model.cpu())


def _timm_extractor(options, ch):
    import timm

    model_name, ckpt = options.get("model"), options.get("checkpoint")
    if not model_name or not ckpt:
        raise OptionError("The timm extractor needs options model=<timm name> and checkpoint=<local file>.")
    if not os.path.isfile(ckpt):
        raise OptionError(f"timm checkpoint not found: {ckpt}. Give a local file (nothing is downloaded).")
    in_chans = int(options.get("in_chans", 3))
    from timm.models import load_state_dict

    module = timm.create_model(model_name, pretrained=False, num_classes=0, in_chans=in_chans)
    try:
        state = load_state_dict(ckpt)
    except Exception as e:  # noqa: BLE001 (any unreadable file)
        raise OptionError(f"Cannot read timm checkpoint {ckpt}: {e}") from e
    # a classifier checkpoint carries a head that the backbone (num_classes=0) drops
    missing, _ = module.load_state_dict(state, strict=False)
    if missing:
        raise OptionError(
            f"Checkpoint {ckpt} does not fit timm model {model_name!r} with in_chans={in_chans}: "
            f"{len(missing)} weights missing (e.g. {missing[:3]}). Pass the architecture it was "
            f"saved from (options model=..., in_chans=...).")
    key = f"timm-{model_name}-{_hash([os.path.abspath(ckpt), os.path.getmtime(ckpt)])}"
    return _TimmExtractor(key, module, in_chans)


def _hash(obj):
    return hashlib.sha1(json.dumps(obj, default=str).encode()).hexdigest()[:16]


@torch.no_grad()
def features_of_images(extractor, images, device, batch_size=500):
    """Features (float32 numpy) of uint8 or float images, in batches."""
    out = []
    for k in range(0, len(images), batch_size):
        xb = images[k : k + batch_size]
        xb = to_unit_range(xb) if not torch.is_tensor(xb) else xb
        xb = xb.to(device)
        if extractor.space == "latent":
            xb = extractor.encode_images(xb)
        out.append(extractor(xb).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def real_features(view, ids, extractor, size, channels, device="cpu", progress=None):
    """Features of real samples ``ids``, cached on disk as a float32 memmap.

    The cache key is the extractor's key plus the ids, their files and the
    image size; a second call with the same inputs decodes no image.
    """
    paths = view._dataset.select(list(ids), ordered=True).values("filepath")
    key = _hash([extractor.key, list(ids), paths, size, channels])
    folder = cache_dir("features", extractor.key)
    path, meta = os.path.join(folder, key + ".f32"), os.path.join(folder, key + ".json")
    if os.path.isfile(meta):
        with open(meta) as f:
            dim = json.load(f)["dim"]
        return np.memmap(path, dtype=np.float32, mode="r", shape=(len(ids), dim))
    os.makedirs(folder, exist_ok=True)
    extractor.to(device)
    out, k, tmp = None, 0, path + f".tmp{os.getpid()}"
    try:
        for chunk, batch in iter_image_batches(view, list(ids), size, channels, batch_size=500,
                                               progress=progress):
            f = features_of_images(extractor, batch, device)
            if out is None:
                out = np.memmap(tmp, dtype=np.float32, mode="w+", shape=(len(ids), f.shape[1]))
            out[k : k + len(f)] = f
            k += len(f)
        out.flush()
        dim = out.shape[1]
        del out
        os.replace(tmp, path)
        with open(meta, "w") as f:
            json.dump({"dim": dim, "n": len(ids), "extractor": extractor.key}, f)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return np.memmap(path, dtype=np.float32, mode="r", shape=(len(ids), dim))
