"""Fit a class-conditional pixel-space prior (UNet2DModel) on a view's train split.

The UNet is sized by a preset (``names.PRIOR_PRESETS``, :mod:`.presets`) picked from the image
size and channels. Label dropout trains the null class for classifier-free guidance; EMA
weights are what gets saved. On CUDA the fit runs in mixed precision (bf16, else fp16) and
channels-last. With ``recognisability`` on, every checkpoint scores the EMA weights and the fit
stops once that score plateaus (``patience``), at the latest after ``steps``; classes below
``warn_below`` then raise a :class:`~fiftyone_dsco.errors.PriorQualityWarning` that names the
command continuing the fit.

Training state is checkpointed to ``<output>.partial/`` every ``checkpoint_every`` steps; a
re-run with the same options resumes there and ends with the same weights as an uninterrupted
run. The last state is kept beside the prior (``training_state.pt``), so ``more_steps`` (or a
larger ``steps``) continues a finished prior. A finished prior with the same fingerprint (data
and options other than the step count) is reused.
"""

import copy
import hashlib
import inspect
import json
import os
import shlex
import shutil
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as nnf

import fiftyone.core.utils as fou

from ..data.access import class_table, image_array, read_image, to_unit_range, train_view
from ..devices import device as pick_device
from ..errors import OptionError, PriorError, PriorQualityWarning
from ..names import DEFAULT_LABEL_FIELD
from ..paths import priors_dir
from .card import PriorCard
from .presets import unet_shape
from .prior import PIXEL, DiffusionPrior
from .quality import Plateau, weak_classes

CHECKPOINT = "checkpoint.pt"
#: The last training state, kept in a finished prior's folder (what ``more_steps`` continues).
STATE = "training_state.pt"
#: Why a fit stopped (card ``training.stop_reason``).
PLATEAU, CAP = "plateau", "steps"
#: Sampling of the checkpoint scores that the plateau stop watches: about 5x cheaper than the
#: card's final score (20 per class, 25 steps); fixed noises, so scores differ by the weights.
WATCH = dict(per_class=10, steps=10, seed=1)


def default_steps(image_size):
    """Step cap sized for 2 CPU cores: ~30 min at 28 px, ~8 min at 16 px.

    Measured (docs/benchmarks.md, priors): 1.8 steps/s at 28 px, 4.5 at 16 px;
    Fashion-MNIST samples are already 83% recognisable after 500 steps.
    """
    return 3000 if image_size >= 24 else 2000


