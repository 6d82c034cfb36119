"""Synthesis: plain sampling or NOpt, data-accessible or data-free, as a FiftyOne run.

Work goes class by class. Each finished class is recorded in the run's
results; a re-run with the same options resumes with the missing classes and
gives the same samples as an uninterrupted run (per-class seeds).

Sharding: ``shard=(K, N)`` (``--shard K/N``) works on the classes at positions
``k % N == K`` of the run's stored class list (see :mod:`fiftyone_dsco.runs.state`).
Shards of one run can run at once in different processes or machines; each
class's samples, files and record are its own, and the shard that finds every
class done merges the run (FiftyOne run results with ``complete``, the saved
view). Class ``k`` gets the same seed and target features whatever the shard,
so N shards give the samples of one unsharded run (up to float rounding where their
class batches differ). The run lifecycle
(resume, one writer per class, merge) is :mod:`fiftyone_dsco.runs.driver`'s.

Class batches: ``class_batch`` classes share each denoiser call (their states
concatenated; NOpt sums their losses, see :class:`~fiftyone_dsco.synthesis.nopt.NOptBatch`;
``"auto"`` is :mod:`~fiftyone_dsco.synthesis.batching`'s rule). Each class keeps its
seed, noise, target rows and lever draws, so its images are those of one-class
sampling up to float rounding. The classes of a batch are recorded together when it
is done; a batch cut off midway is redone on resume. Data-free pools are sampled one
class per call (each is ``pool_size`` >= 100 images already).
"""

import os
import time

import numpy as np
import torch

from ..data.access import class_table, image_array, to_uint8, to_unit_range, train_view
from ..devices import device as pick_device
from ..errors import OptionError
from ..features.extractors import build_extractor, features_of_images, real_features
from ..features.reference import recognised_mask
from ..mmd import report_mmd2
from ..names import (DEFAULT_CLASS_BATCH, DEFAULT_EXTRACTOR, DEFAULT_INIT, DEFAULT_INIT_NOISING,
                     DEFAULT_INIT_PREFER_RECOGNISED, DEFAULT_INIT_SELECTOR, DEFAULT_KERNEL,
                     DEFAULT_METHOD, DEFAULT_STEP_FRACTION, DEFAULT_STRENGTH, DSA_OPERATIONS,
                     EXTRACTORS, INIT_NOISINGS, INITS, KERNELS, LATENT_EXTRACTORS, METHODS,
                     SELECTORS, SYNTHESIS, default_guidance,
                     default_match_histograms, default_random_nets, synthesis_run_key)
from ..priors.sampler import denoise, initial_noise, inverted, noised, start_step
from ..selection.selectors import get_selector
from ..runs import state as run_state
from ..runs.driver import ClassJob, run_by_class
from .batching import class_peak, classes_per_call
from . import histograms
from .nopt import NOptBatch, NOptHook, NOptOptions
from .samples import write_class

#: Bytes of working memory per image element during sampling (latents, NOpt graph, decode).
_BYTES_PER_ELEMENT = 64


