"""Latent priors: a class-conditional DiT fitted in a local VAE's latent space.

The train images are encoded once (the VAE posterior's mean) into a cache on
disk: one float32 file of rows, read memory-mapped, and an index from sample id
(and its file's path and mtime) to row, in a folder per VAE fingerprint
(config + weights) and image size. A later fit of the same or an overlapping
view encodes only the samples not cached yet. Training, checkpoints, resume and
reuse work as in :mod:`fiftyone_dsco.priors.fit`; the prior is saved in
``DiTPipeline.save_pretrained`` layout with its card (``load_prior`` reads it).
FiftyOne is imported only by the functions that read a view.
"""

import contextlib
import hashlib
import json
import os
import shutil
import time

import numpy as np
import torch
import torch.nn.functional as nnf

from ..devices import device as pick_device
from ..errors import OptionError, PriorError
from ..paths import cache_dir, priors_dir
from .card import PriorCard
from .prior import LATENT, DiffusionPrior

#: DiTTransformer2DModel size of a fitted latent prior (override with ``transformer=``).
DIT_DEFAULTS = dict(num_layers=6, num_attention_heads=4, attention_head_dim=32, patch_size=2)
#: Default optimisation steps (a starting point, not tuned: no latent fit has been measured).
DEFAULT_STEPS = 3000
CHECKPOINT = "checkpoint.pt"


def load_vae(vae):
    """``(AutoencoderKL, fingerprint)`` from a model, its folder, or a pipeline folder with ``vae/``."""
    from diffusers import AutoencoderKL

    if not isinstance(vae, AutoencoderKL):
        folder = os.fspath(vae)
        if os.path.isfile(os.path.join(folder, "vae", "config.json")):
            folder = os.path.join(folder, "vae")
        if not os.path.isfile(os.path.join(folder, "config.json")):
            raise PriorError(f"No AutoencoderKL at '{folder}': give the folder that "
                             f"AutoencoderKL.save_pretrained wrote, or a pipeline folder with vae/.")
        vae = AutoencoderKL.from_pretrained(folder, low_cpu_mem_usage=False)
    return vae.eval().requires_grad_(False), vae_fingerprint(vae)


