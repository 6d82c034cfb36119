"""Operator: synthesise a set with NOpt or plain sampling into the dataset."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_dsco import names

from ._common import (delegation_config, execute, extractor_choices, fan_out, label_field_input,
                      num_shards, prior_input, progress_callback, run_key_input, shard_inputs,
                      shard_param, size_preview)


class Synthesize(foo.Operator):
    @property
    def config(self):
        return delegation_config("synthesize", "DsCo: synthesize (NOpt or plain)",
                                 "Generate IPC images per class with noise optimisation",
                                 distributed=True)

    def resolve_input(self, ctx):
        inputs = types.Object()
        field = label_field_input(inputs, ctx)
        prior_input(inputs, ctx)
        inputs.int("ipc", default=10, required=True, min=1, label="Images per class (IPC)")
        inputs.enum("method", list(names.METHODS), default=names.DEFAULT_METHOD, label="Method",
                    view=types.RadioGroup())
        inputs.bool("data_free", default=False, label="Data-free",
                    description="Read no real image: the target is a pool of the prior's samples")
        inputs.int("iterations", default=1, min=0, label="NOpt iterations per sampler step")
        inputs.float("lr", default=0.03, label="NOpt learning rate")
        inputs.int("steps", default=25, min=1, label="Sampler steps")
        inputs.float("guidance", default=2.0, label="Guidance scale")
        inputs.enum("extractor", extractor_choices(), default=names.DEFAULT_EXTRACTOR,
                    label="Feature extractor")
        inputs.int("seed", default=0, label="Seed",
                   description="Class k uses seed * 100003 + k, whatever the shard")
        p = ctx.params
        method, ipc = p.get("method", names.DEFAULT_METHOD), p.get("ipc") or 10
        if p.get("method") == "plain" and p.get("data_free"):
            inputs.view("df_plain", types.Warning(
                label="Data-free has no effect on plain sampling"))
        run_key_input(inputs, ctx, names.synthesis_run_key(method, ipc, p.get("data_free")))
        shard_inputs(inputs, ctx)
        if field and ctx.view is not None:
            size_preview(inputs, ctx, field, ipc)
        return types.Property(inputs, view=types.View(label="Synthesize"))

    def execute(self, ctx):
        from fiftyone_dsco.synthesis import synthesize

        p = ctx.params
        shard = shard_param(ctx)
        if shard is None and num_shards(ctx) > 1:
            run_key = p.get("run_key") or names.synthesis_run_key(
                p.get("method", names.DEFAULT_METHOD), p["ipc"], p.get("data_free"))
            return fan_out(ctx, self.config.name, run_key, "DsCo synthesize")
        res = synthesize(ctx.view, p["label_field"], p["prior"], int(p["ipc"]),
                         method=p.get("method", names.DEFAULT_METHOD), run_key=p.get("run_key"),
                         data_free=bool(p.get("data_free")), steps=int(p.get("steps", 25)),
                         guidance=float(p.get("guidance", 2.0)),
                         iterations=int(p.get("iterations", 1)), lr=float(p.get("lr", 0.03)),
                         extractor=p.get("extractor", names.DEFAULT_EXTRACTOR),
                         seed=int(p.get("seed") or 0),
                         overwrite=bool(p.get("overwrite")), shard=shard,
                         progress=progress_callback(ctx, "Classes"))
        if not ctx.delegated:
            ctx.ops.reload_dataset()
        return {"run_key": p.get("run_key"), "num_samples": res["num_samples"],
                "saved_view": res["saved_view"], "complete": bool(res.get("complete"))}

    def resolve_output(self, ctx):
        outputs = types.Object()
        outputs.str("run_key", label="Run")
        outputs.int("num_samples", label="Synthetic samples")
        outputs.str("saved_view", label="Saved view")
        outputs.bool("complete", label="Run complete")
        outputs.int("queued", label="Shard operations queued")
        return types.Property(outputs)

    def __call__(self, view, label_field, prior, ipc, method=names.DEFAULT_METHOD, run_key=None,
                 data_free=False, iterations=1, lr=0.03, steps=25, guidance=2.0,
                 extractor=names.DEFAULT_EXTRACTOR, seed=0, overwrite=False, num_shards=1,
                 shard=None, delegate=False):
        """Run (or with ``delegate`` queue) a synthesis; ``num_shards > 1`` queues
        one delegated operation per class shard and returns their ids."""
        run_key = run_key or names.synthesis_run_key(method, ipc, data_free)
        return execute(self.config.name, view, dict(
            label_field=label_field, prior=prior, ipc=ipc, method=method, run_key=run_key,
            data_free=data_free, iterations=iterations, lr=lr, steps=steps, guidance=guidance,
            extractor=extractor, seed=seed, overwrite=overwrite, num_shards=num_shards,
            shard=list(shard) if shard else None), delegate)
