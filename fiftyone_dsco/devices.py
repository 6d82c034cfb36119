"""The torch device DsCo computes on."""


def device(prefer=None):
    """The torch device to use: ``prefer`` if given, else CUDA when present, else CPU."""
    import torch

    if prefer:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