def synthesize(view, label_field, prior, ipc, method=DEFAULT_METHOD, run_key=None,
               data_free=False, steps=25, guidance=None, iterations=1, lr=0.03,
               kernel=DEFAULT_KERNEL, target_batch=500, norm_weight=0.1,
               step_fraction=DEFAULT_STEP_FRACTION, reuse_prediction=True, diversity=0.0,
               augment=None, random_nets=None,
               extractor=DEFAULT_EXTRACTOR, extractor_options=None, pool_size=None,
               class_map=None, classes=None, shard=None,
               init=DEFAULT_INIT, strength=DEFAULT_STRENGTH, init_selector=DEFAULT_INIT_SELECTOR,
               init_noising=DEFAULT_INIT_NOISING,
               init_prefer_recognised=DEFAULT_INIT_PREFER_RECOGNISED, match_histograms=None,
               seed=0,
               overwrite=False, device=None,
               class_batch=DEFAULT_CLASS_BATCH, autocast=True, progress=None):
    """Synthesise ``ipc`` images per class into the dataset and record the run.

    Args:
        view: dataset or view whose real ``train`` samples define the classes
            and (unless ``data_free``) the target distribution
        label_field: the ``Classification`` field
        prior: a :class:`~fiftyone_dsco.priors.DiffusionPrior`, a folder or a
            prior name under DsCo's priors dir
        ipc: images per class (>= 1)
        method: ``"nopt"`` or ``"plain"`` (NOpt with 0 iterations)
        run_key: FiftyOne run key (default ``<method>[_df]_ipc<ipc>``)
        data_free: use a pool of the prior's plain samples as target; no real
            image is read
        steps, guidance: DDIM steps and classifier-free guidance scale (None:
            ``names.default_guidance(data_free)``: 2, or 1 for data-free NOpt)
        iterations, lr, kernel, target_batch, norm_weight, step_fraction,
            reuse_prediction: NOpt options (see :class:`~fiftyone_dsco.synthesis.nopt.NOptOptions`)
        diversity, augment, random_nets: NOpt's objective levers
            (:mod:`fiftyone_dsco.synthesis.nopt`), off by default but ``random_nets``
            (None: ``names.default_random_nets``: 2 for data-free NOpt, else 0); ``augment``
            and ``random_nets`` read the target images at every step, so they need an
            image-space extractor
        extractor: feature extractor name (see :mod:`fiftyone_dsco.features`)
        extractor_options: options of the extractor (e.g. timm checkpoint)
        pool_size: data-free pool per class (default ``max(10 * ipc, 100)``)
        class_map: dataset class -> model class name/index (a dict, or a JSON file); a
            pretrained DiT maps the other names through its ImageNet labels
            (:mod:`fiftyone_dsco.priors.imagenet`)
        classes: synthesise only these classes (the run's class list stays whole)
        shard: ``(K, N)`` or ``"K/N"``: synthesise only the classes at positions
            ``k % N == K`` of the run's class list (with ``classes``: their
            intersection). Shards of one run may run concurrently; the run is
            complete, and merged, when every class is done. Not with ``overwrite``
        init: ``"noise"`` (start every image from noise) or ``"real"`` (start
            from ``ipc`` real train images per class picked by ``init_selector``
            on the target features, brought to the noise level of ``strength``
            by ``init_noising``: 1 starts from almost pure noise, 0 returns the
            picks). Not data-free.
            Real starts were level with noise on three validation cells and 1.4 points
            behind on a fourth (docs/method.md), so the default stays noise
        init_noising: how real starts reach ``strength``: ``"forward"`` (SDEdit
            forward noising with the class seed's noise) or ``"ddim-inversion"``
            (deterministic DDIM inversion with the prior, guidance 1)
        init_prefer_recognised: pick the real starts among the class's samples that the
            reference classifier recognises (labels with their own class) first, as
            ``dope(prefer_recognised=True)`` picks a real-only set
        match_histograms: map each class's written pixels onto the distribution of its
            real train images' (up to ``histograms.REFERENCE_IMAGES`` of them, seeded;
            :mod:`fiftyone_dsco.synthesis.histograms`): removes the faint background haze
            NOpt leaves, which ResNet-18 learns. None: ``names.default_match_histograms``
            (on, except data-free, which reads no real image). The run's MMD records are of
            the images before matching
        seed: base seed; class ``k`` uses ``seed * 100003 + k``
        overwrite: replace an existing run with other options
        device: torch device (default: CUDA if available)
        class_batch: classes per denoiser call, or ``"auto"`` (by device; see the module
            docstring). Each class's images are those of one-class sampling
        autocast: on CUDA, run the prior's model calls under bf16 (else fp16) autocast;
            NOpt's loss and update stay float32. Never on a CPU
        progress: FiftyOne ``progress`` value

    Returns:
        the run's results dict (per-class MMD, counts and times)
    """
    from ..priors import DiffusionPrior, load_prior

    guidance = default_guidance(data_free) if guidance is None else guidance
    if random_nets is None:
        random_nets = default_random_nets(data_free and method == "nopt", extractor)
    if match_histograms is None:
        match_histograms = default_match_histograms(data_free)
    _check_options(ipc, method, steps, guidance, iterations, lr, kernel, target_batch,
                   extractor, step_fraction)
    _check_levers(diversity, augment, random_nets, extractor)
    _check_init(init, strength, init_selector, init_noising, data_free)
    if not isinstance(init_prefer_recognised, (bool, np.bool_)):
        raise OptionError(f"init_prefer_recognised must be True or False, not "
                          f"{init_prefer_recognised!r}.")
    if not isinstance(match_histograms, bool):
        raise OptionError(f"match_histograms must be True, False or None, not {match_histograms!r}.")
    if match_histograms and data_free:
        raise OptionError("match_histograms maps the synthetic pixels onto real images', which a "
                          "data-free run never reads; leave it off (None or False) with "
                          "data_free=True.")
    class_batch = _check_batching(class_batch, autocast)
    shard = run_state.check_shard(shard)
    if shard is not None and overwrite:
        raise OptionError("overwrite cannot be combined with a shard: another shard may be running. "
                          "Delete the run first ('dsco runs delete'), then start the shards.")
    dev = pick_device(device)
    if not isinstance(prior, DiffusionPrior):
        prior = load_prior(prior, device=dev)
    prior.to(dev)
    pool_size = int(pool_size or max(10 * ipc, 100))
    _check_fits(prior, ipc, pool_size if data_free else 0, dev)
    train = train_view(view)
    table = class_table(train, label_field, min_per_class=1)
    model_idx = prior.class_indices(table.classes, class_map)
    if init == "real" and min(table.counts.values()) < ipc:
        small = {c: n for c, n in table.counts.items() if n < ipc}
        raise OptionError(f"init='real' starts from {ipc} real images per class, but these classes "
                          f"have fewer: {small}. Lower ipc or use init='noise'.")
    todo = [table.index(c) for c in _selected_classes(table, classes)
            if run_state.in_shard(table.index(c), shard)]
    run_key = run_key or synthesis_run_key(method, ipc, data_free)
    nopt = NOptOptions(iterations if method == "nopt" else 0, lr, kernel, target_batch,
                       norm_weight, step_fraction, bool(reuse_prediction), float(diversity),
                       augment or None, int(random_nets))
    config = dict(label_field=label_field, classes=table.classes, model_classes=model_idx,
                  prior=prior.path, ipc=int(ipc), method=method, data_free=bool(data_free),
                  steps=int(steps), guidance=float(guidance), extractor=extractor,
                  extractor_options=extractor_options or {}, seed=int(seed),
                  pool_size=pool_size if data_free else None, nopt=nopt.record())
    if init != "noise":  # recorded only when used: runs made before the option still resume
        config.update(init=init, strength=float(strength), init_selector=init_selector)
        if init_noising != DEFAULT_INIT_NOISING:  # likewise real starts made before it
            config["init_noising"] = init_noising
        if init_prefer_recognised:  # likewise
            config["init_prefer_recognised"] = True
    if match_histograms:  # recorded only when on: runs made before the option still resume
        config["match_histograms"] = True
    if class_batch != DEFAULT_CLASS_BATCH:  # recorded, never compared (runs._BOOKKEEPING)
        config["class_batch"] = class_batch
    if not autocast:
        config["autocast"] = False
    job = _SynthesisJob(train, run_key, label_field, prior, table, model_idx, config, nopt, dev,
                        extractor_options, progress)
    description = f"DsCo {method}{' data-free' if data_free else ''} synthesis, IPC {ipc}"
    before, prior.autocast = prior.autocast, bool(autocast)
    try:
        return run_by_class(train, run_key, config, job, todo, shard=shard, overwrite=overwrite,
                            progress=progress, description=description)
    finally:
        prior.autocast = before


