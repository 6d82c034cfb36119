"""Doping: mix selected real samples into a synthesis run's images, as a FiftyOne run.

Per class, a selector (:mod:`fiftyone_dsco.selection.selectors`) picks ``budget`` real
train samples so that synthetic ∪ selected matches the class's real features
best. Selected samples get the tag ``dsco:<run_key>``; the saved view
``dsco-<run-key>`` is the concentrated set (synthetic ∪ selected).

Joint selection (``synthetic_per_class``): the synthesis run's images are
candidates; per class the reference classifier judges them, the recognised
ones are preferred, ``synthetic_per_class`` of them are picked by greedy MMD
(:func:`~fiftyone_dsco.selection.selectors.select_synthetic`) and tagged too,
and the real samples are selected given those. With ``joint_pool="union"`` the
pool is the class's real samples and its candidates together: greedy MMD picks
the whole per-class set from it (real samples and recognised candidates first),
so a candidate enters only where it lowers the MMD more than every real sample
left. The saved view then holds the tagged samples only: candidates left out
stay samples of the synthesis run.

Like synthesis, doping works class by class, resumes, and can be split into
shards (``shard=(K, N)``, ``--shard K/N``: the classes at positions
``k % N == K`` of the run's class list) that run concurrently; each shard
reads, selects and tags only its own classes, and the shard that finds every
class done writes the saved view and the run's results (see
:mod:`fiftyone_dsco.runs.driver`).
"""

import contextlib
import os
import time

import numpy as np
import torch

from ..data.access import class_table, image_array, to_unit_range, train_view
from ..devices import device as pick_device
from ..errors import OptionError, RunError, TooFewSamplesError
from ..features.extractors import build_extractor, features_of_images, real_features
from ..features.reference import recognised_mask
from ..mmd import report_mmd2
from ..names import (DEFAULT_EXTRACTOR, DEFAULT_JOINT_POOL, DEFAULT_SELECTOR, DOPING,
                     JOINT_POOLS, SYNTHESIS, UNION_SELECTOR, default_prefer_recognised,
                     default_selector, doping_run_key, run_tag)
from ..runs import check_run, load_results, run_config, state as run_state, synthetic_samples
from ..runs.driver import ClassJob, run_by_class
from ..synthesis.samples import class_samples
from .selectors import (SELECTORS, faiss_threads, get_selector, select_synthetic,
                        select_union)


