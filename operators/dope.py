"""Operator: mix selected real samples into a synthesis run (doping)."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ._common import (delegation_config, execute, label_field_input, progress_callback,
                      run_key_input, size_preview)

SELECTORS = ["mmd-greedy", "kcenter", "herding", "random"]


def _synthesis_runs(dataset):
    from fiftyone_dsco.runs import SYNTHESIS, list_runs

    return [r for r in list_runs(dataset, SYNTHESIS)] if dataset is not None else []


class Dope(foo.Operator):
    @property
    def config(self):
        return delegation_config("dope", "DsCo: dope with real samples",
                                 "Select real samples per class to mix into a synthetic set")

    def resolve_input(self, ctx):
        inputs = types.Object()
        field = label_field_input(inputs, ctx)
        syn = _synthesis_runs(ctx.dataset)
        if not syn:
            inputs.view("no_run", types.Error(label="No synthesis run",
                                              description="Run 'DsCo: synthesize' first."))
            return types.Property(inputs)
        choices = types.DropdownView()
        for r in syn:
            choices.add_choice(r["key"], label=r["key"],
                               description=f"IPC {r['config'].get('ipc')}, {r['config'].get('method')}")
        inputs.enum("synthetic_run", choices.values(), default=syn[0]["key"], required=True,
                    label="Synthesis run", view=choices)
        inputs.int("budget", default=10, min=0, required=True, label="Real samples per class")
        inputs.enum("selector", SELECTORS, default="mmd-greedy", label="Selector")
        inputs.bool("clamp", default=False, label="Clamp the budget at class sizes")
        p = ctx.params
        run = p.get("synthetic_run", syn[0]["key"])
        budget, selector = int(p.get("budget") or 0), p.get("selector", "mmd-greedy")
        run_key_input(inputs, ctx, f"{run}_dope{budget}_{selector.replace('-', '_')}")
        ipc = next((r["config"].get("ipc", 0) for r in syn if r["key"] == run), 0)
        if field:
            size_preview(inputs, ctx, field, ipc, budget)
        return types.Property(inputs, view=types.View(label="Dope"))

    def execute(self, ctx):
        from fiftyone_dsco.doping import dope

        p = ctx.params
        res = dope(ctx.view, p["label_field"], p["synthetic_run"], int(p["budget"]),
                   selector=p.get("selector", "mmd-greedy"), run_key=p.get("run_key"),
                   clamp=bool(p.get("clamp")), overwrite=bool(p.get("overwrite")),
                   progress=progress_callback(ctx, "Classes"))
        if not ctx.delegated:
            ctx.ops.reload_dataset()
        return {"num_selected": res["num_selected"], "size": res["size"],
                "saved_view": res["saved_view"]}

    def resolve_output(self, ctx):
        outputs = types.Object()
        outputs.int("num_selected", label="Real samples selected")
        outputs.int("size", label="Concentrated set size")
        outputs.str("saved_view", label="Saved view")
        return types.Property(outputs)

    def __call__(self, view, label_field, synthetic_run, budget, selector="mmd-greedy",
                 run_key=None, clamp=False, overwrite=False, delegate=False):
        run_key = run_key or f"{synthetic_run}_dope{budget}_{selector.replace('-', '_')}"
        return execute(self.config.name, view, dict(
            label_field=label_field, synthetic_run=synthetic_run, budget=budget,
            selector=selector, run_key=run_key, clamp=clamp, overwrite=overwrite), delegate)