class _SynthesisJob(ClassJob):
    """Synthesise one class's images into the dataset (see :mod:`fiftyone_dsco.runs.driver`)."""

    kind = SYNTHESIS

    def __init__(self, train, run_key, label_field, prior, table, model_idx, config, nopt, device,
                 extractor_options, progress):
        self.train, self.run_key, self.label_field = train, run_key, label_field
        self.prior, self.table, self.model_idx, self.config = prior, table, model_idx, config
        self.nopt, self.device, self.progress = nopt, device, progress
        self.extractor_options, self.target, self.starts = extractor_options, None, {}
        self.references = {}  # class -> uint8 real images whose histogram the class matches
        self.peaks = []  # CUDA: measured peak memory of one class, per call

    def prepare(self, todo):
        # read the target data (unreadable images fail here) before the run is registered;
        # only the classes this call will synthesise are read
        c = self.config
        self.target = _Targets(self.prior, self.train, self.table, c["data_free"], c["extractor"],
                               self.extractor_options, c["pool_size"], self.model_idx, c["steps"],
                               c["guidance"], c["seed"], self.device, self.progress, todo,
                               images=self.nopt.iterations > 0 and self.nopt.needs_images)
        if c.get("init") == "real":
            judge = self._judge() if c.get("init_prefer_recognised") else None
            for k in todo:
                bank = self.target.bank(k)
                preferred = None if judge is None else self._recognised(judge, k, bank)
                self.starts[k] = _real_starts(self.prior, self.train, self.table, k, bank, c,
                                              preferred)
        if c.get("match_histograms"):
            for k in todo:
                self.references[k] = _histogram_reference(self.prior, self.train, self.table, k,
                                                          c["seed"])

    def _judge(self):
        """The reference classifier that judges real starts (the target's extractor if it is
        that classifier)."""
        c = self.config
        if c["extractor"] == "reference":
            return self.target.extractor
        return build_extractor("reference", self.prior, view=self.train, table=self.table,
                               seed=c["seed"], progress=self.progress).to(self.device)

    def _recognised(self, judge, k, bank):
        """Mask of class ``k``'s train samples that ``judge`` labels ``k``."""
        if judge is not self.target.extractor:
            ids = self.table.ids_by_class[self.table.classes[k]]
            bank = real_features(self.train, ids, judge, self.prior.card.image_size,
                                 self.prior.card.channels, self.device)
        return recognised_mask(judge.module, np.asarray(bank), k, self.device)

    def batch_size(self):
        return classes_per_call(self.config.get("class_batch", DEFAULT_CLASS_BATCH),
                                self.config["ipc"], self.device, max(self.peaks, default=None))

    def run_class(self, k):
        return self.run_classes([k])[0]

    def run_classes(self, ks):
        with class_peak(self.device, len(ks), self.peaks):  # sizes the next "auto" batch
            return _synthesize_classes(self, ks)

    def totals(self, per_class, view):
        return dict(num_samples=int(sum(v.get("count", 0) for v in per_class.values())))


