"""Training-time augmentation: random shifts (DsCo's recipe) and DSA (the field's).

DSA follows the published operations of DatasetCondensation's ``DiffAugment``
in its evaluation mode ('S'): each batch draws one operation of the strategy
(``color``, ``crop``, ``cutout``, ``flip``, ``scale``, ``rotate``) and each
image its own parameters. They are written out here rather than taken from an
augmentation library because their exact forms matter for reproducing the
published tables: colour jitter on standardised inputs, integer translation
with zero fill, per-axis scale, a cutout of half the side. Every draw comes
from one ``torch.Generator``, so a seeded run is deterministic.
"""

import math

import torch
import torch.nn.functional as nnf

from ..names import DSA_OPERATIONS

#: DSA's parameters (ParamDiffAug).
FLIP_P, SCALE, ROTATE_DEG, CROP_PAD, CUTOUT = 0.5, 1.2, 15.0, 0.125, 0.5
BRIGHTNESS, SATURATION, CONTRAST = 1.0, 2.0, 0.5


def augment_shift(x, max_shift, generator, fill=-1.0):
    """Random translations by up to ``max_shift`` pixels (padding with ``fill``: black), per image."""
    if max_shift <= 0:
        return x
    n, _, h, w = x.shape
    pad = nnf.pad(x, (max_shift,) * 4, value=fill)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None]).to(x.device)
    cols = (dx[:, None] + torch.arange(w)[None]).to(x.device)
    idx = torch.arange(n, device=x.device)[:, None, None]
    return pad.permute(0, 2, 3, 1)[idx, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def dsa_augment(x, strategy, generator):
    """One DSA operation of ``strategy`` (e.g. ``"color_crop_cutout_flip_scale_rotate"``) on a batch."""
    ops = strategy.split("_")
    op = ops[int(torch.randint(0, len(ops), (1,), generator=generator))]
    for fn in _OPS[op]:
        x = fn(x, generator)
    return x


def _rand(n, generator, device):
    return torch.rand(n, generator=generator).to(device)


def _affine(x, theta):
    grid = nnf.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
    return nnf.grid_sample(x, grid, align_corners=False)


def _scale(x, g):
    n = len(x)
    sx, sy = (torch.rand(n, generator=g) * (SCALE - 1 / SCALE) + 1 / SCALE for _ in range(2))
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = sx, sy
    return _affine(x, theta)


def _rotate(x, g):
    a = (torch.rand(len(x), generator=g) - 0.5) * 2 * ROTATE_DEG / 180 * math.pi
    theta = torch.stack([torch.stack([a.cos(), -a.sin(), torch.zeros_like(a)], 1),
                         torch.stack([a.sin(), a.cos(), torch.zeros_like(a)], 1)], 1)
    return _affine(x, theta)


def _flip(x, g):
    return torch.where((_rand(len(x), g, x.device) < FLIP_P)[:, None, None, None], x.flip(3), x)


def _brightness(x, g):
    return x + (_rand(len(x), g, x.device)[:, None, None, None] - 0.5) * BRIGHTNESS


def _saturation(x, g):
    mean = x.mean(dim=1, keepdim=True)  # over channels: a no-op on grey images, as published
    return (x - mean) * (_rand(len(x), g, x.device)[:, None, None, None] * SATURATION) + mean


def _contrast(x, g):
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(len(x), g, x.device)[:, None, None, None] + CONTRAST) + mean


def _crop(x, g):
    """Integer translation by up to 0.125 of the side, zero fill (DSA's ``rand_crop``)."""
    n, _, h, w = x.shape
    sh, sw = int(h * CROP_PAD + 0.5), int(w * CROP_PAD + 0.5)
    tx = torch.randint(-sh, sh + 1, (n, 1, 1), generator=g).to(x.device)
    ty = torch.randint(-sw, sw + 1, (n, 1, 1), generator=g).to(x.device)
    b, gx, gy = torch.meshgrid(torch.arange(n, device=x.device), torch.arange(h, device=x.device),
                               torch.arange(w, device=x.device), indexing="ij")
    gx = torch.clamp(gx + tx + 1, 0, h + 1)
    gy = torch.clamp(gy + ty + 1, 0, w + 1)
    pad = nnf.pad(x, [1, 1, 1, 1])
    return pad.permute(0, 2, 3, 1)[b, gx, gy].permute(0, 3, 1, 2)


def _cutout(x, g):
    """Zero a square of half the side at a random centre (DSA's ``rand_cutout``)."""
    n, _, h, w = x.shape
    ch, cw = int(h * CUTOUT + 0.5), int(w * CUTOUT + 0.5)
    ox = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=g).to(x.device)
    oy = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=g).to(x.device)
    b, gx, gy = torch.meshgrid(torch.arange(n, device=x.device), torch.arange(ch, device=x.device),
                               torch.arange(cw, device=x.device), indexing="ij")
    gx = torch.clamp(gx + ox - ch // 2, 0, h - 1)
    gy = torch.clamp(gy + oy - cw // 2, 0, w - 1)
    mask = torch.ones(n, h, w, dtype=x.dtype, device=x.device)
    mask[b, gx, gy] = 0
    return x * mask[:, None]


_OPS = {"color": (_brightness, _saturation, _contrast), "crop": (_crop,), "cutout": (_cutout,),
        "flip": (_flip,), "scale": (_scale,), "rotate": (_rotate,)}
assert tuple(_OPS) == DSA_OPERATIONS