def dope(view, label_field, synthetic_run, budget, selector=None, run_key=None,
         extractor=DEFAULT_EXTRACTOR, extractor_options=None, clamp=False, classes=None, shard=None,
         seed=0, overwrite=False, device=None, prior=None, selector_options=None, threads=None,
         synthetic_per_class=None, joint_pool=DEFAULT_JOINT_POOL, prefer_recognised=None,
         progress=None):
    """Select ``budget`` real train samples per class to mix into ``synthetic_run``.

    Args:
        view: dataset or view; its real ``train`` samples are the candidates
        label_field: the ``Classification`` field
        synthetic_run: run key of a finished :func:`~fiftyone_dsco.synthesize` run,
            or None for a real-only selection (then ``prior`` is required)
        budget: real samples per class (int >= 0)
        selector: ``"mmd-greedy"``, ``"kcenter"``, ``"herding"``, ``"prototypes"``,
            ``"random"``; None: the mode's (``names.default_selector``; ``"mmd-greedy"``
            doping a synthesis run and for a real-only selection today)
        run_key: default ``<synthetic_run>_dope<budget>_<selector>``
        extractor: feature extractor used for selection (on real data)
        extractor_options: options of the extractor (e.g. a timm checkpoint)
        clamp: cap the budget at each class's size instead of raising
        classes: dope only these classes (the run's class list stays whole)
        shard: ``(K, N)`` or ``"K/N"``: only the classes at positions ``k % N == K``
            of the run's class list; shards may run concurrently, the run is
            complete when every class is done. Not with ``overwrite``
        prior: with ``synthetic_run=None``, the prior whose image size and
            features the selection uses (name, folder or loaded prior)
        selector_options: options of the selector class, e.g. ``{"k": 64,
            "backend": "faiss"}`` for mmd-greedy (:mod:`fiftyone_dsco.selection.selectors`)
        threads: FAISS threads for the selection (None: FAISS's default, all cores)
        synthetic_per_class: joint selection: keep this many of the synthetic
            run's images per class (recognised by the reference classifier
            first, then greedy MMD) instead of all of them (None)
        joint_pool: with ``synthetic_per_class``: ``"synthetic"`` keeps exactly
            that many candidates, then selects ``budget`` real samples given
            them; ``"union"`` picks ``synthetic_per_class + budget`` per class
            from real samples ∪ candidates by greedy MMD (``selector`` must be
            ``"mmd-greedy"``; dense, O(n^2) in the class's size), so the
            objective decides how many candidates enter
        prefer_recognised: pick a class's real samples among those the reference
            classifier labels with their own class first (the others only
            once these run out); the selector still matches the whole class.
            None: the mode's (``names.default_prefer_recognised``; off in both today)
        seed, overwrite, device, progress: as elsewhere

    Returns:
        the run's results dict (per-class counts and MMD before/after)
    """
    from ..priors import load_prior

    shard = run_state.check_shard(shard)
    if shard is not None and overwrite:
        raise OptionError("overwrite cannot be combined with a shard: another shard may be running. "
                          "Delete the run first ('dsco runs delete'), then start the shards.")
    run_key, config, prior_path, table, sel, real_per_class = plan_doping(
        view, label_field, synthetic_run, budget, selector, run_key, extractor, extractor_options,
        clamp, seed, overwrite, prior, selector_options, threads, synthetic_per_class, joint_pool,
        prefer_recognised=prefer_recognised)
    if classes is not None:
        unknown = sorted(set(classes) - set(table.classes))
        if unknown:
            raise OptionError(f"classes {unknown} are not in the run's classes {table.classes}.")
    dev = pick_device(device)
    # real-only: the prior gives the image size, channels and (prior-latent) features; its
    # classes are not used, so a prior of other labels (an ImageNet DiT) needs no class map
    prior = load_prior(prior_path, device=dev)
    train = train_view(view)
    todo = [k for k, c in enumerate(table.classes)
            if (classes is None or c in set(classes)) and run_state.in_shard(k, shard)]
    job = _DopingJob(train, run_key, table, sel, real_per_class, prior, config, dev, threads)
    return run_by_class(train, run_key, config, job, todo, shard=shard, overwrite=overwrite,
                        progress=progress,
                        description=f"DsCo concentrated set: {synthetic_run or 'no synthetic run'} "
                                    f"+ {budget} real/class ({config['selector']})")