def _real_starts(prior, train, table, k, bank, config, preferred=None):
    """``(sample ids, clean states)`` of the real images that class ``k``'s samples start from.

    ``init_selector`` picks ``ipc`` of the class's train images on the target
    features (the same bank NOpt matches), the ``preferred`` ones (a mask: those
    recognised) first, so no test image is ever read.
    """
    c = table.classes[k]
    picks = get_selector(config["init_selector"], seed=config["seed"] * 100003 + k).select(
        np.asarray(bank), config["ipc"], preferred=preferred)
    ids = [table.ids_by_class[c][i] for i in picks]
    images = image_array(train._dataset, ids, prior.card.image_size, prior.card.channels,
                         cache=False)
    with torch.no_grad():
        return ids, prior.encode(to_unit_range(images).to(prior.device))


def _histogram_reference(prior, train, table, k, seed):
    """Class ``k``'s real train images (a seeded sample of ``REFERENCE_IMAGES``) at the
    prior's size: the pixel distribution its synthetic images are matched to."""
    ids = table.ids_by_class[table.classes[k]]
    if len(ids) > histograms.REFERENCE_IMAGES:
        rows = np.random.default_rng(seed * 100003 + k).choice(
            len(ids), histograms.REFERENCE_IMAGES, replace=False)
        ids = [ids[i] for i in sorted(rows)]
    return np.asarray(image_array(train._dataset, ids, prior.card.image_size,
                                  prior.card.channels, cache=False))


