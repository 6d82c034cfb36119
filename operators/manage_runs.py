"""Operator: list, inspect and delete DsCo runs (with their samples and files)."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ._common import execute, finish


class ManageRuns(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(name="manage_runs", label="DsCo: manage runs",
                                  description="List, inspect or delete DsCo runs", dynamic=True,
                                  icon="history")

    def resolve_input(self, ctx):
        from fiftyone_dsco.runs import list_runs

        inputs = types.Object()
        runs = list_runs(ctx.dataset) if ctx.dataset is not None else []
        if not runs:
            inputs.view("none", types.Notice(label="This dataset has no DsCo runs yet."))
            return types.Property(inputs)
        inputs.enum("action", ["list", "inspect", "delete"], default="list", label="Action",
                    view=types.RadioGroup())
        if ctx.params.get("action", "list") != "list":
            choices = types.DropdownView()
            for r in runs:
                choices.add_choice(r["key"], label=r["key"], description=f"{r['kind']}, {r['timestamp']}")
            inputs.enum("run_key", choices.values(), required=True, label="Run", view=choices)
            if ctx.params.get("action") == "delete":
                inputs.view("warn", types.Warning(
                    label="Deletes the run's synthetic samples, their files, its tags and saved view "
                          "(FiftyOne's own 'delete run' does the same)"))
        return types.Property(inputs, view=types.View(label="DsCo runs"))

    def execute(self, ctx):
        from fiftyone_dsco.runs import delete, list_runs, load_results, run_config, run_status

        action, key = ctx.params.get("action", "list"), ctx.params.get("run_key")
        if action == "delete":
            delete(ctx.dataset, key)
            finish(ctx, message=f"Deleted run '{key}'")
            return {"deleted": key}
        if action == "inspect":
            return {"config": run_config(ctx.dataset, key), "results": load_results(ctx.dataset, key)}
        return {"runs": [dict({k: r[k] for k in ("key", "kind", "timestamp")},
                              status=run_status(ctx.dataset, r["key"]))
                         for r in list_runs(ctx.dataset)]}

    def resolve_output(self, ctx):
        outputs = types.Object()
        action = ctx.params.get("action", "list")
        if action == "delete":
            outputs.str("deleted", label="Deleted run")
        elif action == "inspect":
            outputs.obj("config", label="Config", view=types.JSONView())
            outputs.obj("results", label="Results", view=types.JSONView())
        else:
            table = types.TableView()
            for col, label in (("key", "Run key"), ("kind", "Kind"), ("status", "Status"),
                               ("timestamp", "Started")):
                table.add_column(col, label=label)
            outputs.list("runs", types.Object(), label="DsCo runs", view=table)
        return types.Property(outputs)

    def __call__(self, dataset, action="list", run_key=None):
        """List, inspect or delete the runs of ``dataset`` (a dataset or a view of it)."""
        return execute(self.config.name, dataset, dict(action=action, run_key=run_key))
