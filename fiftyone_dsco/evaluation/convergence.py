"""The full arm's convergence ladder: train it longer until its held-out accuracy stops moving.

A rung trains every seed from scratch on the full train split with the recipe's
own schedule for the rung's epochs (cosine and step schedules depend on the
total, so a longer run is not a continuation of a shorter one). Rungs double
from ``start`` up to ``max_epochs``; the ladder stops at the first rung whose
mean accuracy gains less than ``max(tolerance points, the rung's std over
seeds)`` over the previous one, or at the cap. Doubling keeps the cost below
about twice the last rung. Light module: no torch or FiftyOne import.
"""

from dataclasses import asdict, dataclass
from numbers import Integral

import numpy as np

from ..errors import OptionError
from ..names import CONVERGE, CONVERGE_START_EPOCHS, CONVERGE_TOLERANCE


@dataclass(frozen=True)
class Convergence:
    """How :func:`~fiftyone_dsco.evaluation.evaluate` trains the full arm to convergence.

    ``full_epochs="converge"`` is ``Convergence()``. ``start``: epochs of the
    first rung; ``max_epochs``: the cap (None: the sets' epochs); ``tolerance``:
    least gain in accuracy points over the previous rung that counts as moving
    (a rung must also gain one std over seeds).
    """

    start: int = CONVERGE_START_EPOCHS
    max_epochs: int = None
    tolerance: float = CONVERGE_TOLERANCE

    def to_dict(self):
        return asdict(self)


def full_epochs_option(value):
    """``full_epochs`` checked: None, an int >= 1, or a :class:`Convergence` (``"converge"``)."""
    if value is None or isinstance(value, Convergence):
        return value and _checked(value)
    if isinstance(value, str) and value == CONVERGE:
        return Convergence()
    if isinstance(value, Integral) and not isinstance(value, bool) and value >= 1:
        return int(value)
    raise OptionError(f"full_epochs must be a number of epochs >= 1, {CONVERGE!r} or a "
                      f"Convergence(start, max_epochs, tolerance); got {value!r}.")


def _checked(spec):
    counts = (spec.start, 1 if spec.max_epochs is None else spec.max_epochs)
    if not all(isinstance(n, Integral) and not isinstance(n, bool) and n >= 1 for n in counts):
        raise OptionError(f"Convergence start and max_epochs must be integers >= 1; got {spec}.")
    if spec.max_epochs is not None and spec.max_epochs < spec.start:
        raise OptionError(f"Convergence max_epochs {spec.max_epochs} is below start {spec.start}.")
    if not isinstance(spec.tolerance, (int, float)) or spec.tolerance != spec.tolerance:
        raise OptionError(f"Convergence tolerance must be a number of points; got {spec}.")
    return spec


def resolve(spec, epochs):
    """``spec`` with its cap set (default: ``epochs``, the sets'); the cap must reach ``start``."""
    cap = epochs if spec.max_epochs is None else spec.max_epochs
    if cap < spec.start:
        raise OptionError(f"The convergence ladder starts at {spec.start} epochs, above its cap "
                          f"{cap} (default: the sets' epochs); lower start or raise max_epochs.")
    return Convergence(int(spec.start), int(cap), float(spec.tolerance))


def ladder(spec):
    """Epochs of the rungs: ``start``, doubling, and ``max_epochs`` last."""
    rungs, epochs = [], spec.start
    while epochs < spec.max_epochs:
        rungs.append(epochs)
        epochs *= 2
    return rungs + [spec.max_epochs]


def still_moving(previous, rung, tolerance):
    """Whether ``rung`` gains at least ``max(tolerance points, its std)`` over ``previous``."""
    return rung["acc_mean"] - previous["acc_mean"] >= max(tolerance / 100, rung["acc_std"])


def seed_std(accs):
    """Standard deviation over seeds (ddof 1; 0 for one seed)."""
    return float(np.std(accs, ddof=1 if len(accs) >= 2 else 0))


def rung_summary(fits):
    """A rung's row of the curve from its fits (one per seed, each with ``acc`` and
    ``seconds``), as ``climb``'s ``train_rung`` returns it."""
    accs = [f["acc"] for f in fits]
    return dict(acc_mean=float(np.mean(accs)), acc_std=seed_std(accs), accs=accs,
                seconds=float(np.mean([f["seconds"] for f in fits])))


def climb(spec, train_rung):
    """Train rungs (``train_rung(epochs) -> {acc_mean, acc_std, ...}``) until one stops moving.

    Returns the record: the options, ``curve`` (one row per trained rung),
    ``epochs`` (the last rung's) and ``converged`` (False: stopped by the cap).
    """
    curve = []
    for epochs in ladder(spec):
        curve.append(dict(epochs=epochs, **train_rung(epochs)))
        if len(curve) > 1 and not still_moving(curve[-2], curve[-1], spec.tolerance):
            return dict(spec.to_dict(), curve=curve, epochs=epochs, converged=True)
    return dict(spec.to_dict(), curve=curve, epochs=curve[-1]["epochs"], converged=False)


def describe(record):
    """One line for a table caption: the curve, and why the ladder stopped."""
    rungs = ", ".join(f"{r['epochs']}: {100 * r['acc_mean']:.2f} ± {100 * r['acc_std']:.2f}"
                      for r in record["curve"])
    why = ("converged: gain < max({:g} points, 1 std)".format(record["tolerance"])
           if record["converged"] else "cap reached, still moving")
    return f"full split by epochs (top-1 %): {rungs} ({why})"