def _synthesize_classes(job, ks):
    """Synthesise classes ``ks`` together and write each; their records, in order."""
    c, prior, target = job.config, job.prior, job.target
    ipc, steps, guidance = c["ipc"], c["steps"], c["guidance"]
    seeds = [c["seed"] * 100003 + k for k in ks]
    labels = torch.cat([torch.full((ipc,), job.model_idx[k], dtype=torch.long,
                                   device=prior.device) for k in ks])
    noise, first = _starts(job, ks, seeds, labels)
    start = time.perf_counter()
    hooks = None
    if job.nopt.iterations > 0:
        hooks = [NOptHook(prior, target.extractor, target.bank(k), labels[i * ipc:(i + 1) * ipc],
                          guidance, steps, job.nopt, seed, target.images(k))
                 for i, (k, seed) in enumerate(zip(ks, seeds))]
    x0 = denoise(prior, noise, labels, steps, guidance, hooks and NOptBatch(hooks),
                 first_step=first)
    with torch.no_grad():
        images = prior.decode(x0).clamp(-1, 1)
    seconds = (time.perf_counter() - start) / len(ks)
    plain = None
    if hooks and target.bank(ks[0]) is not None:  # the same seeds without optimisation
        plain = denoise(prior, noise, labels, steps, guidance, first_step=first)
    records = []
    for i, (k, seed) in enumerate(zip(ks, seeds)):
        part = slice(i * ipc, (i + 1) * ipc)
        record = _record(job, k, seed, seconds, len(ks), images[part], x0[part],
                         None if plain is None else plain[part], hooks and hooks[i])
        pixels = np.asarray(to_uint8(images[part]))
        if k in job.references:
            pixels = histograms.match_histograms(pixels, job.references[k])
        write_class(job.train._dataset, job.run_key, job.label_field, c["classes"][k], k,
                    pixels, c["method"], seed)
        records.append(dict(record, done=True))
    return records


def _starts(job, ks, seeds, labels):
    """``(states, first sampler step)`` of classes ``ks``: their seeds' noise, or their real
    picks brought to ``strength`` (see :func:`synthesize`)."""
    c, prior = job.config, job.prior
    noise = torch.cat([initial_noise(prior, c["ipc"], seed) for seed in seeds])
    if c.get("init") != "real":
        return noise, 0
    first = start_step(c["strength"], c["steps"])
    real = torch.cat([job.starts[k][1] for k in ks])
    if c.get("init_noising", DEFAULT_INIT_NOISING) == "ddim-inversion":
        return inverted(prior, real, labels, c["steps"], first), first
    return noised(prior, real, noise, c["steps"], first), first  # SDEdit


def _record(job, k, seed, seconds, batch, images, x0, plain_x0, hook):
    """Class ``k``'s record: count, seed, time share, MMD (and NOpt's against plain)."""
    record = dict(count=len(images), seed=seed, seconds=round(seconds, 3))
    if batch > 1:
        record["batch_classes"] = batch
    if k in job.starts:
        record["init_ids"] = list(job.starts[k][0])
    bank, target = job.target.bank(k), job.target
    if bank is not None:
        record["mmd"] = target.mmd(images, x0, bank)
        if plain_x0 is not None:
            with torch.no_grad():
                plain = job.prior.decode(plain_x0).clamp(-1, 1)
            record["mmd_plain"] = target.mmd(plain, plain_x0, bank)
            record["nopt_loss_first_last"] = [hook.losses[0], hook.losses[-1]] if hook.losses \
                else []
    return record