def plan_doping(view, label_field, synthetic_run, budget, selector=None, run_key=None,
                extractor=DEFAULT_EXTRACTOR, extractor_options=None, clamp=False, seed=0,
                overwrite=False, prior=None, selector_options=None, threads=None,
                synthetic_per_class=None, joint_pool=DEFAULT_JOINT_POOL, planned_ipc=None,
                prefer_recognised=None):
    """Check :func:`dope`'s options and run key (with ``runs.check_run``); writes nothing.

    ``planned_ipc``: the images per class of ``synthetic_run`` when that run is
    still to be made (``concentrate`` checks its doping step before synthesis).
    ``selector`` and ``prefer_recognised`` None are the mode's defaults (real-only
    when ``synthetic_run`` is None); the config records what was used.

    Returns ``(run_key, config, prior folder, class table, selector, real per class)``.
    """
    real_only, named = synthetic_run is None, selector is not None
    selector = selector if named else default_selector(real_only)
    if prefer_recognised is None:
        prefer_recognised = default_prefer_recognised(real_only)
    syn_cfg = (dict(ipc=planned_ipc, classes=None, prior=None) if planned_ipc is not None
               else _synthesis_config(view._dataset, synthetic_run, prior))
    selector_options = dict(selector_options or {})
    try:
        sel = selector_for(selector, seed, selector_options, threads)
    except OptionError as e:
        if named or not selector_options:
            raise
        raise OptionError(f"{e} It is the default selector of "
                          f"{'a real-only selection' if real_only else 'doping a synthesis run'}; "
                          f"name the selector these options are for (selector=..., "
                          f"--selector).") from None
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 0:
        raise OptionError(f"budget (real samples per class) must be an integer >= 0, not {budget!r}.")
    if synthetic_run is None and budget == 0:
        raise OptionError("A real-only selection (no synthetic run) needs a budget >= 1.")
    _check_synthetic_per_class(synthetic_per_class, syn_cfg)
    check_joint_pool(joint_pool, selector, synthetic_per_class)
    if not isinstance(prefer_recognised, (bool, np.bool_)):
        raise OptionError(f"prefer_recognised must be True or False; got {prefer_recognised!r}.")
    table = class_table(train_view(view), label_field, classes=syn_cfg["classes"], min_per_class=1)
    real_per_class = _real_per_class(table, int(budget), clamp)
    run_key = run_key or doping_run_key(synthetic_run, budget, selector)
    config = dict(label_field=label_field, synthetic_run=synthetic_run, budget=int(budget),
                  selector=selector, extractor=extractor,
                  extractor_options=extractor_options or {}, clamp=bool(clamp), seed=int(seed),
                  classes=table.classes,
                  **({"prior": syn_cfg["prior"]} if synthetic_run is None else {}),
                  **({"selector_options": selector_options} if selector_options else {}),
                  **({"synthetic_per_class": int(synthetic_per_class)}
                     if synthetic_per_class is not None else {}),
                  **({"joint_pool": joint_pool} if joint_pool != DEFAULT_JOINT_POOL else {}),
                  **({"prefer_recognised": True} if prefer_recognised else {}))
    check_run(view, run_key, DOPING, config, overwrite=overwrite)
    return run_key, config, syn_cfg["prior"], table, sel, real_per_class