def fit_prior(view, label_field, name=None, output_dir=None, image_size=None, channels=None,
              steps=None, more_steps=None, preset=None, block_out_channels=None,
              layers_per_block=None, batch_size=64, lr=5e-4, label_dropout=0.1, ema_decay=0.999,
              checkpoint_every=500, patience=2, min_delta=0.01, warn_below=0.5, seed=0,
              overwrite=False, recognisability=True, device=None, progress=None, callback=None,
              on_checkpoint=None, vae=None):
    """Fit (or reuse, or continue) a class-conditional UNet2DModel prior and return it.

    Args:
        view: dataset or view; only its real ``train`` samples are read
        label_field: the ``Classification`` field
        name (None): prior name under DsCo's priors dir (default
            ``<dataset>-<label_field>``); ignored when ``output_dir`` is given
        output_dir (None): where to save the prior
        image_size (None): training resolution; default: the images' size, at least 16 and
            a multiple of 4 (from 64 px: the nearest multiple of 16)
        channels (None): 1 or 3; default: 1 for grey images, else 3
        steps (None): step cap (default :func:`default_steps`); more than a saved prior's
            cap continues it
        more_steps (None): train the saved prior exactly this many more steps
        preset (None): ``"tiny"``, ``"small"`` or ``"base"`` (None: by image size x channels)
        block_out_channels, layers_per_block (None): override the preset's UNet widths
            (one per level) and ResNet layers per level
        batch_size, lr: AdamW batch size and learning rate
        label_dropout: probability of replacing a label by the null class
        ema_decay: maximum decay of the EMA weights that are saved
        checkpoint_every: steps between checkpoints (resume points and scores)
        patience: stop when this many checkpoint scores in a row gain less than
            ``min_delta`` recognisability over the best earlier one (0: run to ``steps``)
        warn_below: warn about classes less recognisable than this (0-1)
        seed: seeds initialisation, batches, noise and dropout
        overwrite: retrain even if a prior with this fingerprint exists
        recognisability: score the prior with a real-data classifier (card; plateau stop)
        device: torch device (default: CUDA if available)
        progress: FiftyOne ``progress`` value (bool or callback)
        callback: optional ``callback(step)`` after each step (raising stops)
        on_checkpoint: optional ``on_checkpoint(step, prior, seconds)`` at each
            checkpoint, given a prior built from a copy of the EMA weights and
            the training seconds so far; its own time is not counted as
            training time (used by the quality-per-minute benchmark)
        vae (None): a local AutoencoderKL folder: fit a latent DiT in its space
            instead (:func:`~fiftyone_dsco.priors.latent.fit_latent_prior`)
    """
    if vae is not None:
        from .latent import fit_latent_prior

        return fit_latent_prior(view, label_field, vae, name=name, output_dir=output_dir,
                                image_size=image_size, steps=steps, batch_size=batch_size, lr=lr,
                                label_dropout=label_dropout, ema_decay=ema_decay,
                                checkpoint_every=checkpoint_every, seed=seed, overwrite=overwrite,
                                recognisability=recognisability, device=device,
                                progress=progress, callback=callback)
    train = train_view(view)
    table = class_table(train, label_field, min_per_class=1)
    size, channels = _resolve_shape(train, table, image_size, channels)
    arch = unet_shape(size, channels, preset, block_out_channels, layers_per_block)
    steps = int(steps or default_steps(size))
    _check_options(steps, more_steps, batch_size, lr, label_dropout, checkpoint_every, patience)
    out = os.path.abspath(output_dir or priors_dir(name or f"{view._dataset.name}-{label_field}"))
    options = dict(image_size=size, channels=channels, batch_size=batch_size, lr=lr,
                   label_dropout=label_dropout, ema_decay=ema_decay, seed=seed,
                   block_out_channels=arch["block_out_channels"],
                   layers_per_block=arch["layers_per_block"])
    if "AttnDownBlock2D" in arch["down_block_types"]:
        options.update(down_block_types=arch["down_block_types"],
                       attention_head_dim=arch["attention_head_dim"])
    fingerprint = _fingerprint(view._dataset.name, label_field, table, options)
    legacy = (lambda s: _fingerprint(view._dataset.name, label_field, table,
                                     dict(options, steps=s)))
    plan = _plan(out, fingerprint, legacy, steps, more_steps, overwrite)
    if plan is None:
        return DiffusionPrior.from_pretrained(out, device=device)
    cap, since = plan

    dev = pick_device(device)
    images = image_array(train, table.ids(), size, channels, progress=progress)
    labels = torch.as_tensor(table.labels())
    fit = _Fit(arch, size, channels, len(table.classes), lr, ema_decay, seed, dev)
    partial = out + ".partial"
    state = _load_state(os.path.join(partial, CHECKPOINT), fingerprint, cap)
    if state is None:
        shutil.rmtree(partial, ignore_errors=True)  # none, or a stale one of other data/options
        if since:  # continue the finished prior
            state = dict(_load_state(os.path.join(out, STATE), fingerprint, cap), since=since)
    fit.load(state)
    state = state or {}
    watch = Plateau(0 if more_steps else patience, min_delta, state.get("history", ()),
                    state.get("since", 0))
    score = _scorer(train, table) if recognisability and watch.patience else None
    start, watched = state.get("step", 0), state.get("watch_seconds", 0.0)
    os.makedirs(partial, exist_ok=True)
    t0 = time.perf_counter() - state.get("seconds", 0.0)
    loss, done = None, start
    with fou.ProgressBar(total=cap, progress=progress, iters_str="steps") as pb:
        pb.update(start)
        for step in range(start, cap if not watch.stopped else start):
            loss = fit.step(images, labels, batch_size, label_dropout)
            done = step + 1
            if done % checkpoint_every == 0 or done == cap:
                pause = time.perf_counter()
                snapshot = fit.snapshot(table, size, channels) if score or on_checkpoint else None
                if score is not None:
                    watch.update(done, score(snapshot)["overall"])
                    watched += time.perf_counter() - pause
                fit.save(partial, dict(fingerprint=fingerprint, step=done, seconds=pause - t0,
                                       history=watch.history, since=watch.since,
                                       watch_seconds=watched))
                if on_checkpoint is not None:
                    on_checkpoint(done, snapshot, pause - t0)
                t0 += time.perf_counter() - pause
            pb.update()
            if callback is not None:
                callback(done)
            if watch.stopped:
                break
    train_seconds = time.perf_counter() - t0

    prior = fit.prior(table, size, channels)
    prior.card.training = dict(
        options, fingerprint=fingerprint, dataset=view._dataset.name, label_field=label_field,
        num_train_samples=table.num_samples, steps=cap, steps_done=done,
        stop_reason=PLATEAU if watch.stopped else CAP, preset=arch["preset"],
        patience=watch.patience, min_delta=min_delta, warn_below=warn_below,
        history=watch.history, seconds=round(train_seconds, 1),
        watch_seconds=round(watched, 1), device=str(dev),
        precision=str(fit.amp or torch.float32).replace("torch.", ""),
        params=sum(p.numel() for p in prior.denoiser.parameters()),
        final_loss=float(loss.detach()) if loss is not None else None)
    if recognisability:
        from .quality import score_recognisability

        prior.card.recognisability = score_recognisability(prior, train, table,
                                                           progress=progress)
    _publish(prior, out, partial)
    prior.path = out
    message = quality_warning(prior.card, out)
    if message:
        warnings.warn(message, PriorQualityWarning, stacklevel=2)
    return prior


