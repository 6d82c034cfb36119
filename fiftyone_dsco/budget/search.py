"""``budget_search``: the smallest concentrated set with no loss, chosen on validation.

The answer to "how much of my data do I need?". A seeded validation split is
carved from the train split (:mod:`fiftyone_dsco.data.splits`); everything
else is fitted on the rest. A full-data reference is trained once; then, at
each budget of a ladder (refined by bisection, :mod:`.ladder`), DsCo's
concentrated set, the real subsets a user can take without synthesis (herding's
and mmd-greedy's picks) and a random subset are trained under one recipe and
several seeds and tested on validation. The search stops at the smallest
budget where one of them has no loss. Only that set is then tested on the
test split, once.

Everything lives in one run (kind ``budget_search``): the curve, the split,
the choice and the test measurement; its child runs (synthesis, doping, the
test evaluation) and the chosen set's saved view ``dsco-<key>`` go with it
when it is deleted. Each measured budget is saved as it finishes, so an
interrupted search resumes without training it again.

Class shards (``shard=(K, N)``) only synthesise their classes of the
ladder's synthesis runs, in as many processes or delegated operations; the
search then resumes those runs (docs/scaling.md). A shard records its child
runs in the search's state (an atomic update), never in its results, which
only the search's one writer saves.
"""

import inspect
import logging
import os
import time

import fiftyone.core.utils as fou
import numpy as np

from .. import runs
from ..concentrate import start_options, split_budget
from ..data.access import class_table, train_view
from ..data.splits import DEFAULT_VALIDATION_FRACTION, validation_split
from ..errors import OptionError
from ..evaluation.recipes import get_recipe
from ..names import (ARCHITECTURES, BUDGET_METHODS, BUDGET_REAL_SUBSETS, BUDGET_SEARCH,
                     DEFAULT_ARCHITECTURE, DEFAULT_BUDGET_KEY, DEFAULT_RECIPE, DEFAULT_SELECTOR,
                     REAL_START_CAP, SYNTHETIC_CAP, budget_child_keys, budget_synthesis_key,
                     budget_test_key, default_prefer_recognised, default_selector)
from ..runs import state as run_state
from .ladder import (DEFAULT_RESOLUTION, DEFAULT_TOLERANCE, check_ladder, check_tolerance,
                     coarse_tolerance, default_ladder, search)

logger = logging.getLogger(__name__)

#: synthesize() arguments that the search sets itself (not ``synthesis_options``)
_SEARCH_SETS = {"view", "label_field", "prior", "ipc", "run_key", "classes", "shard", "device",
                "overwrite", "progress"}