def _check_fits(prior, ipc, pool_size, device):
    """Refuse an IPC (or data-free pool) whose one-class batch cannot fit in memory."""
    per_image = prior.card.channels * prior.card.image_size ** 2 * _BYTES_PER_ELEMENT
    batch = max(ipc, pool_size)
    if device.type == "cuda":
        available = torch.cuda.get_device_properties(device).total_memory
    else:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if batch * per_image > available:
        most = max(1, available // per_image)
        what = "ipc" if ipc >= pool_size else "pool_size"
        raise OptionError(
            f"{what}={batch} does not fit: one class's batch needs about "
            f"{batch * per_image / 2**30:.3g} GiB at {prior.card.image_size}px, and this "
            f"{'GPU' if device.type == 'cuda' else 'machine'} has {available / 2**30:.3g} GiB. "
            f"Use at most {most} images per class here, or several runs with different seeds.")


class _Targets:
    """Target feature banks per class: real features, or a pool of prior samples."""

    def __init__(self, prior, train, table, data_free, name, options, pool_size, model_idx,
                 steps, guidance, seed, device, progress, needed=None, images=False):
        """Banks of classes ``needed`` (indices; default all). Class ``k``'s bank is
        the same whichever other classes are needed (features per class). ``images``:
        also keep each class's target images (in [-1, 1], on the CPU) for NOpt's levers."""
        self.prior, self.device = prior, device
        self.extractor, self._banks, self._images = None, {}, {}
        needed = list(range(len(table.classes))) if needed is None else sorted(needed)
        if not needed:  # nothing left to synthesise (a finished run or shard resumed)
            return
        if data_free:
            # the pool-trained reference extractor needs every class's pool; other
            # extractors only the pools of the classes to synthesise
            pool_classes = range(len(table.classes)) if name == "reference" else needed
            pool_images, pool_labels = self._pool(prior, model_idx, pool_size, steps, guidance,
                                                  seed, pool_classes)
            self.extractor = build_extractor(name, prior, table=table, options=options, seed=seed,
                                             pool=(pool_images, pool_labels)).to(device)
            for k in needed:
                rows = pool_labels.numpy() == k
                self._banks[k] = features_of_images(self.extractor, pool_images[rows], device)
                if images:
                    self._images[k] = pool_images[rows]
        else:
            self.extractor = build_extractor(name, prior, view=train, table=table, options=options,
                                             seed=seed, progress=progress).to(device)
            for k in needed:  # per class: a shard reads only its own classes' images
                ids = table.ids_by_class[table.classes[k]]
                size, ch = prior.card.image_size, prior.card.channels
                self._banks[k] = real_features(train, ids, self.extractor, size, ch, device)
                if images:
                    self._images[k] = to_unit_range(image_array(train, ids, size, ch))

    @staticmethod
    def _pool(prior, model_idx, pool_size, steps, guidance, seed, classes):
        images, labels = [], []
        for k in classes:
            m = model_idx[k]
            lab = torch.full((pool_size,), m, dtype=torch.long, device=prior.device)
            noise = initial_noise(prior, pool_size, seed * 100003 + k + 7_000_000)
            with torch.no_grad():
                images.append(prior.decode(denoise(prior, noise, lab, steps, guidance)).clamp(-1, 1).cpu())
            labels.append(torch.full((pool_size,), k, dtype=torch.long))
        return torch.cat(images), torch.cat(labels)

    def bank(self, k):
        return self._banks.get(k)

    def images(self, k):
        return self._images.get(k)

    @torch.no_grad()
    def mmd(self, images, x0, bank):
        return report_mmd2(self.extractor(x0 if self.extractor.space == "latent" else images), bank)


def _check_init(init, strength, init_selector, init_noising, data_free):
    if init not in INITS:
        raise OptionError(f"Unknown init {init!r}; choose one of {list(INITS)}.")
    if init == "real" and data_free:
        raise OptionError("init='real' starts from real images, which a data-free run never "
                          "reads; use init='noise' with data_free=True.")
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) \
            or not 0 <= strength <= 1:
        raise OptionError(f"strength must be a number in [0, 1], not {strength!r}.")
    if init_selector not in SELECTORS:
        raise OptionError(f"Unknown init_selector {init_selector!r}; choose one of "
                          f"{list(SELECTORS)}.")
    if init_noising not in INIT_NOISINGS:
        raise OptionError(f"Unknown init_noising {init_noising!r}; choose one of "
                          f"{list(INIT_NOISINGS)}.")


