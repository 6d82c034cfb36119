"""Feature extractors (pluggable, cached): the space where MMD compares images.

``extractors`` (the registry and feature computation) and ``reference`` (the
reference classifier's penultimate features).
"""

from .extractors import FeatureExtractor, build_extractor, features_of_images, real_features

__all__ = ["FeatureExtractor", "build_extractor", "features_of_images", "real_features"]