def budget_search(view, label_field, prior=None, run_key=DEFAULT_BUDGET_KEY,
                  tolerance=DEFAULT_TOLERANCE, ladder=None, methods=BUDGET_METHODS,
                  seeds=(0, 1, 2), recipe=DEFAULT_RECIPE, epochs=None, arch=DEFAULT_ARCHITECTURE,
                  validation_fraction=DEFAULT_VALIDATION_FRACTION, validation_seed=0,
                  resolution=DEFAULT_RESOLUTION, max_hours=None, synthesis_options=None,
                  overwrite=False, shard=None, device=None, progress=None):
    """Find the smallest budget (images per class) whose set trains as well as the full data.

    Args:
        view: dataset or view with ``train``/``test`` tags
        label_field: the ``Classification`` field
        prior (None): the prior of DsCo's sets and of the features that the
            real subsets and doping select with; default the one ``dsco prior
            fit`` names ``<dataset>-<label_field>``
        run_key ("dsco_budget"): key of the search run
        tolerance (0.5): accuracy points a set may lose against the full
            reference, one std below its mean (:func:`.ladder.no_loss`)
        ladder (None): budgets to climb; default 1, 2, 4, ... below the
            smallest class's fit samples
        methods: a subset of ``("dsco", "herding", "mmd-greedy", "random")``
            (``names.BUDGET_METHODS``) with more than random in it
        seeds, recipe, epochs, arch: the training of every arm
            (:func:`~fiftyone_dsco.evaluate`)
        validation_fraction (0.1), validation_seed (0): the validation split
        resolution (0.1): bisection stops at a bracket of this share of its top
        max_hours (None): measure no new budget after this long (this call);
            the best answer so far is kept and a re-run continues
        synthesis_options: extra options of :func:`~fiftyone_dsco.synthesize`
        overwrite: replace a search with other options under ``run_key``
        shard (None): ``(K, N)`` or ``"K/N"``: only synthesise shard K's classes
            of the synthesis runs of the ladder's budgets, then return; once
            every shard is done, the same call without ``shard`` runs the search
            on them (docs/scaling.md). Not with ``overwrite``
        device: torch device
        progress (None): a FiftyOne ``progress`` value (bool or callback) for a bar
            over the budgets; each measured budget is also logged with an ETA

    Returns:
        the run's results: ``curve``, ``full``, ``budget``, ``method``,
        ``saved_view``, ``test`` and ``stopped``; for a shard, the results so
        far with ``synthesis_runs`` (key -> complete)
    """
    dataset = view._dataset
    cfg = _config(view, label_field, prior, tolerance, ladder, methods, seeds, recipe, epochs,
                  arch, validation_fraction, validation_seed, resolution, synthesis_options)
    deadline = _deadline(max_hours)
    split = validation_split(view, label_field, validation_fraction, validation_seed)
    fit_table = class_table(train_view(split.fit), label_field)
    smallest = min(fit_table.counts.values())
    cfg["ladder"] = check_ladder(default_ladder(smallest) if ladder is None else ladder, smallest)
    note = coarse_tolerance(cfg["tolerance"], len(split.val_ids))
    if note:
        logger.warning("budget search '%s': %s", run_key, note)
    shard = _check_shard(shard, overwrite, cfg, fit_table.classes)
    if runs.check_run(view, run_key, BUDGET_SEARCH, cfg, overwrite) != "resume":
        runs.check_view_names(dataset, _child_view_keys(run_key, cfg))
    runs.begin_run(view, run_key, BUDGET_SEARCH, cfg, overwrite=overwrite)
    if shard is not None:
        return _prepare_shard(dataset, run_key, cfg, split.fit, fit_table.classes, shard, device,
                              progress)
    with runs.writing(dataset, run_key):  # a second process is refused
        results = runs.stored_results(dataset, run_key)
        if results.get("complete"):
            return results
        job = _Search(dataset, run_key, cfg, split, fit_table, results, device, progress)
        return job.run(deadline)


def _config(view, label_field, prior, tolerance, ladder, methods, seeds, recipe, epochs, arch,
            validation_fraction, validation_seed, resolution, synthesis_options):
    """The run's options, checked before anything is read or written."""
    from ..priors.prior import resolve_prior
    from ..synthesis.sampling import synthesize

    bad = [m for m in methods if m not in BUDGET_METHODS]
    if isinstance(methods, str) or bad or not set(methods) - {"random"}:
        raise OptionError(f"methods must be a subset of {list(BUDGET_METHODS)} with more than "
                          f"'random' in it; got {methods!r}.")
    if isinstance(seeds, int) or len(seeds) < 1 or len(set(seeds)) != len(seeds):
        raise OptionError(f"seeds must be distinct integers, e.g. (0, 1, 2); got {seeds!r}.")
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int)
                               or epochs < 1):
        raise OptionError(f"epochs must be an int >= 1, or None for the recipe's; got {epochs!r}.")
    if arch not in ARCHITECTURES:
        raise OptionError(f"Unknown arch {arch!r}; choose one of {list(ARCHITECTURES)}.")
    allowed = set(inspect.signature(synthesize).parameters) - _SEARCH_SETS
    if synthesis_options is not None and (not isinstance(synthesis_options, dict)
                                          or set(synthesis_options) - allowed):
        raise OptionError(f"synthesis_options must be a dict of synthesize() options other than "
                          f"{sorted(_SEARCH_SETS)}; got {synthesis_options!r}.")
    if not 0 < resolution < 1:
        raise OptionError(f"resolution must be in (0, 1), e.g. 0.1; got {resolution!r}.")
    get_recipe(recipe)
    prior = prior or f"{view._dataset.name}-{label_field}"
    resolve_prior(prior if isinstance(prior, str) else prior.path)
    return dict(label_field=label_field, prior=prior if isinstance(prior, str) else prior.path,
                tolerance=check_tolerance(tolerance), ladder=ladder,
                methods=[m for m in BUDGET_METHODS if m in methods], seeds=[int(s) for s in seeds],
                recipe=recipe, epochs=epochs, arch=arch,
                validation_fraction=float(validation_fraction),
                validation_seed=int(validation_seed), resolution=float(resolution),
                synthesis_options=synthesis_options or None,
                # DsCo's split and real picks at every budget: a search made under other
                # defaults is refused on resume, never continued with sets of two rules
                synthetic_cap=SYNTHETIC_CAP, real_start_cap=REAL_START_CAP,
                prefer_recognised=default_prefer_recognised(True),
                # recorded where it is not doping's default, so searches made before it resume
                **({"real_selector": default_selector(True)}
                   if default_selector(True) != DEFAULT_SELECTOR else {}))