def _check_levers(diversity, augment, random_nets, extractor):
    if isinstance(diversity, bool) or not isinstance(diversity, (int, float)) or diversity < 0:
        raise OptionError(f"diversity must be a number >= 0, not {diversity!r}.")
    if isinstance(random_nets, bool) or not isinstance(random_nets, (int, np.integer)) \
            or random_nets < 0:
        raise OptionError(f"random_nets must be an integer >= 0, not {random_nets!r}.")
    unknown = sorted(set((augment or "").split("_")) - set(DSA_OPERATIONS) - {""})
    if unknown:
        raise OptionError(f"augment {augment!r} has unknown DSA operations {unknown}; join any "
                          f"of {list(DSA_OPERATIONS)} with '_', e.g. "
                          "'color_crop_cutout_scale_rotate'.")
    if (augment or random_nets) and extractor in LATENT_EXTRACTORS:
        raise OptionError("augment and random_nets work on images; the 'prior-latent' extractor "
                          "sees latents. Use another extractor, or leave them off.")


def _check_batching(class_batch, autocast):
    """``class_batch`` ("auto" or an int >= 1) checked; ``autocast`` must be a bool."""
    if not isinstance(autocast, (bool, np.bool_)):
        raise OptionError(f"autocast must be True or False, not {autocast!r}.")
    if isinstance(class_batch, str) and class_batch == "auto":
        return class_batch
    if isinstance(class_batch, bool) or not isinstance(class_batch, (int, np.integer)) \
            or class_batch < 1:
        raise OptionError(f"class_batch (classes per denoiser call) must be 'auto' or an "
                          f"integer >= 1, not {class_batch!r}.")
    return int(class_batch)


def _selected_classes(table, classes):
    if classes is None:
        return list(table.classes)
    unknown = sorted(set(classes) - set(table.classes))
    if unknown:
        raise OptionError(f"classes {unknown} are not in the view's classes {table.classes}.")
    return [c for c in table.classes if c in set(classes)]


def _check_options(ipc, method, steps, guidance, iterations, lr, kernel, target_batch, extractor,
                   step_fraction):
    if not isinstance(ipc, (int, np.integer)) or ipc < 1:
        raise OptionError(f"ipc (images per class) must be an integer >= 1, not {ipc!r}.")
    if method not in METHODS:
        raise OptionError(f"Unknown method {method!r}; choose one of {list(METHODS)}.")
    if extractor not in EXTRACTORS:
        raise OptionError(f"Unknown feature extractor {extractor!r}; choose one of {list(EXTRACTORS)}.")
    if kernel not in KERNELS:
        raise OptionError(f"Unknown kernel {kernel!r}; choose one of {list(KERNELS)}.")
    if steps < 1 or iterations < 0 or target_batch < 2:
        raise OptionError("steps must be >= 1, iterations >= 0 and target_batch >= 2.")
    if not guidance > 0 or not lr > 0:
        raise OptionError("guidance and lr must be > 0.")
    if not 0 < step_fraction <= 1:
        raise OptionError(f"step_fraction must be in (0, 1], not {step_fraction}.")