def vae_fingerprint(vae):
    """A hash of the VAE's config and weights."""
    config = {k: v for k, v in dict(vae.config).items() if not k.startswith("_")}
    h = hashlib.sha1(json.dumps(config, sort_keys=True, default=str).encode())
    for name, t in sorted(vae.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


class LatentCache:
    """Unscaled VAE latents of samples at one image size: a float32 row file and an id index."""

    def __init__(self, vae_key, size, shape):
        self.folder = cache_dir("latents", f"{vae_key}-{size}px")
        self.shape, self.size = tuple(shape), size
        self.data = os.path.join(self.folder, "latents.f32")
        self.index_path = os.path.join(self.folder, "index.json")

    def latents(self, view, ids, encode, channels, progress=None):
        """``(rows, memmap)``: the cache rows of ``ids``, encoding the samples not cached yet."""
        paths = view._dataset.select(list(ids), ordered=True).values("filepath")
        stamps = [_stamp(p) for p in paths]
        os.makedirs(self.folder, exist_ok=True)
        with _locked(os.path.join(self.folder, ".lock")):
            index = self._index()
            todo = [i for i, s in zip(ids, stamps) if index.get(i, (None, None))[1] != s]
            if todo:
                self._append(view, todo, dict(zip(ids, stamps)), index, encode, channels, progress)
        rows = np.array([index[i][0] for i in ids], dtype=np.int64)
        n = 1 + max(r for r, _ in index.values())
        return rows, np.memmap(self.data, dtype=np.float32, mode="r", shape=(n,) + self.shape)

    def _index(self):
        if not os.path.isfile(self.index_path):
            return {}
        with open(self.index_path) as f:
            return {k: tuple(v) for k, v in json.load(f).items()}

    def _append(self, view, ids, stamps, index, encode, channels, progress):
        from ..data.access import iter_image_batches, to_unit_range

        row_bytes = 4 * int(np.prod(self.shape))
        n = 1 + max((r for r, _ in index.values()), default=-1)
        with open(self.data, "ab") as f:
            f.truncate(n * row_bytes)  # drop rows an interrupted append left unindexed
            for chunk, batch in iter_image_batches(view, ids, self.size, channels, batch_size=64,
                                                   progress=progress):
                f.write(encode(to_unit_range(batch)).astype(np.float32).tobytes())
                for i in chunk:
                    index[i], n = (n, stamps[i]), n + 1
        tmp = self.index_path + f".tmp{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(index, f)
        os.replace(tmp, self.index_path)


def _stamp(path):
    return f"{path}|{os.stat(path).st_mtime_ns}" if os.path.exists(path) else path


@contextlib.contextmanager
def _locked(path):
    import fcntl

    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def fit_latent_prior(view, label_field, vae, name=None, output_dir=None, image_size=None,
                     steps=None, batch_size=64, lr=5e-4, label_dropout=0.1, ema_decay=0.999,
                     transformer=None, checkpoint_every=500, seed=0, overwrite=False,
                     recognisability=True, device=None, progress=None, callback=None):
    """Fit (or reuse) a class-conditional DiT prior in ``vae``'s latent space and return it.

    Args:
        vae: a local ``AutoencoderKL`` folder (or a pipeline folder with ``vae/``,
            or the model itself); it is saved with the prior
        image_size (None): default: the images' size rounded up to a multiple
            of the VAE's downsampling times the patch size
        transformer (None): ``DiTTransformer2DModel`` options over :data:`DIT_DEFAULTS`
        other arguments: as :func:`~fiftyone_dsco.priors.fit.fit_prior`
    """
    import fiftyone.core.utils as fou
    from diffusers import DDIMScheduler, DDPMScheduler, DiTTransformer2DModel
    from diffusers.training_utils import EMAModel

    from ..data.access import class_table, train_view

    train = train_view(view)
    table = class_table(train, label_field, min_per_class=1)
    vae, vae_key = load_vae(vae)
    cfg = dict(DIT_DEFAULTS, **(transformer or {}))
    down = 2 ** (len(vae.config.block_out_channels) - 1)
    size = _image_size(train, table, image_size, down * cfg["patch_size"])
    steps = int(steps or DEFAULT_STEPS)
    _check_options(steps, batch_size, lr, label_dropout, checkpoint_every)
    out = os.path.abspath(output_dir or priors_dir(name or f"{view._dataset.name}-{label_field}"))
    options = dict(image_size=size, steps=steps, batch_size=batch_size, lr=lr,
                   label_dropout=label_dropout, ema_decay=ema_decay, seed=seed, vae=vae_key,
                   transformer=cfg)
    blob = json.dumps([view._dataset.name, label_field, table.classes, table.ids(), options])
    fingerprint = hashlib.sha1(blob.encode()).hexdigest()[:16]
    if _saved(out, fingerprint, overwrite):
        return DiffusionPrior.from_pretrained(out, device=device)

    dev = pick_device(device)
    vae.to(dev)
    channels, lc = vae.config.in_channels, vae.config.latent_channels
    cache = LatentCache(vae_key, size, (lc, size // down, size // down))

    @torch.no_grad()
    def encode(x):
        return vae.encode(x.to(dev)).latent_dist.mean.float().cpu().numpy()

    rows, lat = cache.latents(train, table.ids(), encode, channels, progress)
    scale = float(vae.config.scaling_factor)
    labels, null = torch.as_tensor(table.labels()), len(table.classes)
    torch.manual_seed(seed)
    dit = DiTTransformer2DModel(in_channels=lc, out_channels=lc, sample_size=size // down,
                                num_embeds_ada_norm=null, **cfg).to(dev)
    dit.eval()  # no dropout layers; eval keeps the model's own unseeded label dropout off
    noise_sched = DDPMScheduler(num_train_timesteps=1000, clip_sample=False)
    opt = torch.optim.AdamW(dit.parameters(), lr=lr)
    ema = EMAModel(dit.parameters(), decay=ema_decay, use_ema_warmup=True, power=2 / 3)
    gen = torch.Generator().manual_seed(seed)
    partial = out + ".partial"
    start, elapsed = _resume(partial, fingerprint, (dit, opt, ema), gen)
    os.makedirs(partial, exist_ok=True)
    t0, loss = time.perf_counter() - elapsed, None
    with fou.ProgressBar(total=steps, progress=progress, iters_str="steps") as pb:
        pb.update(start)
        for step in range(start, steps):
            sel = np.sort(torch.randint(0, len(labels), (batch_size,), generator=gen).numpy())
            x0 = torch.from_numpy(np.asarray(lat[rows[sel]])) * scale
            y = labels[sel].clone()
            y[torch.rand(batch_size, generator=gen) < label_dropout] = null
            loss = _step(dit, opt, ema, noise_sched, x0, y, gen, dev)
            done = step + 1
            if done % checkpoint_every == 0 or done == steps:
                _checkpoint(partial, fingerprint, done, (dit, opt, ema), gen,
                            time.perf_counter() - t0)
            pb.update()
            if callback is not None:
                callback(done)
    ema.copy_to(dit.parameters())
    card = PriorCard(
        family=LATENT, classes=table.classes, image_size=size, channels=channels, null_class=null,
        latent_scale=scale,
        training=dict(options, fingerprint=fingerprint, dataset=view._dataset.name,
                      label_field=label_field, num_train_samples=table.num_samples,
                      seconds=round(time.perf_counter() - t0, 1), device=str(dev),
                      params=sum(p.numel() for p in dit.parameters()), latent_cache=cache.folder,
                      final_loss=float(loss.detach()) if loss is not None else None),
    )
    prior = DiffusionPrior(dit, DDIMScheduler.from_config(noise_sched.config), card, vae)
    if recognisability:
        from .quality import score_recognisability

        card.recognisability = score_recognisability(prior, train, table, progress=progress)
    _publish(prior, out)
    shutil.rmtree(partial, ignore_errors=True)
    prior.path = out
    return prior


def _step(dit, opt, ema, noise_sched, x0, y, gen, dev):
    """One AdamW step of noise prediction on clean latents ``x0`` (bf16 autocast on CUDA)."""
    noise = torch.randn(x0.shape, generator=gen)
    t = torch.randint(0, noise_sched.config.num_train_timesteps, (len(x0),), generator=gen)
    xt = noise_sched.add_noise(x0, noise, t).to(dev)
    amp = dev.type == "cuda" and torch.cuda.is_bf16_supported()
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
        pred = dit(xt, timestep=t.to(dev), class_labels=y.to(dev)).sample
    loss = nnf.mse_loss(pred.float(), noise.to(dev))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    ema.step(dit.parameters())
    return loss


def _saved(out, fingerprint, overwrite):
    """True when the prior at ``out`` has this fingerprint; raise when it is another one."""
    card = PriorCard.load(out)
    if card is None or overwrite:
        return False
    if card.training.get("fingerprint") == fingerprint:
        return True
    raise PriorError(f"A different prior is already saved at '{out}' (other data or options). "
                     f"Pass overwrite=True (--overwrite) to replace it, or choose another name.")


def _check_options(steps, batch_size, lr, label_dropout, checkpoint_every):
    if steps < 1 or batch_size < 1 or checkpoint_every < 1:
        raise OptionError("steps, batch_size and checkpoint_every must be >= 1.")
    if not lr > 0:
        raise OptionError(f"lr must be > 0, not {lr}.")
    if not 0 <= label_dropout < 1:
        raise OptionError(f"label_dropout must be in [0, 1), not {label_dropout}.")


def _checkpoint(folder, fingerprint, step, parts, gen, seconds):
    """Save model, optimiser and EMA states (``parts``), the generator and the time."""
    state = dict(fingerprint=fingerprint, step=step, parts=[p.state_dict() for p in parts],
                 gen=gen.get_state(), seconds=seconds)
    path = os.path.join(folder, CHECKPOINT)
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)


def _resume(folder, fingerprint, parts, gen):
    """``(step, seconds)`` of this fingerprint's checkpoint, loaded into ``parts``; else (0, 0)."""
    path = os.path.join(folder, CHECKPOINT)
    state = torch.load(path, map_location="cpu", weights_only=False) if os.path.isfile(path) else {}
    if state.get("fingerprint") != fingerprint:
        shutil.rmtree(folder, ignore_errors=True)  # none, or a stale one of other data/options
        return 0, 0.0
    for part, s in zip(parts, state["parts"]):
        part.load_state_dict(s)
    gen.set_state(state["gen"])
    return state["step"], state["seconds"]


def _publish(prior, out):
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    prior.save_pretrained(tmp)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)


def _image_size(train, table, image_size, multiple):
    from ..data.access import read_image

    if image_size is None:
        sid = table.ids()[0]
        side = read_image(train.select(sid).first().filepath, None, 3, sample_id=sid).shape[-1]
        return max(multiple, -(-side // multiple) * multiple)
    if image_size < multiple or image_size % multiple:
        raise OptionError(f"image_size must be a multiple of {multiple} (the VAE's downsampling "
                          f"times the DiT's patch size); got {image_size}.")
    return int(image_size)
