"""Doping: mix selected real samples into a synthesis run's images, as a FiftyOne run.

Per class, a selector (:mod:`fiftyone_dsco.selectors`) picks ``budget`` real
train samples so that synthetic ∪ selected matches the class's real features
best. Selected samples get the tag ``dsco:<run_key>``; the saved view
``dsco-<run-key>`` is the concentrated set (synthetic ∪ selected).

Like synthesis, doping works class by class, resumes, and can be split into
shards (``shard=(K, N)``, ``--shard K/N``: the classes at positions
``k % N == K`` of the run's class list) that run concurrently; each shard
reads, selects and tags only its own classes, and the shard that finds every
class done writes the saved view and the run's results (see
:mod:`fiftyone_dsco.shards`).
"""

import contextlib
import time

import numpy as np

import fiftyone.core.utils as fou
from fiftyone import ViewField as F

from .config import DSCO_FIELD, device as pick_device
from .data import class_table, image_array, train_view
from .errors import OptionError, RunError, TooFewSamplesError
from .features import build_extractor, features_of_images, real_features
from . import shards as _shards
from .runs import (DOPING, SYNTHESIS, begin_run, check_run, load_results, run_config, run_tag,
                   save_results, save_view)
from .selectors import SELECTORS, faiss_threads, get_selector, mmd2

MMD_EVAL_POINTS = 2000


