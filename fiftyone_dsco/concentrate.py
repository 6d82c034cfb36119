"""The one-call path: synthesise and dope to a total budget."""

import logging
import numbers
from typing import NamedTuple, Optional

from .data.access import class_table, train_view
from .errors import OptionError
from .names import (DEFAULT_CANDIDATES, DEFAULT_CONCENTRATE_KEY, DEFAULT_EXTRACTOR,
                    DEFAULT_INIT, DEFAULT_JOINT_POOL, DEFAULT_METHOD, REAL_START_CAP,
                    REAL_START_ITERATIONS, SYNTHETIC_CAP,
                    concentrate_synthesis_key, default_prefer_recognised, default_selector)

logger = logging.getLogger(__name__)


class BudgetSplit(NamedTuple):
    """How ``concentrate`` makes a per-class budget: ``synthetic`` NOpt images started from
    ``init`` (``"noise"``, ``"real"``: the real-only selector's picks; None without synthesis),
    plus ``real`` selected real samples."""

    synthetic: int
    real: int
    init: Optional[str]


def split_budget(images_per_class, synthetic_cap=SYNTHETIC_CAP, real_start_cap=REAL_START_CAP):
    """The :class:`BudgetSplit` of a total per-class budget ``b``.

    NOpt from noise up to ``synthetic_cap``; NOpt from the real-only selector's
    picks above it up to ``real_start_cap`` (a cap at or below ``synthetic_cap``:
    none); all real above both (``0`` and ``0``: always real). Chosen on
    validation splits (docs/benchmarks-validation.md, "The synthetic cap" and
    "Real starts above the cap"): on Fashion-MNIST NOpt from noise leads
    mmd-greedy's real picks up to 8 per class and trails them from 9, where NOpt
    started from those very picks leads them (beyond one std at 16 per class on
    both datasets, within it at 20).
    """
    b = int(images_per_class)
    if b < 1:
        raise OptionError(f"The budget must give at least 1 image per class, not {b}.")
    cap, real_cap = int(synthetic_cap), int(real_start_cap)
    if cap < 0 or real_cap < 0:
        raise OptionError(f"synthetic_cap and real_start_cap must be >= 0, not {cap} and "
                          f"{real_cap}.")
    if b <= cap:
        return BudgetSplit(b, 0, "noise")
    if b <= real_cap:
        return BudgetSplit(b, 0, "real")
    return BudgetSplit(0, b, None)


_BUDGET_FORMS = ("images per class (an int >= 1, e.g. 20) or a fraction of the train split "
                 "in (0, 1] (e.g. 0.2)")


def parse_budget(budget):
    """``budget`` as an int (images per class) or a float fraction in (0, 1]; strings are parsed."""
    value = budget
    if isinstance(value, str):
        for kind in (int, float):
            try:
                value = kind(value.strip())
                break
            except ValueError:
                pass
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1:
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral) \
            and 0 < value <= 1:
        return float(value)
    raise OptionError(f"budget must be {_BUDGET_FORMS}; got {budget!r}.")


def budget_per_class(view, label_field, budget):
    """Images per class for ``budget``: an int (per class) or a fraction in (0, 1] of the train split.

    An int larger than the largest class's train count is refused: it would keep every sample.
    """
    budget = parse_budget(budget)
    table = class_table(train_view(view), label_field)
    if isinstance(budget, float):
        return max(1, round(budget * table.num_samples / len(table.classes)))
    largest = max(table.classes, key=lambda c: table.counts[c])
    n = table.counts[largest]
    if budget > n:
        raise OptionError(
            f"budget={budget} images per class is more than the largest class has ({n} train "
            f"samples in '{largest}'), so every sample would be kept. Give at most {n}, or a "
            f"fraction of the train split in (0, 1] (e.g. 0.2)."
        )
    return budget


