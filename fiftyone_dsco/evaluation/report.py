"""Evaluation results: the table, the plot, and the App's accuracy-against-budget traces."""

import math

from .. import runs
from ..errors import OptionError

RANDOM, FULL = "random", "full"


class EvaluationResults(dict):
    """The results of :func:`evaluate` (a JSON-able dict) with table and plot helpers."""

    def format_table(self):
        return format_table(self)

    def plot(self, x="ipc"):
        return plot_results(self, x=x)


def add_scores(arms):
    """DD-Ranking's scores of each trained set, from the arms of one evaluation (in place).

    ``ior`` = set − random (same recipe and labels), ``hlr`` = full − set, and
    ``lrs`` = (e^α − e^−1) / (e − e^−1) with α = (IOR − HLR) / 2, accuracies as
    fractions (NUS-HPC-AI-Lab/DD-Ranking). None where the random or full arm is
    missing; the random and full arms themselves get none.
    """
    random, full = arms.get(RANDOM), arms.get(FULL)
    for arm in arms.values():
        if arm["kind"] in (RANDOM, FULL):
            continue
        ior = arm["acc_mean"] - random["acc_mean"] if random else None
        hlr = full["acc_mean"] - arm["acc_mean"] if full else None
        lrs = None
        if ior is not None and hlr is not None:
            alpha = 0.5 * ior - 0.5 * hlr
            lrs = (math.exp(alpha) - math.exp(-1)) / (math.e - math.exp(-1))
        arm.update(ior=ior, hlr=hlr, lrs=lrs)
    return arms


def _points(value):
    return "–" if value is None else f"{100 * value:+.2f}"


def format_table(results):
    """A Markdown table: method | IPC | fraction | top-1 % mean ± std | IOR | HLR | seconds."""
    lines = ["| method | IPC | fraction | top-1 % (mean ± std) | IOR | HLR | seconds |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for arm in results["arms"].values():
        lines.append(
            f"| {arm['name']} | {arm['ipc']:.4g} | {100 * arm['fraction']:.3g}% | "
            f"{100 * arm['acc_mean']:.2f} ± {100 * arm['acc_std']:.2f} | "
            f"{_points(arm.get('ior'))} | {_points(arm.get('hlr'))} | {arm['seconds']:.1f} |"
        )
    epochs = ", ".join(f"{a['name']} {a['epochs']}" for a in results["arms"].values())
    lines.append("")
    teacher = results.get("teacher")
    teacher = f" (teacher: {100 * teacher['acc']:.2f}%)" if teacher else ""
    recipe = (results.get("recipe") or {}).get("name", "dsco")
    lines.append(
        f"{results['arch']}, recipe '{recipe}', {len(results['seeds'])} seed(s), final-epoch "
        f"accuracy on {results['test_size']} held-out images, std ddof={results['std_ddof']}, "
        f"{results['labels']} labels{teacher}; epochs: {epochs}; seconds = training time per "
        f"seed. IOR = set − random, HLR = full − set (points, DD-Ranking)."
    )
    if results.get("convergence"):
        from .convergence import describe

        lines.append(describe(results["convergence"]) + ".")
    return "\n".join(lines)


def plot_results(results, x="ipc"):
    """Top-1 accuracy against budget (``x="ipc"`` or ``"fraction"``), error bars = std.

    Returns a matplotlib ``Figure`` (made without pyplot, so no backend changes).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if x not in ("ipc", "fraction"):
        raise OptionError(f"x must be 'ipc' or 'fraction', not {x!r}.")
    fig = Figure(figsize=(6.4, 4.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    xs = []
    for k, arm in enumerate(results["arms"].values()):
        xv = arm[x] * (100 if x == "fraction" else 1)
        y, e = 100 * arm["acc_mean"], 100 * arm["acc_std"]
        if arm["kind"] == FULL:
            ax.axhline(y, color="k", ls="--", lw=1, label=f"{arm['name']} ({y:.1f}%)")
            ax.axhspan(y - e, y + e, color="k", alpha=0.1, lw=0)
            continue
        xs.append(xv)
        ax.errorbar([xv], [y], yerr=[e], fmt="os^Dvp<>h"[k % 9], capsize=4, label=arm["name"])
    if xs and max(xs) >= 10 * min(xs):
        ax.set_xscale("log")
    ax.set_xlabel("images per class" if x == "ipc" else "% of the train split")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(f"{results['eval_key']}: {results['arch']}, {len(results['seeds'])} seed(s), "
                 f"{results['labels']} labels", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plotly_traces(dataset):
    """Accuracy against IPC for every DsCo evaluation on ``dataset``, as Plotly traces.

    One line per method across the stored evaluations (e.g. ``dsco`` and
    ``random`` at several budgets), error bars = std over seeds, and the full
    train split as a dashed line. This is what the App shows after an evaluation.
    """
    points, full = {}, []
    for summary in (dataset._dataset.info.get(runs.INFO_KEY) or {}).values():
        for arm in summary["arms"].values():
            y, e = 100 * arm["acc_mean"], 100 * arm["acc_std"]
            if arm["name"] == FULL:
                full.append((y, e))
            else:
                points.setdefault(arm["name"], []).append((arm["ipc"], y, e))
    traces = []
    for name, pts in sorted(points.items()):
        pts.sort()
        traces.append(dict(type="scatter", mode="lines+markers", name=name,
                           x=[p[0] for p in pts], y=[round(p[1], 2) for p in pts],
                           error_y=dict(type="data", array=[round(p[2], 2) for p in pts],
                                        visible=True)))
    if full and points:
        xs = [p[0] for pts in points.values() for p in pts]
        y = sum(f[0] for f in full) / len(full)
        traces.append(dict(type="scatter", mode="lines", name=f"{FULL} ({y:.1f}%)",
                           x=[min(xs), max(xs)], y=[round(y, 2)] * 2,
                           line=dict(dash="dash", color="gray")))
    return traces