def dope(view, label_field, synthetic_run, budget, selector="mmd-greedy", run_key=None,
         extractor="reference", extractor_options=None, clamp=False, classes=None, shard=None,
         seed=0, overwrite=False, device=None, prior=None, selector_options=None, threads=None,
         progress=None):
    """Select ``budget`` real train samples per class to mix into ``synthetic_run``.

    Args:
        view: dataset or view; its real ``train`` samples are the candidates
        label_field: the ``Classification`` field
        synthetic_run: run key of a finished :func:`~fiftyone_dsco.synthesize` run,
            or None for a real-only selection (then ``prior`` is required)
        budget: real samples per class (int >= 0)
        selector: ``"mmd-greedy"`` (default), ``"kcenter"``, ``"herding"``, ``"random"``
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
            "backend": "faiss"}`` for mmd-greedy (:mod:`fiftyone_dsco.selectors`)
        threads: FAISS threads for the selection (None: FAISS's default, all cores)
        seed, overwrite, device, progress: as elsewhere

    Returns:
        the run's results dict (per-class counts and MMD before/after)
    """
    from .priors import load_prior

    dataset = view._dataset
    syn_cfg = _synthesis_config(dataset, synthetic_run, prior)
    selector_options = dict(selector_options or {})
    sel = selector_for(selector, seed, selector_options, threads)
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 0:
        raise OptionError(f"budget (real samples per class) must be an integer >= 0, not {budget!r}.")
    if synthetic_run is None and budget == 0:
        raise OptionError("A real-only selection (no synthetic run) needs a budget >= 1.")
    train = train_view(view)
    table = class_table(train, label_field, classes=syn_cfg["classes"], min_per_class=1)
    per_class_budget = _budgets(table, int(budget), clamp)
    run_key = run_key or f"{synthetic_run or 'real'}_dope{budget}_{selector.replace('-', '_')}"
    config = dict(label_field=label_field, synthetic_run=synthetic_run, budget=int(budget),
                  selector=selector, extractor=extractor,
                  extractor_options=extractor_options or {}, clamp=bool(clamp), seed=int(seed),
                  classes=table.classes,
                  **({"prior": syn_cfg["prior"]} if synthetic_run is None else {}),
                  **({"selector_options": selector_options} if selector_options else {}))
    dev = pick_device(device)
    prior = load_prior(syn_cfg["prior"], device=dev)
    if synthetic_run is None:  # the prior's classes must cover the dataset's; record its folder
        prior.card.class_indices(table.classes)
        config["prior"] = prior.path
    size, ch = prior.card.image_size, prior.card.channels

    shard = _shards.check_shard(shard)
    if shard is not None and overwrite:
        raise OptionError("overwrite cannot be combined with a shard: another shard may be running. "
                          "Delete the run first ('dsco runs delete'), then start the shards.")
    if classes is not None:
        unknown = sorted(set(classes) - set(table.classes))
        if unknown:
            raise OptionError(f"classes {unknown} are not in the run's classes {table.classes}.")
    todo = [k for k, c in enumerate(table.classes)
            if (classes is None or c in set(classes)) and _shards.in_shard(k, shard)]
    if check_run(train, run_key, DOPING, config, overwrite=overwrite) == "resume":
        done = _shards.done_indices(dataset, run_key) or {
            table.index(c) for c, r in load_results(dataset, run_key).get("classes", {}).items()
            if r.get("done")}
        todo = [k for k in todo if k not in done]
    real, feature_seconds = {}, {}
    if todo:
        feat = build_extractor(extractor, prior, view=train, table=table,
                               options=extractor_options, seed=seed).to(dev)
        for k in todo:  # per class: a shard reads only its own classes (unreadable: fails here)
            t0 = time.perf_counter()
            real[k] = real_features(train, table.ids_by_class[table.classes[k]], feat, size, ch,
                                    dev)
            feature_seconds[k] = time.perf_counter() - t0
    begin_run(train, run_key, DOPING, config, overwrite=overwrite)
    done = _shards.done_indices(dataset, run_key)
    todo = [k for k in todo if k not in done]
    tag = run_tag(run_key)
    _shards.shard_update(dataset, run_key, shard, "running", classes=[table.classes[k] for k in todo])
    try:
        with fou.ProgressBar(total=len(todo), progress=progress, iters_str="classes") as pb:
            for k in todo:
                c = table.classes[k]
                target = np.asarray(real[k])
                synth = _synthetic_features(dataset, synthetic_run, k, feat, size, ch, dev)
                t0 = time.perf_counter()
                with faiss_threads(threads) if threads else contextlib.nullcontext():
                    picks = sel.select(target, per_class_budget[c], synth if len(synth) else None)
                seconds = time.perf_counter() - t0
                chosen = [table.ids_by_class[c][i] for i in picks]
                # this class's samples only: what an interrupted attempt tagged is replaced
                dataset.select(table.ids_by_class[c]).match_tags(tag).untag_samples(tag)
                dataset.select(chosen).tag_samples(tag)
                _shards.record_class(dataset, run_key, k, c, dict(
                    count=len(chosen), synthetic=len(synth), seconds=round(seconds, 4),
                    feature_seconds=round(feature_seconds[k], 4),
                    mmd_before=_mmd(synth, target), mmd_after=_mmd(
                        np.concatenate([synth, target[picks]]) if len(synth) else target[picks],
                        target), done=True))
                pb.update()
    except BaseException as e:
        _shards.shard_update(dataset, run_key, shard, "failed", error=repr(e))
        raise
    _shards.shard_update(dataset, run_key, shard, "done")
    return _merge(dataset, run_key, table, synthetic_run,
                  f"DsCo concentrated set: {synthetic_run or 'no synthetic run'} + {budget} "
                  f"real/class ({selector})")


def selector_for(selector, seed=0, selector_options=None, threads=None):
    """The selector ``dope()`` would use; bad names, options or thread counts raise here."""
    if selector not in SELECTORS:
        raise OptionError(f"Unknown selector {selector!r}; choose one of {list(SELECTORS)}.")
    if threads is not None and (isinstance(threads, bool) or int(threads) < 1):
        raise OptionError(f"threads must be an integer >= 1 or None, not {threads!r}.")
    return get_selector(selector, seed=seed, **(selector_options or {}))


