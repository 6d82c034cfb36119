"""Operator: the one-click path — synthesise and dope to a total budget."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ._common import (delegation_config, execute, label_field_input, prior_input,
                      progress_callback, run_key_input, size_preview)


class Concentrate(foo.Operator):
    @property
    def config(self):
        return delegation_config("concentrate", "DsCo: concentrate dataset",
                                 "Build a small training set: NOpt synthesis + selected real samples")

    def resolve_input(self, ctx):
        from fiftyone_dsco.concentrate import SYNTHETIC_CAP, split_budget

        inputs = types.Object()
        field = label_field_input(inputs, ctx)
        prior_input(inputs, ctx)
        inputs.int("images_per_class", default=10, min=1, required=True,
                   label="Images per class",
                   description=f"Up to {SYNTHETIC_CAP} synthetic (none from "
                               f"{4 * SYNTHETIC_CAP} up), the rest selected real samples")
        inputs.enum("method", ["nopt", "plain"], default="nopt", label="Synthesis")
        inputs.enum("selector", ["mmd-greedy", "kcenter", "herding", "random"],
                    default="mmd-greedy", label="Selector")
        run_key_input(inputs, ctx, "dsco")
        if field:
            syn, real = split_budget(int(ctx.params.get("images_per_class") or 10))
            size_preview(inputs, ctx, field, syn, real)
        return types.Property(inputs, view=types.View(label="Concentrate"))

    def execute(self, ctx):
        from fiftyone_dsco.concentrate import concentrate

        p = ctx.params
        out = concentrate(ctx.view, p["label_field"], p["prior"], int(p["images_per_class"]),
                          run_key=p.get("run_key", "dsco"), method=p.get("method", "nopt"),
                          selector=p.get("selector", "mmd-greedy"),
                          overwrite=bool(p.get("overwrite")),
                          progress=progress_callback(ctx, "Classes"))
        if not ctx.delegated:
            ctx.ops.reload_dataset()
        return {"saved_view": out["saved_view"], "synthetic_per_class": out["synthetic_per_class"],
                "real_per_class": out["real_per_class"], "size": out["doping"]["size"]}

    def resolve_output(self, ctx):
        outputs = types.Object()
        outputs.str("saved_view", label="Saved view")
        outputs.int("synthetic_per_class", label="Synthetic per class")
        outputs.int("real_per_class", label="Real per class")
        outputs.int("size", label="Concentrated set size")
        return types.Property(outputs)

    def __call__(self, view, label_field, prior, images_per_class, run_key="dsco", method="nopt",
                 selector="mmd-greedy", overwrite=False, delegate=False):
        return execute(self.config.name, view, dict(
            label_field=label_field, prior=prior, images_per_class=images_per_class,
            run_key=run_key, method=method, selector=selector, overwrite=overwrite), delegate)
