"""Fit a class-conditional pixel-space prior (UNet2DModel) on a view's train split.

Label dropout trains the null class for classifier-free guidance; EMA weights
are what gets saved. Training state is checkpointed to ``<output>.partial/``
every ``checkpoint_every`` steps, and a re-run with the same options resumes
there and ends with the same weights as an uninterrupted run. A finished prior
with the same fingerprint (data + options) is reused instead of retrained.
"""

import hashlib
import json
import os
import shutil
import time

import numpy as np
import torch
import torch.nn.functional as nnf

import fiftyone.core.utils as fou

from ..data.access import class_table, image_array, read_image, to_unit_range, train_view
from ..devices import device as pick_device
from ..errors import OptionError, PriorError
from ..paths import priors_dir
from .card import PriorCard
from .prior import PIXEL, DiffusionPrior

CHECKPOINT = "checkpoint.pt"


def default_steps(image_size):
    """Training steps sized for 2 CPU cores: ~30 min at 28 px, ~8 min at 16 px.

    Measured (docs/benchmarks.md, priors): 1.8 steps/s at 28 px, 4.5 at 16 px;
    Fashion-MNIST samples are already 83% recognisable after 500 steps.
    """
    return 3000 if image_size >= 24 else 2000


def fit_prior(view, label_field, name=None, output_dir=None, image_size=None, channels=None,
              steps=None, batch_size=64, lr=5e-4, label_dropout=0.1, ema_decay=0.999,
              block_out_channels=(32, 64, 64), layers_per_block=1, checkpoint_every=500,
              seed=0, overwrite=False, recognisability=True, device=None, progress=None,
              callback=None, on_checkpoint=None):
    """Fit (or reuse) a class-conditional UNet2DModel prior and return it.

    Args:
        view: dataset or view; only its real ``train`` samples are read
        label_field: the ``Classification`` field
        name (None): prior name under DsCo's priors dir (default
            ``<dataset>-<label_field>``); ignored when ``output_dir`` is given
        output_dir (None): where to save the prior
        image_size (None): training resolution; default: the images' size,
            at least 16 and a multiple of 4
        channels (None): 1 or 3; default: 1 for grey images, else 3
        steps (None): optimisation steps (default :func:`default_steps`)
        batch_size, lr: AdamW batch size and learning rate
        label_dropout: probability of replacing a label by the null class
        ema_decay: maximum decay of the EMA weights that are saved
        block_out_channels, layers_per_block: UNet size
        checkpoint_every: steps between checkpoints (resume points)
        seed: seeds initialisation, batches, noise and dropout
        overwrite: retrain even if a prior with this fingerprint exists
        recognisability: score the prior with a real-data classifier (card)
        device: torch device (default: CUDA if available)
        progress: FiftyOne ``progress`` value (bool or callback)
        callback: optional ``callback(step)`` after each step (raising stops)
        on_checkpoint: optional ``on_checkpoint(step, prior, seconds)`` at each
            checkpoint, given a prior built from a copy of the EMA weights and
            the training seconds so far; its own time is not counted as
            training time (used by the quality-per-minute benchmark)
    """
    from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel
    from diffusers.training_utils import EMAModel

    train = train_view(view)
    table = class_table(train, label_field, min_per_class=1)
    size, channels = _resolve_shape(train, table, image_size, channels)
    steps = int(steps or default_steps(size))
    _check_options(steps, batch_size, lr, label_dropout, checkpoint_every)
    out = os.path.abspath(output_dir or priors_dir(name or f"{view._dataset.name}-{label_field}"))
    options = dict(image_size=size, channels=channels, steps=steps, batch_size=batch_size, lr=lr,
                   label_dropout=label_dropout, ema_decay=ema_decay, seed=seed,
                   block_out_channels=list(block_out_channels), layers_per_block=layers_per_block)
    fingerprint = _fingerprint(view._dataset.name, label_field, table, options)

    existing = PriorCard.load(out)
    if existing is not None and not overwrite:
        if existing.training.get("fingerprint") == fingerprint:
            return DiffusionPrior.from_pretrained(out, device=device)
        raise PriorError(
            f"A different prior is already saved at '{out}' (other data or options). "
            f"Pass overwrite=True (--overwrite) to replace it, or choose another name."
        )

    dev = pick_device(device)
    images = image_array(train, table.ids(), size, channels, progress=progress)
    labels = torch.as_tensor(table.labels())
    null = len(table.classes)
    torch.manual_seed(seed)
    unet = UNet2DModel(
        sample_size=size, in_channels=channels, out_channels=channels,
        block_out_channels=tuple(block_out_channels), layers_per_block=layers_per_block,
        down_block_types=("DownBlock2D",) * len(block_out_channels),
        up_block_types=("UpBlock2D",) * len(block_out_channels),
        num_class_embeds=null + 1, norm_num_groups=8,
    ).to(dev)
    noise_sched = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
    opt = torch.optim.AdamW(unet.parameters(), lr=lr)
    ema = EMAModel(unet.parameters(), decay=ema_decay, use_ema_warmup=True, power=2 / 3)
    gen = torch.Generator().manual_seed(seed)

    partial = out + ".partial"
    start, elapsed = _resume(partial, fingerprint, unet, opt, ema, gen)
    os.makedirs(partial, exist_ok=True)
    t0 = time.perf_counter() - elapsed
    with fou.ProgressBar(total=steps, progress=progress, iters_str="steps") as pb:
        pb.update(start)
        for step in range(start, steps):
            idx = torch.randint(0, len(labels), (batch_size,), generator=gen)
            sel = np.sort(idx.numpy())  # sorted reads are faster on a memmap
            x0 = to_unit_range(images[sel])
            y = labels[sel].clone()
            y[torch.rand(batch_size, generator=gen) < label_dropout] = null
            noise = torch.randn(x0.shape, generator=gen)
            t = torch.randint(0, 1000, (batch_size,), generator=gen)
            xt = noise_sched.add_noise(x0, noise, t)
            pred = unet(xt.to(dev), t.to(dev), class_labels=y.to(dev)).sample
            loss = nnf.mse_loss(pred, noise.to(dev))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            ema.step(unet.parameters())
            done = step + 1
            if done % checkpoint_every == 0 or done == steps:
                _save_checkpoint(partial, fingerprint, done, unet, opt, ema, gen,
                                 time.perf_counter() - t0)
                if on_checkpoint is not None:
                    pause = time.perf_counter()
                    snapshot = _ema_snapshot(unet, ema, noise_sched, table, size, channels, null)
                    on_checkpoint(done, snapshot, pause - t0)
                    t0 += time.perf_counter() - pause
            pb.update()
            if callback is not None:
                callback(done)
    train_seconds = time.perf_counter() - t0

    ema.copy_to(unet.parameters())
    card = PriorCard(
        family=PIXEL, classes=table.classes, image_size=size, channels=channels, null_class=null,
        training=dict(options, fingerprint=fingerprint, dataset=view._dataset.name,
                      label_field=label_field, num_train_samples=table.num_samples,
                      seconds=round(train_seconds, 1), device=str(dev),
                      params=sum(p.numel() for p in unet.parameters()),
                      final_loss=float(loss.detach()) if steps > start else None),
    )
    scheduler = DDIMScheduler.from_config(noise_sched.config)
    prior = DiffusionPrior(unet, scheduler, card)
    if recognisability:
        from .quality import score_recognisability

        card.recognisability = score_recognisability(prior, train, table, progress=progress)
    _publish(prior, out)
    shutil.rmtree(partial, ignore_errors=True)
    prior.path = out
    return prior