def _split(cfg, budget):
    """DsCo's :class:`~fiftyone_dsco.concentrate.BudgetSplit` at ``budget`` (``concentrate``'s
    rule as the search recorded it)."""
    return split_budget(budget, cfg["synthetic_cap"], cfg.get("real_start_cap", 0))


def _synthesis_options(cfg, split):
    """``synthesize`` options of DsCo's synthesis run for ``split`` (its start included)."""
    return start_options(split.init, cfg.get("real_selector", DEFAULT_SELECTOR),
                         cfg.get("prefer_recognised"), cfg["synthesis_options"] or {})


def _synthesis_sizes(cfg):
    """The splits of the ladder's budgets that synthesise, by size: one synthesis run each."""
    if "dsco" not in cfg["methods"]:
        return []
    splits = {_split(cfg, b) for b in cfg["ladder"]}
    return sorted((s for s in splits if s.synthetic), key=lambda s: s.synthetic)


def _check_shard(shard, overwrite, cfg, classes):
    """``shard`` as ``(K, N)`` (or None), refused when it would have nothing to do."""
    shard = run_state.check_shard(shard)
    if shard is None:
        return None
    if overwrite:
        raise OptionError("overwrite cannot be combined with a shard: another shard may be "
                          "running. Delete the search first ('dsco runs delete'), then start "
                          "the shards.")
    if not _synthesis_sizes(cfg):
        raise OptionError(f"A shard synthesises DsCo's images, and these options need none "
                          f"(methods {cfg['methods']}, ladder {cfg['ladder']}: above "
                          f"{max(cfg['synthetic_cap'], cfg.get('real_start_cap', 0))} images "
                          f"per class a set is all real). "
                          f"Run the search without a shard.")
    if shard[1] > len(classes):
        raise OptionError(f"Shard {shard[0]}/{shard[1]}: the fit split has {len(classes)} "
                          f"classes, so some of {shard[1]} shards would have none. Use at most "
                          f"{len(classes)} shards.")
    return shard


def _prepare_shard(dataset, run_key, cfg, fit, classes, shard, device, progress):
    """Synthesise ``shard``'s classes of the ladder's synthesis runs; the search's results."""
    from ..synthesis.sampling import synthesize

    done = {}
    with run_state.attempt(dataset, run_key, shard, run_state.shard_classes(classes, shard)):
        for split in _synthesis_sizes(cfg):
            key = budget_synthesis_key(run_key, split.synthetic)
            run_state.add_child(dataset, run_key, key)  # before the run exists
            res = synthesize(fit, cfg["label_field"], cfg["prior"], split.synthetic, run_key=key,
                             shard=shard, device=device, progress=progress,
                             **_synthesis_options(cfg, split))
            done[key] = bool(res.get("complete"))
    return dict(runs.load_results(dataset, run_key), synthesis_runs=done)


