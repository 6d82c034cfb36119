"""A budget search's curve: validation accuracy against budget per method (PNG, Plotly)."""


def _series(results):
    """``{method: [(budget, mean %, std %)]}`` sorted by budget, and the full reference (%)."""
    series = {}
    for budget, row in sorted(results.get("curve", {}).items(), key=lambda kv: int(kv[0])):
        for method, m in row.items():
            series.setdefault(method, []).append((int(budget), 100 * m["mean"], 100 * m["std"]))
    full = results.get("full")
    return series, (100 * full["mean"], 100 * full["std"]) if full else None


def plot_curve(results, tolerance):
    """Matplotlib ``Figure``: one line per method (error bars = std), the full reference and
    its tolerance band, and the chosen budget."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    series, full = _series(results)
    fig = Figure(figsize=(6.4, 4.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for k, (method, pts) in enumerate(series.items()):
        ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts],
                    fmt="-" + "os^Dv"[k % 5], capsize=3, label=method)
    if full:
        ax.axhline(full[0], color="k", ls="--", lw=1, label=f"full ({full[0]:.1f}%)")
        ax.axhspan(full[0] - tolerance, full[0], color="k", alpha=0.08, lw=0,
                   label=f"tolerance ({tolerance:g} pt)")
    if results.get("budget") is not None:
        ax.axvline(results["budget"], color="tab:red", lw=1,
                   label=f"chosen: {results['method']}, {results['budget']}/class")
    budgets = [p[0] for pts in series.values() for p in pts]
    if budgets and max(budgets) >= 10 * min(budgets):
        ax.set_xscale("log")
    ax.set_xlabel("images per class")
    ax.set_ylabel("validation top-1 accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def curve_traces(results):
    """The same curve as Plotly traces (what the DsCo panel draws)."""
    series, full = _series(results)
    traces = [dict(type="scatter", mode="lines+markers", name=method,
                   x=[p[0] for p in pts], y=[round(p[1], 2) for p in pts],
                   error_y=dict(type="data", array=[round(p[2], 2) for p in pts], visible=True))
              for method, pts in series.items()]
    budgets = [p[0] for pts in series.values() for p in pts]
    if full and budgets:
        traces.append(dict(type="scatter", mode="lines", name=f"full ({full[0]:.1f}%)",
                           x=[min(budgets), max(budgets)], y=[round(full[0], 2)] * 2,
                           line=dict(dash="dash", color="gray")))
    return traces
