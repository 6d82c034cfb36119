"""Train and apply classifiers on image arrays (shared by priors, features, evaluation)."""

import time

import numpy as np
import torch
import torch.nn.functional as nnf
from torch import nn

from ..devices import device as pick_device
from .augment import augment_shift, dsa_augment
from .classifiers import create_classifier
from .recipes import step_lr


def train_classifier(images, labels, num_classes, arch="convnet3", epochs=300, batch_size=256,
                     lr=0.01, momentum=0.9, weight_decay=5e-4, max_shift=2, seed=0,
                     device=None, progress=False, teacher=None, temperature=1.0,
                     schedule="cosine", augment="shift", dsa_strategy="", normalize=None):
    """Train a classifier from scratch on ``images`` (float tensor in [-1, 1], NCHW).

    SGD with momentum; ``schedule`` ``"cosine"`` (per step) or ``"step"`` (lr ×
    0.1 once, see :func:`~fiftyone_dsco.evaluation.recipes.step_lr`);
    ``augment`` ``"shift"`` (±``max_shift`` px), ``"dsa"`` (``dsa_strategy``)
    or ``"none"``; ``normalize=(mean, std)`` standardises inputs (augmentation
    then works on standardised images, as DSA's does) and the returned model
    does it too. The target is ``labels`` (class indices, cross-entropy) or,
    with a ``teacher`` model, its softmax at ``temperature`` on the same
    augmented batch (KL divergence times ``temperature^2``; ``labels`` is then
    unused and may be None). Returns the model in eval mode and the training
    time in seconds. :mod:`fiftyone_dsco.evaluation.recipes` names the recipes.
    """
    dev = pick_device(device)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(images, dtype=torch.float32)
    if teacher is None:
        y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    else:
        teacher = teacher.to(dev).eval()
    mean, std = normalize or (0.0, 1.0)
    core = create_classifier(arch, num_classes, x.shape[1], x.shape[-1]).to(dev)
    opt = torch.optim.SGD(core.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    steps_per_epoch = max(1, -(-len(x) // batch_size))
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * steps_per_epoch)
             if schedule == "cosine" else None)

    def augmented(xb):
        xb = (xb - mean) / std
        if augment == "shift":
            return augment_shift(xb, max_shift, gen, fill=(-1.0 - mean) / std)
        return dsa_augment(xb, dsa_strategy, gen) if augment == "dsa" else xb

    def batch_loss(xb, idx):
        if teacher is None:
            return nnf.cross_entropy(core(xb), y[idx].to(dev))
        with torch.no_grad():
            target = nnf.softmax(teacher(xb * std + mean) / temperature, 1)
        logp = nnf.log_softmax(core(xb) / temperature, 1)
        return nnf.kl_div(logp, target, reduction="batchmean") * temperature ** 2

    start = time.perf_counter()
    core.train()
    with _progress_bar(epochs, progress) as pb:
        for epoch in range(epochs):
            if schedule == "step":
                for group in opt.param_groups:
                    group["lr"] = step_lr(lr, epochs, epoch)
            order = torch.randperm(len(x), generator=gen)
            for k in range(0, len(x), batch_size):
                idx = order[k : k + batch_size]
                loss = batch_loss(augmented(x[idx]).to(dev), idx)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
            pb.update()
    model = core if normalize is None else nn.Sequential(Standardize(mean, std), core).to(dev)
    model.eval()
    return model, time.perf_counter() - start


class Standardize(nn.Module):
    """``(x - mean) / std``: the first layer of a model trained on standardised inputs."""

    def __init__(self, mean, std):
        super().__init__()
        self.mean, self.std = float(mean), float(std)

    def forward(self, x):
        return (x - self.mean) / self.std


class _NoBar:
    """Stands in for FiftyOne's progress bar when none is asked for."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, *args, **kwargs):
        pass


def _progress_bar(total, progress):
    """FiftyOne's bar over ``total`` epochs; imported only when asked for, so that training
    on arrays needs only torch and timm (e.g. on a GPU box without FiftyOne)."""
    if progress is False:
        return _NoBar()
    import fiftyone.core.utils as fou

    return fou.ProgressBar(total=total, progress=progress, iters_str="epochs")


@torch.no_grad()
def predict(model, images, batch_size=1000):
    """Logits of ``model`` on float images (tensor or uint8 array) in batches."""
    dev = next(model.parameters()).device
    out = []
    for k in range(0, len(images), batch_size):
        xb = images[k : k + batch_size]
        if not torch.is_tensor(xb):
            from ..data.access import to_unit_range  # FiftyOne's data layer: only for uint8 arrays

            xb = to_unit_range(xb)
        out.append(model(xb.to(dev)).float().cpu())
    return torch.cat(out) if out else torch.zeros(0)