def _child_view_keys(run_key, cfg):
    """The keys of every child run with a saved view that the search may make (up to the top
    rung)."""
    keys = set()
    for b in range(1, max(cfg["ladder"]) + 1 if "dsco" in cfg["methods"] else 1):
        n_syn = _split(cfg, b).synthetic
        syn_key, dope_key = budget_child_keys(run_key, b, n_syn)
        keys.update([syn_key, dope_key] if n_syn else [dope_key])
    return sorted(keys)


def _deadline(max_hours):
    if max_hours is None:
        return None
    if isinstance(max_hours, bool) or not isinstance(max_hours, (int, float)) or max_hours <= 0:
        raise OptionError(f"max_hours must be a number of hours > 0 (e.g. 2.5); got {max_hours!r}.")
    return time.time() + 3600.0 * max_hours


class _Search:
    """One search run: the full reference, the measurements, the choice, the test."""

    def __init__(self, dataset, run_key, cfg, split, fit_table, results, device, progress):
        self.dataset, self.key, self.cfg, self.split = dataset, run_key, cfg, split
        self.table, self.device, self.progress = fit_table, device, progress
        self.results = dict(results, validation=split.to_dict(), curve=results.get("curve", {}),
                            tolerance=cfg["tolerance"],
                            child_runs=runs.child_runs(dataset, run_key, results))
        from ..evaluation.protocol import full_arm_epochs

        recipe = get_recipe(cfg["recipe"], fit_table.classes, epochs=cfg["epochs"])
        largest = max(cfg["ladder"]) * len(fit_table.classes)  # the top rung's set
        self.full_epochs = full_arm_epochs(recipe.epochs, largest, fit_table.num_samples,
                                           recipe.batch_size)
        self.started, self.measured = time.time(), 0

    # ---------------------------------------------------------------- steps

    def run(self, deadline):
        full = self.results.get("full") or self._measure_full()
        curve = {int(b): row for b, row in self.results["curve"].items()}
        ladder = self.cfg["ladder"]
        planned = len(ladder) + int(np.ceil(np.log2(max(ladder) + 1)))  # climb + bisection
        with fou.ProgressBar(total=max(planned, len(curve) + 1), progress=self.progress,
                             iters_str="budgets") as self.bar:
            self.bar.update(len(curve))
            self.started = time.time()  # the ETA counts budgets only
            out = search(self._measure, ladder, full["mean"], self.cfg["tolerance"],
                         self.cfg["resolution"], curve=curve, deadline=deadline,
                         on_measured=self._save_row)
        self.results.update(budget=out["budget"], method=out["method"], stopped=out["stopped"])
        if out["budget"] is not None:
            self.results["saved_view"] = self._save_chosen(out["budget"], out["method"])
            self.results["test"] = self._test(out["budget"], out["method"])
        self.results["plot"] = self._plot()
        self.results["complete"] = out["stopped"] != "time budget"
        self._save()
        return self.results

    def _measure_full(self):
        from ..evaluation.protocol import measure

        logger.info("budget search '%s': full reference (%d images, %d epochs) on validation",
                    self.key, self.table.num_samples, self.full_epochs)
        res = measure(self.split.fit, self.cfg["label_field"], {}, self.split.val,
                      add_random=False, add_full=True, full_epochs=self.full_epochs,
                      **self._training())
        self.results["full"] = _row(res["arms"]["full"])
        self._save()
        return self.results["full"]

    def _measure(self, budget):
        from ..evaluation.protocol import measure

        t0 = time.time()
        sets = {m: self._set(m, budget) for m in self.cfg["methods"] if m != "random"}
        same = _same_sets(sets)  # e.g. DsCo's all-real set = mmd-greedy's picks: trained once
        res = measure(self.split.fit, self.cfg["label_field"],
                      {m: v for m, v in sets.items() if m not in same}, self.split.val,
                      add_random="random" in self.cfg["methods"], **self._training())
        arms = {a["name"]: a for a in res["arms"].values()}  # arm keys are sanitised names
        row = {m: _row(arms[same.get(m, m)]) for m in self.cfg["methods"]}
        self.measured += 1
        self._log(budget, row, time.time() - t0)
        return row

    def _save_row(self, budget, row):
        self.results["curve"][str(budget)] = row
        self._save()
        self.bar.update()

    def _training(self):
        c = self.cfg
        return dict(arch=c["arch"], epochs=c["epochs"], seeds=c["seeds"], recipe=c["recipe"],
                    device=self.device, progress=False)

    # ---------------------------------------------------------------- sets

    def _set(self, method, budget):
        """The view of ``method``'s set at ``budget`` images per class (from the fit split)."""
        if method in BUDGET_REAL_SUBSETS:
            order = self._pick_order(method)
            return self.split.fit.select([i for ids in order.values() for i in ids[:budget]])
        return self._dsco_set(budget)

    def _dsco_set(self, budget):
        """DsCo's concentrated set: NOpt images from noise (shared across budgets) up to the
        cap, NOpt from the real-only selection's picks up to ``real_start_cap``, that selection
        above (``concentrate``'s split and defaults)."""
        from ..selection.doping import concentrated_view, dope
        from ..synthesis.sampling import synthesize

        split = _split(self.cfg, budget)
        n_syn, n_real = split.synthetic, split.real
        syn_key, dope_key = budget_child_keys(self.key, budget, n_syn)
        c, fit = self.cfg, self.split.fit
        if n_syn:
            self._child(syn_key)
            synthesize(fit, c["label_field"], c["prior"], n_syn, run_key=syn_key,
                       device=self.device, **_synthesis_options(c, split))
        self._child(dope_key)
        real = {} if n_syn else dict(  # all real above the cap
            selector=c.get("real_selector", DEFAULT_SELECTOR),
            prefer_recognised=c["prefer_recognised"])
        dope(fit, c["label_field"], syn_key if n_syn else None, n_real, run_key=dope_key,
             clamp=True, prior=None if n_syn else c["prior"], device=self.device, **real)
        return concentrated_view(self.dataset, dope_key)

    def _child(self, key):
        """Record a child run before it is made (doping runs go before the synthesis they use)."""
        kids = self.results["child_runs"]
        if key not in kids:
            kids.insert(0, key)  # deleted in reverse order of creation
            self._save()

    def _pick_order(self, selector):
        """Per class, the fit samples in ``selector``'s pick order (nested: budget b = the first
        b), picked once."""
        key = _order_key(selector)
        if key not in self.results:
            self.results[key] = _pick_order(self.split.fit, self.table, self.cfg["prior"],
                                            selector, max(self.cfg["ladder"]), self.device)
            self._save()
        return self.results[key]

    # ---------------------------------------------------------------- answer

    def _chosen_view(self, budget, method):
        if method == "dsco" or method in BUDGET_REAL_SUBSETS:
            return self._set(method, budget)
        rng = np.random.default_rng(0)  # random: a seeded subset of each class
        ids = [i for c in self.table.classes for i in rng.choice(
            self.table.ids_by_class[c], min(budget, self.table.counts[c]), replace=False)]
        return self.split.fit.select(ids)

    def _save_chosen(self, budget, method):
        return runs.save_view(self.dataset, self.key, self._chosen_view(budget, method),
                              f"DsCo budget search '{self.key}': {method}, {budget} images per "
                              f"class (chosen on validation)")

    def _test(self, budget, method):
        """The one test-split measurement: the chosen set beside random and the full split."""
        from ..evaluation.protocol import evaluate

        key = budget_test_key(self.key)
        self._child(key)
        chosen = self.dataset.load_saved_view(self.results["saved_view"])
        res = evaluate(self.split.fit, self.cfg["label_field"], {f"{method}_b{budget}": chosen},
                       eval_key=key, full_epochs=self.full_epochs, **self._training())
        return dict(eval_key=key, arms={a: _row(r) for a, r in res["arms"].items()})

    def _plot(self):
        from .plot import plot_curve

        folder = runs.media_folder(self.dataset, self.key)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "budget_curve.png")
        plot_curve(self.results, self.cfg["tolerance"]).savefig(path, dpi=120)
        return path

    def _save(self):
        runs.save_results(self.dataset, self.key, self.results)

    def _log(self, budget, row, seconds):
        """Log a measured budget with its accuracies and an ETA."""
        accs = ", ".join(f"{m} {100 * r['mean']:.2f}±{100 * r['std']:.2f}" for m, r in row.items())
        left = _budgets_left(self.cfg["ladder"], [int(b) for b in self.results["curve"]] + [budget])
        per = (time.time() - self.started) / self.measured
        line = (f"budget search '{self.key}': {budget}/class: {accs} ({seconds:.0f} s); "
                f"ETA ~{left * per / 60:.0f} min for up to {left} more budgets")
        logger.info(line)