def _ema_snapshot(unet, ema, noise_sched, table, size, channels, null):
    """A prior with a copy of the current EMA weights (training is untouched)."""
    import copy

    from diffusers import DDIMScheduler

    model = copy.deepcopy(unet)
    ema.copy_to(model.parameters())
    model.eval()
    card = PriorCard(family=PIXEL, classes=table.classes, image_size=size, channels=channels,
                     null_class=null)
    return DiffusionPrior(model, DDIMScheduler.from_config(noise_sched.config), card)


def _resolve_shape(train, table, image_size, channels):
    sid = table.ids()[0]
    first = read_image(train.select(sid).first().filepath, None, 3, sample_id=sid)
    grey = bool((first[0] == first[1]).all() and (first[1] == first[2]).all())
    channels = channels or (1 if grey else 3)
    if channels not in (1, 3):
        raise OptionError(f"channels must be 1 or 3, not {channels}.")
    size = image_size or max(16, -(-first.shape[-1] // 4) * 4)
    if size % 4:
        raise OptionError(f"image_size must be a multiple of 4 (the UNet halves it twice); got {size}.")
    return int(size), int(channels)


def _check_options(steps, batch_size, lr, label_dropout, checkpoint_every):
    if steps < 1 or batch_size < 1 or checkpoint_every < 1:
        raise OptionError("steps, batch_size and checkpoint_every must be >= 1.")
    if not lr > 0:
        raise OptionError(f"lr must be > 0, not {lr}.")
    if not 0 <= label_dropout < 1:
        raise OptionError(f"label_dropout must be in [0, 1), not {label_dropout}.")


def _fingerprint(dataset_name, label_field, table, options):
    blob = json.dumps([dataset_name, label_field, table.classes, table.ids(), options],
                      sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def _save_checkpoint(folder, fingerprint, step, unet, opt, ema, gen, seconds):
    state = dict(fingerprint=fingerprint, step=step, unet=unet.state_dict(),
                 opt=opt.state_dict(), ema=ema.state_dict(), gen=gen.get_state(),
                 seconds=seconds)
    path = os.path.join(folder, CHECKPOINT)
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)


def _resume(folder, fingerprint, unet, opt, ema, gen):
    path = os.path.join(folder, CHECKPOINT)
    if not os.path.isfile(path):
        return 0, 0.0
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("fingerprint") != fingerprint:
        shutil.rmtree(folder)  # a stale checkpoint of other data/options
        return 0, 0.0
    unet.load_state_dict(state["unet"])
    opt.load_state_dict(state["opt"])
    ema.load_state_dict(state["ema"])
    gen.set_state(state["gen"])
    return state["step"], state["seconds"]


def _publish(prior, out):
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    prior.save_pretrained(tmp)
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.replace(tmp, out)