def _merge(dataset, run_key, table, synthetic_run, description):
    """The run's results; when every class is done, write them (and the saved view) once."""
    results = load_results(dataset, run_key)
    per_class = results.setdefault("classes", {})
    results["complete"] = all(per_class.get(c, {}).get("done") for c in table.classes)
    results["num_selected"] = int(sum(r.get("count", 0) for r in per_class.values()))
    for what in ("seconds", "feature_seconds"):  # selection, and reading + featurising the class
        results["total_" + what] = round(sum(r.get(what, 0) for r in per_class.values()), 3)
    selected = F("tags").contains(run_tag(run_key))
    concentrated = dataset.match(selected if synthetic_run is None else
                                 (F(DSCO_FIELD + ".run_key") == synthetic_run) | selected)
    if not results["complete"]:
        results.setdefault("saved_view", None)
        results["size"] = len(concentrated)
        return results
    if _shards.claim_merge(dataset, run_key):
        try:
            dataset.reload()
            results["saved_view"] = save_view(dataset, run_key, concentrated, description)
            results["size"] = len(concentrated)
            save_results(dataset, run_key,
                         {k: v for k, v in results.items() if k not in ("shards", "merge")})
        except BaseException:
            _shards.release_merge(dataset, run_key)
            raise
        _shards.mark_merged(dataset, run_key)
        return load_results(dataset, run_key)
    out = load_results(dataset, run_key)  # merged already, or by another process right now
    out.setdefault("saved_view", None)
    out.setdefault("complete", True)
    out.setdefault("num_selected", results["num_selected"])
    out.setdefault("size", len(concentrated))
    return out


def concentrated_view(dataset, run_key):
    """The concentrated set (synthetic ∪ selected real) of a doping run."""
    return dataset.load_saved_view(load_results(dataset, run_key)["saved_view"])


def _synthesis_config(dataset, synthetic_run, prior=None):
    if synthetic_run is None:  # real-only selection: classes and image size from the prior
        if prior is None:
            raise OptionError("Doping without a synthetic run needs prior= (its image size and "
                              "classes define the selection's features).")
        path = prior if isinstance(prior, str) else getattr(prior, "path", None)
        if path is None:
            raise OptionError("prior= must be a saved prior (a name or folder, or a prior "
                              "returned by load_prior/fit_prior).")
        return dict(prior=path, classes=None)
    if prior is not None:
        raise OptionError("prior= is only for doping without a synthetic run; a synthesis run "
                          "already names its prior.")
    if not dataset.has_run(synthetic_run):
        raise RunError(f"No synthesis run '{synthetic_run}' on '{dataset.name}'. "
                       f"Run synthesize() first, or list runs with 'dsco runs list'.")
    cfg = run_config(dataset, synthetic_run)
    if cfg.get("dsco_kind") != SYNTHESIS:
        raise RunError(f"Run '{synthetic_run}' is not a DsCo synthesis run.")
    if not load_results(dataset, synthetic_run).get("complete"):
        raise RunError(f"Synthesis run '{synthetic_run}' is not complete; re-run synthesize() "
                       f"with the same options to finish it.")
    return cfg


def _budgets(table, budget, clamp):
    small = {c: n for c, n in table.counts.items() if n < budget}
    if small and not clamp:
        raise TooFewSamplesError(
            f"budget {budget} real samples per class exceeds these classes' sizes: {small}. "
            f"Lower the budget, or pass clamp=True (--clamp) to take whole classes.")
    return {c: min(budget, n) for c, n in table.counts.items()}


def _synthetic_features(dataset, synthetic_run, k, feat, size, ch, dev):
    if synthetic_run is None:
        return np.zeros((0, 0), np.float32)
    view = dataset.match((F(DSCO_FIELD + ".run_key") == synthetic_run)
                         & (F(DSCO_FIELD + ".source") == "synthetic")
                         & (F(DSCO_FIELD + ".class_index") == k))
    ids = view.values("id")
    if not ids:
        return np.zeros((0, 0), np.float32)
    return features_of_images(feat, image_array(dataset, ids, size, ch, cache=False), dev)


def _mmd(a, target):
    if len(a) == 0:
        return None
    rows = np.linspace(0, len(target) - 1, min(len(target), MMD_EVAL_POINTS)).astype(int)
    return float(mmd2(a, target[rows]))
