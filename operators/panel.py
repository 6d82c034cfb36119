"""Panel "DsCo": the dataset's runs (open their saved views, delete them), evaluations
(tables, accuracy charts), budget searches (answer and validation curve), real vs
synthetic images and MMD per class.

It reads what the runs stored on the dataset, so runs that a delegated worker
or the CLI made show here as well as immediate ones (when it opens, or on Refresh).
"""

from urllib.parse import quote

import fiftyone.operators as foo
import fiftyone.operators.types as types

ONE_SEED = ("The Model Evaluation panel shows the predictions of one seed's model per set; the "
            "table above is the mean ± std over all seeds.")
MAX_SHOWN = 50  # images per side in the real-vs-synthetic grid
MMD_COLUMNS = {"synthesis": ("mmd_plain", "mmd", "MMD plain (same seeds)", "MMD of the run"),
               "doping": ("mmd_before", "mmd_after", "MMD synthetic only", "MMD after doping")}


def _media(path):
    return "/media?filepath=" + quote(path, safe="")


def _images(panel, name, alt, paths):
    """A wrapping row of images (served by the App's ``/media`` route), each 56 px square."""
    row = panel.grid(name, gap=0.5)
    item = {"item": {"sx": {"width": "auto"}}, "image": {"style": {"imageRendering": "pixelated"}}}
    for i, path in enumerate(paths):
        row.view(str(i), types.ImageView(width="56px", height="56px", alt=f"{alt} {i + 1}",
                                         componentsProps=item), default=_media(path))


def _num(value):
    return "–" if value is None else f"{value:.4f}"


