"""Panel "DsCo": the dataset's runs, their saved views and evaluations.

It reads what the runs stored on the dataset, so runs that a delegated worker
or the CLI made show here as well as immediate ones.
"""

import fiftyone.operators as foo
import fiftyone.operators.types as types

ONE_SEED = ("The Model Evaluation panel shows the predictions of one seed's model per set; the "
            "table above is the mean ± std over all seeds.")


class DscoPanel(foo.Panel):
    @property
    def config(self):
        return foo.PanelConfig(name="dsco_panel", label="DsCo", icon="compress",
                               help_markdown="DsCo runs on this dataset: open a run's saved "
                                             "view; evaluations as tables and a chart")

    def on_load(self, ctx):
        from fiftyone_dsco.evaluation import plotly_traces

        ctx.panel.data.chart = plotly_traces(ctx.dataset) if ctx.dataset is not None else []

    def on_change_dataset(self, ctx):
        self.on_load(ctx)

    def open_view(self, ctx):
        ctx.ops.set_view(name=ctx.params["name"])

    def render(self, ctx):
        from fiftyone_dsco.evaluation import load_evaluation
        from fiftyone_dsco.runs import EVALUATION, list_runs, load_results, run_status

        panel = types.Object()
        runs = list_runs(ctx.dataset) if ctx.dataset is not None else []
        if not runs:
            panel.md("No DsCo runs on this dataset yet: start one from the operator browser "
                     "(press `` ` `` and type *DsCo*).", name="none")
            return types.Property(panel)
        rows = ["| run | kind | status | size | started |", "|---|---|---|---:|---|"]
        views = {}
        for r in runs:
            res = load_results(ctx.dataset, r["key"])
            views[r["key"]] = res.get("saved_view")
            size = res.get("size", res.get("num_samples", ""))
            rows.append(f"| {r['key']} | {r['kind']} | {run_status(ctx.dataset, r['key'])} | "
                        f"{size} | {r['timestamp'][:16]} |")
        panel.md("\n".join(rows), name="runs")
        for key, view in views.items():
            if view and ctx.dataset.has_saved_view(view):
                panel.btn(f"open_{key}", label=f"Open {view}", icon="visibility",
                          on_click=self.open_view, params={"name": view})
        evals = [r["key"] for r in runs if r["kind"] == EVALUATION]
        if evals:
            panel.plot("chart", label="Top-1 accuracy (%) against images per class",
                       layout=dict(xaxis=dict(title="images per class", type="log"),
                                   yaxis=dict(title="top-1 accuracy (%)"), height=360))
        for key in evals:
            table = load_evaluation(ctx.dataset, key).format_table()
            panel.md(f"#### Evaluation `{key}`\n\n{table}\n\n_{ONE_SEED}_", name=f"eval_{key}")
        return types.Property(panel, view=types.GridView(orientation="vertical"))