def format_answer(res):
    """The answer of a budget search in a few lines."""
    if res.get("budget") is None:
        note = res.get("tolerance") is not None and res.get("validation") and coarse_tolerance(
            res["tolerance"], res["validation"]["num_val"])
        return (f"No budget of the ladder is within the tolerance ({res.get('stopped')}); "
                f"the curve is in the run's results and plot: {res.get('plot')}"
                + (f"\n{note}" if note else ""))
    test = res["test"]["arms"]
    chosen = next(a for a in test if a not in ("random", "full"))

    def line(arm):
        return f"{100 * test[arm]['mean']:.2f} ± {100 * test[arm]['std']:.2f}"
    return (f"Smallest budget with no loss on validation: {res['budget']} images per class "
            f"({res['method']}; {res['stopped']}).\n"
            f"Test accuracy: {chosen} {line(chosen)}, random {line('random')}, "
            f"full {line('full')}.\n"
            f"Saved view '{res['saved_view']}'; curve: {res['plot']}")


def format_shard(res, shard):
    """What a shard of a search prepared, and what to run next."""
    made = ", ".join(f"{k} ({'complete' if ok else 'other shards pending'})"
                      for k, ok in res["synthesis_runs"].items())
    return (f"Shard {shard[0]}/{shard[1]} done: synthesis runs {made}. Once every shard is done, "
            f"run the same command without the shard to search.")


