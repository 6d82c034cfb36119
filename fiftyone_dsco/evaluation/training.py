"""Train and apply classifiers on image arrays (shared by priors, features, evaluation)."""

import time

import numpy as np
import torch
import torch.nn.functional as nnf

from ..devices import device as pick_device
from .classifiers import create_classifier


def augment_shift(x, max_shift, generator):
    """Random translations by up to ``max_shift`` pixels (zero padding), per image."""
    if max_shift <= 0:
        return x
    n, _, h, w = x.shape
    pad = nnf.pad(x, (max_shift,) * 4, value=-1.0)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None]).to(x.device)
    cols = (dx[:, None] + torch.arange(w)[None]).to(x.device)
    idx = torch.arange(n, device=x.device)[:, None, None]
    return pad.permute(0, 2, 3, 1)[idx, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def train_classifier(images, labels, num_classes, arch="convnet3", epochs=300, batch_size=256,
                     lr=0.01, momentum=0.9, weight_decay=5e-4, max_shift=2, seed=0,
                     device=None, progress=False, teacher=None, temperature=1.0):
    """Train a classifier from scratch on ``images`` (float tensor in [-1, 1], NCHW).

    SGD with momentum, cosine learning-rate schedule, random shifts: the same
    recipe for every training set compared. The target is ``labels`` (class
    indices, cross-entropy) or, with a ``teacher`` model, its softmax at
    ``temperature`` on the same shifted batch (KL divergence times
    ``temperature^2``; ``labels`` is then unused and may be None). Returns the
    model in eval mode and the training time in seconds.
    """
    dev = pick_device(device)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(images, dtype=torch.float32)
    if teacher is None:
        y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    else:
        teacher = teacher.to(dev).eval()
    model = create_classifier(arch, num_classes, x.shape[1], x.shape[-1]).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    steps_per_epoch = max(1, -(-len(x) // batch_size))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * steps_per_epoch)

    def batch_loss(xb, idx):
        if teacher is None:
            return nnf.cross_entropy(model(xb), y[idx].to(dev))
        with torch.no_grad():
            target = nnf.softmax(teacher(xb) / temperature, 1)
        logp = nnf.log_softmax(model(xb) / temperature, 1)
        return nnf.kl_div(logp, target, reduction="batchmean") * temperature ** 2

    start = time.perf_counter()
    model.train()
    with _progress_bar(epochs, progress) as pb:
        for _ in range(epochs):
            order = torch.randperm(len(x), generator=gen)
            for k in range(0, len(x), batch_size):
                idx = order[k : k + batch_size]
                loss = batch_loss(augment_shift(x[idx], max_shift, gen).to(dev), idx)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
            pb.update()
    model.eval()
    return model, time.perf_counter() - start


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