class _Fit:
    """One fit's UNet, optimiser, EMA weights, random generator and (fp16) grad scaler."""

    def __init__(self, arch, size, channels, num_classes, lr, ema_decay, seed, dev):
        from diffusers import DDPMScheduler, UNet2DModel
        from diffusers.training_utils import EMAModel

        self.dev, self.null = dev, num_classes
        torch.manual_seed(seed)
        blocks = {k: tuple(arch[k]) for k in ("block_out_channels", "down_block_types",
                                              "up_block_types")}
        self.unet = UNet2DModel(
            sample_size=size, in_channels=channels, out_channels=channels,
            layers_per_block=arch["layers_per_block"],
            attention_head_dim=arch["attention_head_dim"],
            num_class_embeds=num_classes + 1, norm_num_groups=8, **blocks).to(dev)
        self.amp = _amp_dtype(dev)
        self.memory = torch.channels_last if dev.type == "cuda" else torch.contiguous_format
        self.unet.to(memory_format=self.memory)
        self.noise = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
        self.opt = torch.optim.AdamW(self.unet.parameters(), lr=lr)
        self.ema = EMAModel(self.unet.parameters(), decay=ema_decay, use_ema_warmup=True,
                            power=2 / 3)
        self.gen = torch.Generator().manual_seed(seed)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp == torch.float16 else None

    def step(self, images, labels, batch_size, label_dropout):
        """One AdamW step on a random batch; returns the loss."""
        gen, dev = self.gen, self.dev
        idx = torch.randint(0, len(labels), (batch_size,), generator=gen)
        sel = np.sort(idx.numpy())  # sorted reads are faster on a memmap
        x0 = to_unit_range(images[sel])
        y = labels[sel].clone()
        y[torch.rand(batch_size, generator=gen) < label_dropout] = self.null
        noise = torch.randn(x0.shape, generator=gen)
        t = torch.randint(0, 1000, (batch_size,), generator=gen)
        xt = self.noise.add_noise(x0, noise, t).to(dev, memory_format=self.memory)
        with torch.autocast(dev.type, dtype=self.amp, enabled=self.amp is not None):
            pred = self.unet(xt, t.to(dev), class_labels=y.to(dev)).sample
        loss = nnf.mse_loss(pred.float(), noise.to(dev))
        self.opt.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            self.opt.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.opt)
            self.scaler.update()
        self.ema.step(self.unet.parameters())
        return loss

    def save(self, folder, meta):
        state = dict(meta, unet=self.unet.state_dict(), opt=self.opt.state_dict(),
                     ema=self.ema.state_dict(), gen=self.gen.get_state(),
                     scaler=self.scaler.state_dict() if self.scaler else None)
        path = os.path.join(folder, CHECKPOINT)
        torch.save(state, path + ".tmp")
        os.replace(path + ".tmp", path)

    def load(self, state):
        if state is None:
            return
        self.unet.load_state_dict(state["unet"])
        self.opt.load_state_dict(state["opt"])
        self.ema.load_state_dict(state["ema"])
        self.gen.set_state(state["gen"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])

    def snapshot(self, table, size, channels):
        """A prior with a copy of the current EMA weights (training is untouched)."""
        model = copy.deepcopy(self.unet)
        self.ema.copy_to(model.parameters())
        return self._prior(model, table, size, channels)

    def prior(self, table, size, channels):
        """The prior with the EMA weights (the end of training)."""
        self.ema.copy_to(self.unet.parameters())
        return self._prior(self.unet.to(memory_format=torch.contiguous_format), table, size,
                           channels)

    def _prior(self, model, table, size, channels):
        from diffusers import DDIMScheduler

        card = PriorCard(family=PIXEL, classes=table.classes, image_size=size, channels=channels,
                         null_class=self.null)
        return DiffusionPrior(model.eval(), DDIMScheduler.from_config(self.noise.config), card)


