"""The UNet2DModel of a pixel prior, sized from a preset (``names.PRIOR_PRESETS``) and the image.

Light: no torch import, so forms and the CLI can show the sizes.
"""

from ..errors import OptionError
from ..names import PRIOR_PRESETS


def auto_preset(size, channels):
    """The smallest preset whose ``max_values`` holds ``size * size * channels``."""
    values = size * size * channels
    for name, p in PRIOR_PRESETS.items():
        if p["max_values"] is None or values <= p["max_values"]:
            return name


def halvings(size, most=5):
    """How often the UNet halves ``size``: down to 4-7 px below 64 px, to 8-15 px from there.

    At least once and at most ``most`` times, and only as often as 2 divides ``size``.
    """
    d = min(most, max(1, (size // (8 if size >= 64 else 4)).bit_length() - 1))
    while d > 1 and size % 2 ** d:
        d -= 1
    return d


def unet_shape(size, channels, preset=None, block_out_channels=None, layers_per_block=None):
    """The UNet's block options for ``size`` px images of ``channels`` channels, and its preset.

    ``preset`` None picks :func:`auto_preset`; ``block_out_channels`` (one width per level) and
    ``layers_per_block`` override the preset's.
    """
    name = preset or auto_preset(size, channels)
    if name not in PRIOR_PRESETS:
        raise OptionError(f"Unknown preset {name!r}; choose one of {list(PRIOR_PRESETS)}.")
    p = PRIOR_PRESETS[name]
    if block_out_channels:
        widths = [int(c) for c in block_out_channels]
        if size % 2 ** (len(widths) - 1):
            raise OptionError(f"image_size must be a multiple of {2 ** (len(widths) - 1)} for "
                              f"{len(widths)} UNet levels; got {size}.")
    else:
        widths = [p["width"] * m for m in p["mults"][: halvings(size, len(p["mults"]) - 1) + 1]]
    attn = [size // 2 ** k <= p["attention_px"] for k in range(len(widths))]
    return dict(preset=name, block_out_channels=widths,
                layers_per_block=int(layers_per_block or p["layers_per_block"]),
                down_block_types=["AttnDownBlock2D" if a else "DownBlock2D" for a in attn],
                up_block_types=["AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attn)],
                attention_head_dim=p["head_dim"])
