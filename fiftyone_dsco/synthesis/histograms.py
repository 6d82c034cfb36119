"""Histogram matching: a synthetic class's pixel values mapped onto its real images' distribution.

NOpt leaves a faint haze where real images are black: on Fashion-MNIST's
validation split it lifts a fifth of the pixels from below 2 % of full scale to
2-5 %, which the prior's own re-rendering of the same real starts does not
(docs/findings.md). ConvNet-3 (instance norm) barely notices; ResNet-18 learns
the haze and falls 14 points below the real picks, and recovers when those
pixels are set back to black. Matching each class's synthetic pixel
distribution to the class's real one removes the haze without a threshold: one
monotone map per class and channel (the quantile mapping of
``skimage.exposure.match_histograms``, pooled over the class's images), so
every image keeps its own contrast and the set its order of brightness.
"""

import numpy as np

#: real images per class whose pixels make the reference distribution (a seeded sample)
REFERENCE_IMAGES = 1000


def match_histograms(images, reference):
    """``images`` (uint8 ``(N, C, H, W)``) mapped so that each channel's pixel values over
    the set follow ``reference``'s (uint8 ``(M, C, H', W')``; sizes may differ).

    One monotone map per channel, pooled over the set (scikit-image's
    ``match_histograms`` on the stacked images): a pixel at the set's cumulative
    share ``q`` takes the reference's value at ``q``. Matching a set to itself
    returns it unchanged.
    """
    from skimage.exposure import match_histograms as match

    images, reference = np.asarray(images), np.asarray(reference)
    if images.dtype != np.uint8 or reference.dtype != np.uint8:
        raise TypeError("match_histograms takes uint8 images and reference.")
    if images.ndim != 4 or reference.ndim != 4 or images.shape[1] != reference.shape[1]:
        raise ValueError(f"images {images.shape} and reference {reference.shape} must be "
                         "(N, C, H, W) with the same number of channels.")
    out = match(images.transpose(0, 2, 3, 1), reference.transpose(0, 2, 3, 1), channel_axis=-1)
    return np.rint(out).clip(0, 255).astype(np.uint8).transpose(0, 3, 1, 2)