class _DopingJob(ClassJob):
    """Select and tag one class's real samples (see :mod:`fiftyone_dsco.runs.driver`)."""

    kind = DOPING

    def __init__(self, train, run_key, table, selector, real_per_class, prior, config, device,
                 threads):
        self.train, self.run_key, self.table, self.selector = train, run_key, table, selector
        self.real_per_class, self.prior, self.config = real_per_class, prior, config
        self.device = device
        self.threads, self.feat, self.real, self.feature_seconds = threads, None, {}, {}
        self.judge = None  # the reference classifier: joint selection, prefer_recognised
        self.recognised = {}  # class -> mask of its real samples the judge recognises

    def prepare(self, todo):
        if not todo:
            return
        c, size, ch = self.config, self.prior.card.image_size, self.prior.card.channels
        self.feat = build_extractor(c["extractor"], self.prior, view=self.train, table=self.table,
                                    options=c["extractor_options"], seed=c["seed"]).to(self.device)
        if c.get("synthetic_per_class") or c.get("prefer_recognised"):
            self.judge = (self.feat if c["extractor"] == "reference" else build_extractor(
                "reference", self.prior, view=self.train, table=self.table,
                seed=c["seed"]).to(self.device))
        for k in todo:  # per class: a shard reads only its own classes (unreadable: fails here)
            t0 = time.perf_counter()
            ids = self.table.ids_by_class[self.table.classes[k]]
            self.real[k] = np.asarray(real_features(self.train, ids, self.feat, size, ch,
                                                    self.device))
            if c.get("prefer_recognised"):
                judged = self.real[k] if self.judge is self.feat else np.asarray(
                    real_features(self.train, ids, self.judge, size, ch, self.device))
                self.recognised[k] = recognised_mask(self.judge.module, judged, k, self.device)
            self.feature_seconds[k] = time.perf_counter() - t0

    def run_class(self, k):
        dataset, c, tag = self.train._dataset, self.table.classes[k], run_tag(self.run_key)
        target, record = self.real[k], {}
        ids, images = _synthetic_images(dataset, self.config["synthetic_run"], k,
                                        self.prior.card.image_size, self.prior.card.channels)
        synth = (features_of_images(self.feat, images, self.device) if ids
                 else np.zeros((0, 0), np.float32))
        kept, picks = [], None  # synthetic samples this run tags (joint selection), real picks
        t0 = time.perf_counter()
        if self.config.get("synthetic_per_class") and ids:
            kept, synth, picks, record = self._joint(k, ids, images, synth, target)
        if picks is None:
            with faiss_threads(self.threads) if self.threads else contextlib.nullcontext():
                picks = self.selector.select(target, self.real_per_class[c],
                                             synth if len(synth) else None,
                                             self.recognised.get(k))
        if k in self.recognised:
            record.update(recognised_real=int(self.recognised[k].sum()),
                          picked_recognised=int(self.recognised[k][picks].sum()))
        seconds = time.perf_counter() - t0
        chosen = [self.table.ids_by_class[c][i] for i in picks]
        # this class's samples only: what an interrupted attempt tagged is replaced
        dataset.select(self.table.ids_by_class[c] + ids).match_tags(tag).untag_samples(tag)
        dataset.select(chosen + kept).tag_samples(tag)
        after = np.concatenate([synth, target[picks]]) if len(synth) else target[picks]
        return dict(record, count=len(chosen), synthetic=len(synth), seconds=round(seconds, 4),
                    feature_seconds=round(self.feature_seconds[k], 4),
                    mmd_before=_mmd(synth, target), mmd_after=_mmd(after, target), done=True)

    def _joint(self, k, ids, images, synth, target):
        """Joint selection of class ``k``: ``(kept ids, their features, real picks, record)``.

        Real picks are None in the ``synthetic`` pool (the selector picks them
        next, given the kept candidates).
        """
        with torch.no_grad():
            x = to_unit_range(images)
            pred = torch.cat([self.judge.module(x[i:i + 256].to(self.device)).argmax(1).cpu()
                              for i in range(0, len(x), 256)]).numpy()
        recognised, c = pred == k, self.config
        if c.get("joint_pool", DEFAULT_JOINT_POOL) == "union":
            n = c["synthetic_per_class"] + self.real_per_class[self.table.classes[k]]
            keep, picks = select_union(target, synth, n, recognised, c["seed"],
                                       self.recognised.get(k))
            keep = np.sort(keep)
        else:
            keep = np.sort(select_synthetic(target, synth, c["synthetic_per_class"], recognised,
                                            c["seed"]))
            picks = None
        record = dict(candidates=len(ids), recognised=int(recognised.sum()),
                      kept_recognised=int(recognised[keep].sum()))
        return [ids[i] for i in keep], synth[keep], picks, record

    def totals(self, per_class, view):
        out = dict(num_selected=int(sum(r.get("count", 0) for r in per_class.values())),
                   size=len(view))
        for what in ("seconds", "feature_seconds"):  # selection, and reading + featurising
            out["total_" + what] = round(sum(r.get(what, 0) for r in per_class.values()), 3)
        return out


def selector_for(selector, seed=0, selector_options=None, threads=None):
    """The selector ``dope()`` would use; bad names, options or thread counts raise here."""
    if selector not in SELECTORS:
        raise OptionError(f"Unknown selector {selector!r}; choose one of {list(SELECTORS)}.")
    if threads is not None and (isinstance(threads, bool) or int(threads) < 1):
        raise OptionError(f"threads must be an integer >= 1 or None, not {threads!r}.")
    return get_selector(selector, seed=seed, **(selector_options or {}))


def concentrated_view(dataset, run_key):
    """The concentrated set (synthetic ∪ selected real) of a doping run."""
    return dataset.load_saved_view(load_results(dataset, run_key)["saved_view"])