def _amp_dtype(dev):
    """Autocast dtype on CUDA (bf16 where supported, else fp16); None elsewhere (fp32)."""
    if dev.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _scorer(train, table):
    from .quality import score_recognisability

    return lambda prior: score_recognisability(prior, train, table, **WATCH)


def _plan(out, fingerprint, legacy, steps, more_steps, overwrite):
    """None to reuse the prior saved at ``out``, else ``(cap, since)``: train up to step ``cap``,
    from scratch (``since`` 0) or continuing the saved prior from its step ``since``."""
    card = PriorCard.load(out)
    if card is None or overwrite:
        if more_steps:
            raise PriorError(
                f"more_steps (--more-steps) continues the prior saved at '{out}', but "
                + ("there is none: fit it first." if card is None else "overwrite refits it.")
            )
        return steps, 0
    t = card.training
    done = t.get("steps_done")
    if t.get("fingerprint") != (fingerprint if done is not None else legacy(t.get("steps"))):
        raise PriorError(
            f"A different prior is already saved at '{out}' (other data or options). "
            f"Pass overwrite=True (--overwrite) to replace it, or choose another name."
        )
    done = done or t.get("steps")
    cap = done + more_steps if more_steps else steps
    if not more_steps and cap <= max(done, t.get("steps") or 0):
        return None
    if not os.path.isfile(os.path.join(out, STATE)):
        raise PriorError(
            f"The prior at '{out}' has no training state ({STATE}; priors fitted by "
            f"earlier versions have none), so it cannot continue to step {cap}. Pass "
            f"overwrite=True (--overwrite) to refit it from scratch."
        )
    return cap, done


def _load_state(path, fingerprint, cap):
    """A checkpoint of this fingerprint at step ``cap`` or before, else None."""
    if not os.path.isfile(path):
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("fingerprint") != fingerprint or state.get("step", 0) > cap:
        return None
    return state