def _budgets_left(ladder, measured):
    """Budgets still to measure at most: unmeasured rungs up to the top, plus a bisection."""
    top = max(measured)
    return len([b for b in ladder if b > top]) + max(1, int(np.log2(max(2, top))))


def _row(arm):
    """What the curve keeps of an arm: mean, std and per-seed accuracies (fractions)."""
    return dict(mean=arm["acc_mean"], std=arm["acc_std"], accs=list(arm["accs"]),
                size=arm["size"])


def _same_sets(sets):
    """``{method: earlier method}`` for each set of ``sets`` with the same samples as an earlier
    one (its arm is trained once, under the earlier name)."""
    seen, same = {}, {}
    for method, view in sets.items():
        ids = frozenset(view.values("id"))
        if ids in seen:
            same[method] = seen[ids]
        else:
            seen[ids] = method
    return same


def _order_key(selector):
    """The results key of ``selector``'s pick order (``herding_order``, ``mmd-greedy_order``)."""
    return f"{selector}_order"


def is_order_key(key):
    """Whether a results key holds a real subset's pick order (id lists, not a measurement)."""
    return any(key == _order_key(s) for s in BUDGET_REAL_SUBSETS)


def _pick_order(fit, table, prior, selector, max_budget, device):
    """``{class: [ids]}``: ``selector``'s first ``max_budget`` picks with the prior's reference
    features, as ``dope(selector=...)`` makes them (greedy selectors: nested)."""
    from ..devices import device as pick_device
    from ..features.extractors import build_extractor, real_features
    from ..priors import load_prior
    from ..selection.selectors import get_selector

    p = load_prior(prior)
    dev = pick_device(device)
    train = train_view(fit)
    feat = build_extractor("reference", p, view=train, table=table).to(dev)
    picker, out = get_selector(selector), {}
    for c in table.classes:
        ids = table.ids_by_class[c]
        x = np.asarray(real_features(train, ids, feat, p.card.image_size, p.card.channels, dev))
        out[c] = [ids[i] for i in picker.select(x, min(max_budget, len(ids)))]
    return out