class DscoPanel(foo.Panel):
    @property
    def config(self):
        return foo.PanelConfig(name="dsco_panel", label="DsCo", icon="compress",
                               help_markdown="DsCo runs on this dataset: open or delete a run, "
                                             "real vs synthetic images, MMD per class, "
                                             "evaluations as tables and charts")

    def on_load(self, ctx):
        from fiftyone_dsco.budget import curve_traces
        from fiftyone_dsco.evaluation import plotly_traces
        from fiftyone_dsco.runs import BUDGET_SEARCH, EVALUATION, list_runs, load_results

        if ctx.dataset is None:
            return ctx.panel.data.set("chart", [])
        data = {"chart": plotly_traces(ctx.dataset)}
        for r in list_runs(ctx.dataset, EVALUATION):
            arms = load_results(ctx.dataset, r["key"]).get("arms", {})
            data[f"per_class_{r['key']}"] = [
                dict(type="bar", name=a["name"], x=list(a["per_class"]),
                     y=[None if v is None else round(100 * v, 2) for v in a["per_class"].values()])
                for a in arms.values() if a.get("per_class")]
        for r in list_runs(ctx.dataset, BUDGET_SEARCH):
            data[f"curve_{r['key']}"] = curve_traces(load_results(ctx.dataset, r["key"]))
        ctx.panel.data.set(data)

    def on_change_dataset(self, ctx):
        self.on_load(ctx)

    def refresh(self, ctx):
        """Read the runs again: a delegated worker or the CLI may have added some."""
        self.on_load(ctx)

    def open_view(self, ctx):
        ctx.ops.set_view(name=ctx.params["name"])

    def pick_class(self, ctx):
        pass  # the dropdown's value is in the panel state; render reads it

    def ask_delete(self, ctx):
        ctx.panel.state.confirm_delete = ctx.params["key"]

    def cancel_delete(self, ctx):
        ctx.panel.state.confirm_delete = None

    def delete_run(self, ctx):
        from fiftyone_dsco.runs import delete

        key = ctx.params["key"]
        delete(ctx.dataset, key)
        ctx.panel.state.confirm_delete = None
        self.on_load(ctx)
        ctx.ops.notify(f"Deleted DsCo run '{key}'", variant="success")
        ctx.ops.reload_dataset()

    def render(self, ctx):
        from fiftyone_dsco.evaluation import load_evaluation
        from fiftyone_dsco.runs import (BUDGET_SEARCH, EVALUATION, list_runs, load_results,
                                        run_status)

        panel = types.Object()
        panel.btn("refresh", label="Refresh", icon="refresh", on_click=self.refresh)
        runs = list_runs(ctx.dataset) if ctx.dataset is not None else []
        if not runs:
            panel.md("No DsCo runs on this dataset yet: start one from the operator browser "
                     "(press `` ` `` and type *DsCo*).", name="none")
            return types.Property(panel)
        rows = ["| run | kind | status | size | started |", "|---|---|---|---:|---|"]
        results = {}
        for r in runs:
            res = results[r["key"]] = load_results(ctx.dataset, r["key"])
            size = res.get("size", res.get("num_samples", ""))
            rows.append(f"| {r['key']} | {r['kind']} | {run_status(ctx.dataset, r['key'])} | "
                        f"{size} | {r['timestamp'][:16]} |")
        panel.md("\n".join(rows), name="runs")
        confirm = ctx.panel.state.confirm_delete
        for r in runs:
            key, view = r["key"], results[r["key"]].get("saved_view")
            if view and ctx.dataset.has_saved_view(view):
                panel.btn(f"open_{key}", label=f"Open {view}", icon="visibility",
                          on_click=self.open_view, params={"name": view})
            if key != confirm:
                panel.btn(f"delete_{key}", label=f"Delete {key}", icon="delete",
                          on_click=self.ask_delete, params={"key": key})
                continue
            panel.view(f"confirm_{key}", types.Warning(
                label=f"Delete run '{key}'?", description="This removes its samples, files, "
                "tags, saved view and evaluation fields. It cannot be undone."))
            panel.btn(f"confirm_delete_{key}", label=f"Yes, delete {key}", icon="delete",
                      variant="contained", on_click=self.delete_run, params={"key": key})
            panel.btn(f"cancel_delete_{key}", label="Cancel", on_click=self.cancel_delete)
        evals = [r["key"] for r in runs if r["kind"] == EVALUATION]
        if evals:
            panel.plot("chart", label="Top-1 accuracy (%) against images per class",
                       layout=dict(xaxis=dict(title="images per class", type="log"),
                                   yaxis=dict(title="top-1 accuracy (%)"), height=360))
        for key in evals:
            table = load_evaluation(ctx.dataset, key).format_table()
            panel.md(f"**Evaluation `{key}`**\n\n{table}\n\n_{ONE_SEED}_", name=f"eval_{key}")
            panel.plot(f"per_class_{key}", label=f"Per-class top-1 accuracy (%), `{key}`",
                       layout=dict(barmode="group", height=300, xaxis=dict(type="category"),
                                   yaxis=dict(title="top-1 accuracy (%)", range=[0, 100])))
        for r in runs:
            if r["kind"] == BUDGET_SEARCH:
                self._render_search(panel, r["key"], results[r["key"]])
        for r in runs:
            if r["kind"] in MMD_COLUMNS:
                self._render_run(ctx, panel, r, results[r["key"]])
        return types.Property(panel, view=types.GridView(orientation="vertical"))

    def _render_search(self, panel, key, res):
        from fiftyone_dsco.budget import format_answer

        answer = format_answer(res) if "stopped" in res else "Running: no answer yet."
        panel.md(f"**Budget search `{key}`**\n\n" + answer.replace("\n", "  \n"),
                 name=f"search_{key}")
        panel.plot(f"curve_{key}", label=f"Validation top-1 accuracy (%) against images per "
                                         f"class, `{key}`",
                   layout=dict(xaxis=dict(title="images per class", type="log"),
                               yaxis=dict(title="validation top-1 accuracy (%)"), height=360))

    def _render_run(self, ctx, panel, run, res):
        key, kind, cfg = run["key"], run["kind"], run["config"]
        before, after, before_label, after_label = MMD_COLUMNS[kind]
        what = "real vs synthetic images, " if kind == "synthesis" else ""
        panel.md(f"**{kind.capitalize()} `{key}`**: {what}MMD per class to the real train "
                 f"split (lower is closer)", name=f"title_{key}")
        if kind == "synthesis" and cfg.get("classes"):
            self._render_grid(ctx, panel, key, cfg)
        rows = [f"| class | {before_label} | {after_label} |", "|---|---:|---:|"]
        rows += [f"| {c} | {_num(v.get(before))} | {_num(v.get(after))} |"
                 for c, v in res.get("classes", {}).items()]
        panel.md("\n".join(rows), name=f"mmd_{key}")

    def _render_grid(self, ctx, panel, key, cfg):
        from fiftyone import ViewField as F
        from fiftyone_dsco.data import train_view
        from fiftyone_dsco.runs import synthetic_samples

        classes = cfg["classes"]
        cls = ctx.panel.state.get(f"class_{key}") or classes[0]
        panel.enum(f"class_{key}", classes, default=cls, label="Class",
                   view=types.DropdownView(), on_change=self.pick_class)
        synthetic = (synthetic_samples(ctx.dataset, key)
                     .match(F("dsco.class_index") == classes.index(cls))
                     .sort_by("dsco.index").limit(MAX_SHOWN).values("filepath"))
        real = (train_view(ctx.dataset).match(F(cfg["label_field"] + ".label") == cls)
                .limit(len(synthetic) or MAX_SHOWN).values("filepath"))
        grid = panel.h_stack(f"grid_{key}", gap=4)
        for side, paths, title in (("real", real, "Real train images"),
                                   ("synthetic", synthetic, f"Synthetic images, run `{key}`")):
            col = grid.v_stack(side, gap=1)
            col.md(f"**{title}** of `{cls}` ({len(paths)})", name="title")
            _images(col, "images", side, paths)