def _synthesis_config(dataset, synthetic_run, prior=None):
    if synthetic_run is None:  # real-only selection: classes and image size from the prior
        if prior is None:
            raise OptionError("Doping without a synthetic run needs prior= (its image size and "
                              "classes define the selection's features).")
        from ..priors import resolve_prior

        path = prior if isinstance(prior, str) else getattr(prior, "path", None)
        if path is None:
            raise OptionError("prior= must be a saved prior (a name or folder, or a prior "
                              "returned by load_prior/fit_prior).")
        return dict(prior=os.path.abspath(resolve_prior(path)), classes=None)
    if prior is not None:
        raise OptionError("prior= is only for doping without a synthetic run; a synthesis run "
                          "already names its prior.")
    if not dataset.has_run(synthetic_run):
        raise RunError(f"No synthesis run '{synthetic_run}' on '{dataset.name}'. "
                       f"Run synthesize() first, or list runs with 'dsco runs list'.")
    cfg = run_config(dataset, synthetic_run)
    if cfg.get("dsco_kind") != SYNTHESIS:
        raise RunError(f"Run '{synthetic_run}' is not a DsCo synthesis run.")
    results = load_results(dataset, synthetic_run)
    if not results.get("complete"):
        raise RunError(f"Synthesis run '{synthetic_run}' is not complete; re-run synthesize() "
                       f"with the same options to finish it.")
    found = len(synthetic_samples(dataset, synthetic_run))
    if found != results.get("num_samples", found):
        raise RunError(f"Synthesis run '{synthetic_run}' recorded {results['num_samples']} samples "
                       f"but the dataset holds {found} of them; run 'dsco runs upgrade "
                       f"{dataset.name}' if it was renamed by an older version, or re-run it "
                       f"with overwrite=True (--overwrite).")
    return cfg


def _real_per_class(table, budget, clamp):
    small = {c: n for c, n in table.counts.items() if n < budget}
    if small and not clamp:
        raise TooFewSamplesError(
            f"budget {budget} real samples per class exceeds these classes' sizes: {small}. "
            f"Lower the budget, or pass clamp=True (--clamp) to take whole classes.")
    return {c: min(budget, n) for c, n in table.counts.items()}


def _synthetic_images(dataset, synthetic_run, k, size, ch):
    """Ids and uint8 images of class ``k``'s samples of ``synthetic_run`` (none without one)."""
    ids = class_samples(dataset, synthetic_run, k).values("id") if synthetic_run else []
    return ids, image_array(dataset, ids, size, ch, cache=False) if ids else None


def check_joint_pool(joint_pool, selector=DEFAULT_SELECTOR, synthetic_per_class=1):
    """Refuse an unknown pool, and a ``union`` pool without joint selection or with another
    selector than greedy MMD (the union is picked by greedy MMD)."""
    if joint_pool not in JOINT_POOLS:
        raise OptionError(f"Unknown joint_pool {joint_pool!r}; choose one of {list(JOINT_POOLS)}.")
    if joint_pool == "union" and synthetic_per_class is None:
        raise OptionError("joint_pool='union' is joint selection: it needs synthetic_per_class "
                          "(concentrate sets it from the budget).")
    if joint_pool == "union" and selector != UNION_SELECTOR:
        raise OptionError(f"joint_pool='union' picks real samples and candidates together by "
                          f"greedy MMD; use selector={UNION_SELECTOR!r} (not {selector!r}), or "
                          f"joint_pool='synthetic' to keep {selector!r} for the real samples.")


def _check_synthetic_per_class(n, syn_cfg):
    if n is None:
        return
    if syn_cfg.get("ipc") is None:
        raise OptionError("synthetic_per_class (joint selection) needs a synthetic run.")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= syn_cfg["ipc"]:
        raise OptionError(f"synthetic_per_class must be an integer in [1, {syn_cfg['ipc']}] (the "
                          f"synthesis run's images per class), not {n!r}.")


def _mmd(a, target):
    return report_mmd2(a, target) if len(a) else None
