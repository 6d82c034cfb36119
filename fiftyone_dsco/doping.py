"""Doping: mix selected real samples into a synthesis run's images, as a FiftyOne run.

Per class, a selector (:mod:`fiftyone_dsco.selectors`) picks ``budget`` real
train samples so that synthetic ∪ selected matches the class's real features
best. Selected samples get the tag ``dsco:<run_key>``; the saved view
``dsco-<run-key>`` is the concentrated set (synthetic ∪ selected).
"""

import time

import numpy as np

import fiftyone.core.utils as fou
from fiftyone import ViewField as F

from .config import DSCO_FIELD, device as pick_device
from .data import class_table, image_array, train_view
from .errors import OptionError, RunError, TooFewSamplesError
from .features import build_extractor, features_of_images, real_features
from .runs import (DOPING, SYNTHESIS, begin_run, check_run, load_results, run_config, run_tag,
                   save_results, save_view)
from .selectors import SELECTORS, get_selector, mmd2

MMD_EVAL_POINTS = 2000


def dope(view, label_field, synthetic_run, budget, selector="mmd-greedy", run_key=None,
         extractor="reference", extractor_options=None, clamp=False, seed=0, overwrite=False, device=None, progress=None):
    """Select ``budget`` real train samples per class to mix into ``synthetic_run``.

    Args:
        view: dataset or view; its real ``train`` samples are the candidates
        label_field: the ``Classification`` field
        synthetic_run: run key of a finished :func:`~fiftyone_dsco.synthesize` run
        budget: real samples per class (int >= 0)
        selector: ``"mmd-greedy"`` (default), ``"kcenter"``, ``"herding"``, ``"random"``
        run_key: default ``<synthetic_run>_dope<budget>_<selector>``
        extractor: feature extractor used for selection (on real data)
        extractor_options: options of the extractor (e.g. a timm checkpoint)
        clamp: cap the budget at each class's size instead of raising
        seed, overwrite, device, progress: as elsewhere

    Returns:
        the run's results dict (per-class counts and MMD before/after)
    """
    from .priors import load_prior

    dataset = view._dataset
    syn_cfg = _synthesis_config(dataset, synthetic_run)
    if selector not in SELECTORS:
        raise OptionError(f"Unknown selector {selector!r}; choose one of {list(SELECTORS)}.")
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 0:
        raise OptionError(f"budget (real samples per class) must be an integer >= 0, not {budget!r}.")
    train = train_view(view)
    table = class_table(train, label_field, classes=syn_cfg["classes"], min_per_class=1)
    per_class_budget = _budgets(table, int(budget), clamp)
    run_key = run_key or f"{synthetic_run}_dope{budget}_{selector.replace('-', '_')}"
    config = dict(label_field=label_field, synthetic_run=synthetic_run, budget=int(budget),
                  selector=selector, extractor=extractor,
                  extractor_options=extractor_options or {}, clamp=bool(clamp), seed=int(seed),
                  classes=table.classes)
    dev = pick_device(device)
    prior = load_prior(syn_cfg["prior"], device=dev)
    size, ch = prior.card.image_size, prior.card.channels

    check_run(train, run_key, DOPING, config, overwrite=overwrite)
    feat = build_extractor(extractor, prior, view=train, table=table, options=extractor_options,
                           seed=seed).to(dev)
    real = real_features(train, table.ids(), feat, size, ch, dev, progress)  # may fail: unreadable
    begin_run(train, run_key, DOPING, config, overwrite=overwrite)
    dataset.untag_samples(run_tag(run_key))
    results = {"classes": {}}
    starts = np.cumsum([0] + [len(table.ids_by_class[c]) for c in table.classes])
    sel = get_selector(selector, seed=seed)
    with fou.ProgressBar(total=len(table.classes), progress=progress, iters_str="classes") as pb:
        for k, c in enumerate(table.classes):
            target = np.asarray(real[starts[k] : starts[k + 1]])
            synth = _synthetic_features(dataset, synthetic_run, k, feat, size, ch, dev)
            t0 = time.perf_counter()
            picks = sel.select(target, per_class_budget[c], synth if len(synth) else None)
            seconds = time.perf_counter() - t0
            chosen = [table.ids_by_class[c][i] for i in picks]
            dataset.select(chosen).tag_samples(run_tag(run_key))
            results["classes"][c] = dict(
                count=len(chosen), synthetic=len(synth), seconds=round(seconds, 4),
                mmd_before=_mmd(synth, target), mmd_after=_mmd(
                    np.concatenate([synth, target[picks]]) if len(synth) else target[picks], target))
            pb.update()
    results["num_selected"] = int(sum(r["count"] for r in results["classes"].values()))
    concentrated = dataset.match((F(DSCO_FIELD + ".run_key") == synthetic_run)
                                 | F("tags").contains(run_tag(run_key)))
    results["saved_view"] = save_view(
        dataset, run_key, concentrated,
        f"DsCo concentrated set: {synthetic_run} + {budget} real/class ({selector})")
    results["size"] = len(concentrated)
    save_results(dataset, run_key, results)
    return results


def concentrated_view(dataset, run_key):
    """The concentrated set (synthetic ∪ selected real) of a doping run."""
    return dataset.load_saved_view(load_results(dataset, run_key)["saved_view"])


def _synthesis_config(dataset, synthetic_run):
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