def quality_warning(card, path):
    """The warning about a prior's classes below its ``warn_below``, or None when none is."""
    t = card.training
    weak = weak_classes(card.recognisability, t.get("warn_below", 0))
    if not weak:
        return None
    done = t.get("steps_done") or t.get("steps")
    shown = ", ".join(f"'{c}' {100 * r:.0f}%" for c, r in weak.items())
    msg = (f"{len(weak)} of {len(card.classes)} classes of the prior at '{path}' are less than "
           f"{100 * t['warn_below']:.0f}% recognisable after {done} steps: {shown}. Their "
           f"samples mostly look like other classes. Continue the fit with: "
           f"{continue_command(card, path, done)}")
    if t.get("stop_reason") == PLATEAU:
        msg += (" (recognisability had stopped improving, so a larger --preset, refitted with "
                "--overwrite, may help more than more steps)")
    return msg


def continue_command(card, path, more_steps):
    """The ``dsco prior fit`` command that continues the prior at ``path`` ``more_steps`` steps."""
    t = card.training
    name = os.path.basename(os.path.normpath(path))
    where = (f"--name {shlex.quote(name)}" if os.path.abspath(priors_dir(name)) == path
             else f"--output-dir {shlex.quote(path)}")
    args = ["dsco prior fit", shlex.quote(t.get("dataset", "DATASET")), where]
    if t.get("label_field", DEFAULT_LABEL_FIELD) != DEFAULT_LABEL_FIELD:
        args.append(f"--label-field {shlex.quote(t['label_field'])}")
    args.append(f"--image-size {card.image_size}")
    preset = unet_shape(card.image_size, card.channels, t.get("preset"))
    if t.get("preset"):
        args.append(f"--preset {t['preset']}")
    if t.get("block_out_channels") != preset["block_out_channels"]:
        args.append(f"--block-out-channels {','.join(map(str, t['block_out_channels']))}")
    if t.get("layers_per_block") != preset["layers_per_block"]:
        args.append(f"--layers-per-block {t['layers_per_block']}")
    defaults = inspect.signature(fit_prior).parameters
    for key in ("batch_size", "lr", "seed"):
        if key in t and t[key] != defaults[key].default:
            args.append(f"--{key.replace('_', '-')} {t[key]}")
    return " ".join(args + [f"--more-steps {int(more_steps)}"])


def _resolve_shape(train, table, image_size, channels):
    sid = table.ids()[0]
    first = read_image(train.select(sid).first().filepath, None, 3, sample_id=sid)
    grey = bool((first[0] == first[1]).all() and (first[1] == first[2]).all())
    channels = channels or (1 if grey else 3)
    if channels not in (1, 3):
        raise OptionError(f"channels must be 1 or 3, not {channels}.")
    side = first.shape[-1]
    size = image_size or (max(16, -(-side // 4) * 4) if side < 64 else round(side / 16) * 16)
    if size % 4:
        raise OptionError(f"image_size must be a multiple of 4 (the UNet halves it at least "
                          f"twice); got {size}.")
    return int(size), int(channels)


def _check_options(steps, more_steps, batch_size, lr, label_dropout, checkpoint_every, patience):
    if steps < 1 or batch_size < 1 or checkpoint_every < 1 or (more_steps or 1) < 1:
        raise OptionError("steps, more_steps, batch_size and checkpoint_every must be >= 1.")
    if (patience or 0) < 0:
        raise OptionError(f"patience must be >= 0, not {patience}.")
    if not lr > 0:
        raise OptionError(f"lr must be > 0, not {lr}.")
    if not 0 <= label_dropout < 1:
        raise OptionError(f"label_dropout must be in [0, 1), not {label_dropout}.")


def _fingerprint(dataset_name, label_field, table, options):
    blob = json.dumps([dataset_name, label_field, table.classes, table.ids(), options],
                      sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def _publish(prior, out, partial):
    """Save the prior with its last training state at ``out``; remove the checkpoint folder."""
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    prior.save_pretrained(tmp)
    os.replace(os.path.join(partial, CHECKPOINT), os.path.join(tmp, STATE))
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.replace(tmp, out)
    shutil.rmtree(partial, ignore_errors=True)