def concentrate(view, label_field, prior, budget, run_key=DEFAULT_CONCENTRATE_KEY,
                synthetic_cap=SYNTHETIC_CAP, real_start_cap=REAL_START_CAP,
                method=DEFAULT_METHOD, selector=None,
                candidates_per_image=DEFAULT_CANDIDATES, joint_pool=DEFAULT_JOINT_POOL, seed=0,
                overwrite=False, progress=None, selector_options=None, threads=None,
                prefer_recognised=None, **synthesis_options):
    """Synthesise, then dope, to ``budget`` images per class (int) or fraction of the train split.

    The budget is split by :func:`split_budget`: up to ``synthetic_cap`` per
    class the set is NOpt from noise; above it, up to ``real_start_cap``, NOpt
    started from the real samples the real-only selection would pick
    (``init="real"``, ``init_selector`` = ``selector`` or the real-only default,
    ``REAL_START_ITERATIONS`` NOpt iterations per step, unless ``init`` or
    ``iterations`` is given); above both all real (no synthesis run,
    ``synthetic_run`` is None; ``candidates_per_image`` and ``joint_pool`` then
    have nothing to pick from). To mix NOpt images with real ones, call
    :func:`~fiftyone_dsco.synthesize` and :func:`~fiftyone_dsco.dope`. ``selector``,
    ``selector_options``, ``threads`` and ``prefer_recognised`` go to
    :func:`~fiftyone_dsco.dope`; the
    other keyword options to :func:`~fiftyone_dsco.synthesize`. Options of the
    doping step are checked before synthesis writes anything. ``selector`` and
    ``prefer_recognised`` None take the mode's defaults (``names.default_selector``):
    above the cap a real-only selection's (the set, or NOpt's starts between the
    caps), up to it doping's (real samples are
    picked there only in a union pool); both ``"mmd-greedy"`` without the filter
    today (docs/doping.md).

    ``candidates_per_image`` K > 1 is joint selection: the synthesis run makes
    K x the synthetic share per class (``ipc``), and doping keeps the share
    (``synthetic_per_class``): candidates the reference classifier recognises
    first, picked by greedy MMD to the class's real features
    (:func:`~fiftyone_dsco.dope`). K = 1 keeps every image of the synthesis
    run. ``joint_pool="union"`` (any K) picks each class's
    whole budget from its real samples ∪ the candidates by greedy MMD instead,
    so the objective decides the synthetic share (``selector`` must be
    ``"mmd-greedy"``). Under study (issue #22); docs/method.md has what was
    measured.

    Returns ``{"synthesis": ..., "doping": ..., "run_key": ..., "saved_view": ...,
    "num_synthetic": ..., "num_real": ..., "init": ...}`` (``num_*``: what the set holds;
    ``init``: where its NOpt images started, None without synthesis).
    """
    per_class = budget_per_class(view, label_field, budget)  # refused before anything loads

    from .selection.doping import check_joint_pool, dope, plan_doping
    from .synthesis.sampling import synthesize

    k = _check_candidates(candidates_per_image)
    n_syn, n_real, init = _split_for(view, label_field, per_class, k, synthetic_cap,
                                     real_start_cap)
    synthesis_options = start_options(init, selector, prefer_recognised, synthesis_options)
    check_joint_pool(joint_pool, default_selector(False) if selector is None else selector)
    joint = bool(n_syn) and (k > 1 or joint_pool != DEFAULT_JOINT_POOL)
    syn_key = concentrate_synthesis_key(run_key) if n_syn else None
    doping = dict(selector=selector, run_key=run_key, clamp=True, seed=seed, overwrite=overwrite,
                  extractor=synthesis_options.get("extractor", DEFAULT_EXTRACTOR),
                  extractor_options=synthesis_options.get("extractor_options"),
                  prior=None if n_syn else _prior_ref(prior), selector_options=selector_options,
                  threads=threads,  # joint selection: n_syn of k * n_syn, or from a union
                  synthetic_per_class=n_syn if joint else None,
                  joint_pool=joint_pool if joint else DEFAULT_JOINT_POOL,
                  prefer_recognised=prefer_recognised)
    plan_doping(view, label_field, syn_key, n_real, planned_ipc=k * n_syn if n_syn else None,
                **doping)
    syn = None
    if n_syn:
        syn = synthesize(view, label_field, prior, k * n_syn, method=method, run_key=syn_key,
                         seed=seed, overwrite=overwrite, progress=progress, **synthesis_options)
    dop = dope(view, label_field, syn_key, n_real, device=synthesis_options.get("device"),
               progress=progress, **doping)
    if not n_syn and overwrite and view._dataset.has_run(concentrate_synthesis_key(run_key)):
        from . import runs  # an earlier, smaller budget's synthesis run goes too

        runs.delete(view._dataset, concentrate_synthesis_key(run_key))
    return dict(run_key=run_key, synthetic_run=syn_key, images_per_class=per_class,
                synthetic_per_class=n_syn, real_per_class=n_real, candidates_per_image=k,
                init=synthesis_options.get("init", DEFAULT_INIT) if n_syn else None,
                synthesis=syn, doping=dop, saved_view=dop["saved_view"],
                num_synthetic=sum(r.get("synthetic", 0) for r in dop.get("classes", {}).values()),
                num_real=dop.get("num_selected"))


def _split_for(view, label_field, per_class, k, synthetic_cap, real_start_cap):
    """``split_budget`` for ``view``: where a class has fewer train samples than NOpt's real
    starts need (``k`` per kept image), the all-real set the band refines (it takes such
    classes whole)."""
    split = split_budget(per_class, synthetic_cap, real_start_cap)
    if split.init != "real":
        return split
    starts = k * split.synthetic
    counts = class_table(train_view(view), label_field).counts
    small = {c: n for c, n in counts.items() if n < starts}
    if not small:
        return split
    logger.warning("%d images per class need %d real starts per class; classes %s have fewer "
                   "train samples, so the set is the real-only selection (whole small "
                   "classes), not NOpt from real starts.", per_class, starts, small)
    return BudgetSplit(0, per_class, None)


def start_options(init, selector, prefer_recognised, options):
    """``synthesize`` options for the split's start: from real starts, the picks of the real-only
    selection (``selector`` or its default, recognised samples first where
    ``prefer_recognised`` or its real-only default says so), refined with
    ``REAL_START_ITERATIONS`` NOpt iterations per step, unless the caller chose the start (or
    the iterations)."""
    if init != "real" or "init" in options or options.get("data_free"):
        return options
    start = default_selector(True) if selector is None else selector
    recognised = (default_prefer_recognised(True) if prefer_recognised is None
                  else prefer_recognised)
    return dict(options, init="real", init_selector=options.get("init_selector", start),
                init_prefer_recognised=options.get("init_prefer_recognised", recognised),
                iterations=options.get("iterations", REAL_START_ITERATIONS))


def _check_candidates(k):
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise OptionError(f"candidates_per_image must be an integer >= 1, not {k!r}.")
    return int(k)


def _prior_ref(prior):
    """A prior as a name or folder (what a run config records)."""
    return prior if isinstance(prior, str) else prior.path
