"""The budget search's logic, free of FiftyOne and torch: ladder, no-loss rule, bisection.

:func:`search` climbs a ladder of budgets (images per class), calling
``measure(budget)`` for the mean and std of each method's validation accuracy,
until a budget has *no loss* against the full-data reference
(:func:`no_loss`); it then bisects between the last budget with a loss and
that one. Measurements already in ``curve`` are not taken again, which is how
an interrupted search resumes.
"""

import math
import time

from ..errors import OptionError
from ..names import DEFAULT_TOLERANCE

#: Bisection stops when the bracket is at most this share of its upper end (or 1 image).
DEFAULT_RESOLUTION = 0.1


def default_ladder(max_per_class):
    """Powers of two below ``max_per_class`` (the smallest class's fit samples): 1, 2, 4, ..."""
    out, b = [], 1
    while b < max_per_class:
        out.append(b)
        b *= 2
    return out


def check_ladder(ladder, max_per_class):
    """The ladder as sorted distinct ints in ``[1, max_per_class)``, or a clear error."""
    try:
        rungs = sorted({int(b) for b in ladder})
    except (TypeError, ValueError):
        raise OptionError(f"ladder must be a list of images-per-class budgets, e.g. [1, 2, 5, 10]; "
                          f"got {ladder!r}.") from None
    if any(isinstance(b, bool) or int(b) != b for b in ladder):
        raise OptionError(f"ladder budgets must be whole images per class; got {ladder!r}.")
    if not rungs:
        raise OptionError("The ladder is empty: give at least one budget (images per class), "
                          "e.g. ladder=[1, 2, 5, 10], or leave it out for powers of two.")
    bad = [b for b in rungs if not 1 <= b < max_per_class]
    if bad:
        raise OptionError(f"ladder budgets {bad} are outside [1, {max_per_class - 1}]: a budget "
                          f"must leave some of the smallest class ({max_per_class} fit samples) "
                          f"out, or it is the full set.")
    return rungs


def check_tolerance(tolerance):
    """``tolerance`` (accuracy points, in [0, 100)) as a float, or a clear error."""
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or \
            not 0 <= tolerance < 100 or math.isnan(tolerance):
        raise OptionError(f"tolerance is the accuracy (in points, e.g. 0.5) a set may lose against "
                          f"the full data; it must be a number in [0, 100), not {tolerance!r}.")
    return float(tolerance)


def no_loss(mean, std, full_mean, tolerance):
    """Whether a set loses at most ``tolerance`` points, even one std below its mean.

    Accuracies are fractions; ``tolerance`` is in points. Asking the margin to
    hold one standard deviation below the mean keeps one lucky seed from
    choosing a budget.
    """
    return mean - std >= full_mean - tolerance / 100.0


def coarse_tolerance(tolerance, num_val):
    """A note when ``tolerance`` (points) is below one of ``num_val`` validation images, where
    the no-loss rule asks a set to lose no validation image at all; else None."""
    image = 100.0 / num_val
    if tolerance >= image:
        return None
    return (f"One validation image is {image:.2f} points, more than the tolerance "
            f"({tolerance:g}): a budget passes only if its sets lose no validation image, "
            f"which small sets do or miss by chance. A tolerance of at least {image:.2f}, or a "
            f"larger validation_fraction, lets the rule tell budgets apart.")


def best_lossless(row, full_mean, tolerance):
    """The method with the highest mean among those of ``row`` with no loss, or None (a tie:
    the first of ``row``)."""
    ok = [(m["mean"], name) for name, m in row.items()
          if no_loss(m["mean"], m["std"], full_mean, tolerance)]
    return max(ok, key=lambda t: t[0])[1] if ok else None


def _midpoint(lo, hi):
    """A budget between ``lo`` (loss; 0 for none) and ``hi``: their geometric mean, rounded."""
    mid = round(math.sqrt(max(lo, 1) * hi)) if lo else hi // 2
    return min(hi - 1, max(lo + 1, mid))


def search(measure, ladder, full_mean, tolerance=DEFAULT_TOLERANCE,
           resolution=DEFAULT_RESOLUTION, curve=None, deadline=None, on_measured=None):
    """The smallest budget with no loss, by ladder then bisection.

    Args:
        measure: ``measure(budget) -> {method: {"mean", "std", ...}}`` (fractions)
        ladder: budgets (images per class), climbed in increasing order
        full_mean: the full-data reference's mean accuracy (fraction)
        tolerance: accuracy points a set may lose (see :func:`no_loss`)
        resolution: bisection stops when ``hi - lo <= max(1, resolution * hi)``
        curve: ``{budget: row}`` already measured (resume); updated in place
        deadline: a ``time.time()`` after which no new budget is measured
        on_measured: called with ``(budget, row)`` after each new measurement

    Returns:
        ``{"budget", "method", "curve", "stopped"}``: the chosen budget and method
        (None when no measured budget is lossless) and why the search ended
        (``"found"``, ``"ladder exhausted"`` or ``"time budget"``).
    """
    curve = {} if curve is None else curve

    def row(b):
        if b not in curve:
            if deadline is not None and time.time() > deadline:
                raise _OutOfTime
            curve[b] = measure(b)
            if on_measured:
                on_measured(b, curve[b])
        return curve[b]

    lo, hi, stopped = 0, None, "ladder exhausted"
    try:
        for b in sorted(ladder):
            if best_lossless(row(b), full_mean, tolerance):
                hi = b
                break
            lo = b
        while hi is not None and hi - lo > max(1, resolution * hi):
            mid = _midpoint(lo, hi)
            if best_lossless(row(mid), full_mean, tolerance):
                hi = mid
            else:
                lo = mid
        stopped = "found" if hi is not None else stopped
    except _OutOfTime:
        stopped = "time budget"
    if hi is None:  # a stopped climb may still have passed a lossless budget
        hi = min((b for b in curve if best_lossless(curve[b], full_mean, tolerance)), default=None)
    method = best_lossless(curve[hi], full_mean, tolerance) if hi is not None else None
    return dict(budget=hi, method=method, curve=curve, stopped=stopped)


class _OutOfTime(Exception):
    pass
