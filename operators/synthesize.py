"""Operator: synthesise a set with NOpt or plain sampling into the dataset."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_dsco import names

from ._common import (delegation_config, delegation_notice, execute, execution_options,
                      extractor_choices, fan_out, form, invalid, label_field_input, num_shards,
                      prior_input, run_job, run_key_input, shard_inputs, shard_param, size_gate,
                      size_preview, target_counts, target_input)


class Synthesize(foo.Operator):
    @property
    def config(self):
        return delegation_config("synthesize", "DsCo: synthesize (NOpt or plain)",
                                 "Generate IPC images per class with noise optimisation",
                                 icon="auto_awesome", distributed=True, stream=True)

    def resolve_execution_options(self, ctx):
        return execution_options(ctx, self.config, _work(ctx))

    def resolve_input(self, ctx):
        inputs = types.Object()
        target = target_input(inputs, ctx)
        field = label_field_input(inputs, ctx, target) if target is not None else None
        if not field:
            return form(inputs, "Synthesize")
        delegation_notice(inputs, stream=True)
        prior_input(inputs, ctx)
        p = ctx.params
        ipc = 10 if p.get("ipc") is None else int(p["ipc"])
        prop = inputs.int("ipc", default=10, required=True, min=1, label="Images per class (IPC)")
        if ipc < 1:
            invalid(prop, "Images per class must be >= 1")
        inputs.enum("method", list(names.METHODS), default=names.DEFAULT_METHOD, label="Method",
                    view=types.RadioGroup())
        inputs.bool("data_free", default=False, label="Data-free",
                    description="Read no real image: the target is a pool of the prior's samples")
        init = inputs.enum("init", list(names.INITS), default=names.DEFAULT_INIT,
                           label="Start from", view=types.RadioGroup(),
                           description="Noise, or real train images noised to a strength "
                                       "(SDEdit; not better than noise on validation, docs/method.md)")
        if p.get("init") == "real":
            inputs.float("strength", default=names.DEFAULT_STRENGTH, min=0, max=1,
                         label="Strength", description="1: almost pure noise; 0: the real picks")
            inputs.enum("init_selector", list(names.SELECTORS),
                        default=names.DEFAULT_INIT_SELECTOR, label="Pick the real starts by")
            inputs.bool("init_prefer_recognised", default=names.DEFAULT_INIT_PREFER_RECOGNISED,
                        label="Recognised samples first",
                        description="Pick the starts among the samples the reference "
                                    "classifier recognises first")
            inputs.enum("init_noising", list(names.INIT_NOISINGS),
                        default=names.DEFAULT_INIT_NOISING, label="Bring them to the strength by",
                        view=types.RadioGroup(),
                        description="Forward noising (SDEdit) or DDIM inversion with the prior")
            if p.get("data_free"):
                invalid(init, "A data-free run reads no real image: start from noise")
        match = inputs.bool("match_histograms",
                            default=names.default_match_histograms(bool(p.get("data_free"))),
                            label="Match the real images' histograms",
                            description="Map each class's pixels onto its real images' "
                                        "distribution (removes NOpt's background haze, "
                                        "docs/method.md)")
        if p.get("match_histograms") and p.get("data_free"):
            invalid(match, "A data-free run reads no real image: turn this off")
        inputs.int("iterations", default=1, min=0, label="NOpt iterations per sampler step")
        inputs.float("lr", default=0.03, label="NOpt learning rate")
        inputs.bool("levers", default=False, label="NOpt objective levers",
                    description="Their defaults: random ConvNets for data-free runs, the "
                                "rest off; docs/method.md says what each measured")
        if p.get("levers"):
            inputs.float("step_fraction", default=names.DEFAULT_STEP_FRACTION, min=0, max=1,
                         label="Step fraction",
                         description="Optimise only this first fraction of the sampler steps "
                                     "(1: every step; docs/method.md)")
            inputs.float("diversity", default=0.0, min=0, label="Diversity weight")
            inputs.str("augment", label="DSA augmentation on both sides",
                       description="e.g. color_crop_cutout_scale_rotate (empty: off)")
            inputs.int("random_nets", min=0, label="Random ConvNet embeddings per step",
                       default=names.default_random_nets(
                           bool(p.get("data_free")), p.get("extractor", names.DEFAULT_EXTRACTOR)),
                       description="Added to the MMD at each sampler step; data-free runs "
                                   f"take {names.DEFAULT_DATA_FREE_RANDOM_NETS} by default "
                                   "(chosen on validation), others 0")
        batch = inputs.str("class_batch", default=names.DEFAULT_CLASS_BATCH,
                           label="Classes per denoiser call",
                           description="A number, or auto (by device; the images are the same "
                                       "either way)")
        if not _class_batch_ok(p.get("class_batch") or names.DEFAULT_CLASS_BATCH):
            invalid(batch, "A whole number >= 1, or auto")
        inputs.bool("autocast", default=True, label="Autocast on CUDA (bf16, else fp16)")
        inputs.int("steps", default=25, min=1, label="Sampler steps")
        guidance = inputs.float(
            "guidance", label="Guidance scale",
            description=f"Empty: {names.DEFAULT_GUIDANCE:g}, or "
                        f"{names.DEFAULT_DATA_FREE_GUIDANCE:g} for a data-free run")
        if p.get("guidance") is not None and not p["guidance"] > 0:
            invalid(guidance, "A number > 0, or empty for the default")
        inputs.enum("extractor", extractor_choices(), default=names.DEFAULT_EXTRACTOR,
                    label="Feature extractor")
        inputs.int("seed", default=0, label="Seed",
                   description="Class k uses seed * 100003 + k, whatever the shard")
        method, data_free = p.get("method", names.DEFAULT_METHOD), bool(p.get("data_free"))
        if method == "plain" and data_free:
            inputs.view("df_plain", types.Warning(
                label="Data-free has no effect on plain sampling"))
        options = dict(ipc=ipc, method=method, data_free=data_free, seed=int(p.get("seed") or 0),
                       steps=int(p.get("steps") or 25),
                       extractor=p.get("extractor", names.DEFAULT_EXTRACTOR))
        run_key_input(inputs, ctx, names.synthesis_run_key(method, ipc, data_free),
                      names.SYNTHESIS, options)
        shard_inputs(inputs, ctx)
        if ipc >= 1:
            size_preview(inputs, target, field, ipc)
            size_gate(inputs, ctx, _work(ctx))
        return form(inputs, "Synthesize")

    def execute(self, ctx):
        return run_job(ctx, "Synthesis", lambda progress: self._run(ctx, progress),
                       self.resolve_output(ctx))

    def _run(self, ctx, progress):
        from fiftyone_dsco.synthesis import synthesize

        p = ctx.params
        shard = shard_param(ctx)
        if shard is None and num_shards(ctx) > 1:
            run_key = p.get("run_key") or names.synthesis_run_key(
                p.get("method", names.DEFAULT_METHOD), p["ipc"], p.get("data_free"))
            return fan_out(ctx, self.config.name, run_key, "DsCo synthesize"), None, None
        res = synthesize(ctx.target_view(), p["label_field"], p["prior"], int(p["ipc"]),
                         method=p.get("method", names.DEFAULT_METHOD), run_key=p.get("run_key"),
                         data_free=bool(p.get("data_free")), steps=int(p.get("steps", 25)),
                         guidance=None if p.get("guidance") is None else float(p["guidance"]),
                         iterations=int(p.get("iterations", 1)), lr=float(p.get("lr", 0.03)),
                         extractor=p.get("extractor", names.DEFAULT_EXTRACTOR),
                         seed=int(p.get("seed") or 0),
                         init=p.get("init") or names.DEFAULT_INIT,
                         strength=float(p.get("strength", names.DEFAULT_STRENGTH)),
                         init_selector=p.get("init_selector") or names.DEFAULT_INIT_SELECTOR,
                         init_noising=p.get("init_noising") or names.DEFAULT_INIT_NOISING,
                         init_prefer_recognised=bool(p.get(
                             "init_prefer_recognised", names.DEFAULT_INIT_PREFER_RECOGNISED)),
                         match_histograms=p.get("match_histograms"),
                         class_batch=names.class_batch_value(
                             p.get("class_batch") or names.DEFAULT_CLASS_BATCH),
                         autocast=bool(p.get("autocast", True)),
                         overwrite=bool(p.get("overwrite")), shard=shard,
                         progress=progress, **_levers(p))
        done = "" if res.get("complete") else " (run incomplete)"
        return ({"run_key": p.get("run_key"), "num_samples": res["num_samples"],
                 "saved_view": res["saved_view"], "complete": bool(res.get("complete"))},
                res.get("saved_view"),
                f"Synthesis '{p.get('run_key')}': {res['num_samples']} images{done}")

    def resolve_output(self, ctx):
        outputs = types.Object()
        outputs.str("run_key", label="Run")
        outputs.int("num_samples", label="Synthetic samples")
        outputs.str("saved_view", label="Saved view")
        outputs.bool("complete", label="Run complete")
        outputs.int("queued", label="Shard operations queued")
        return types.Property(outputs)

    def __call__(self, view, label_field, prior, ipc, method=names.DEFAULT_METHOD, run_key=None,
                 data_free=False, iterations=1, lr=0.03, steps=25, guidance=None,
                 extractor=names.DEFAULT_EXTRACTOR, seed=0, overwrite=False, num_shards=1,
                 shard=None, init=names.DEFAULT_INIT, strength=names.DEFAULT_STRENGTH,
                 init_selector=names.DEFAULT_INIT_SELECTOR,
                 init_noising=names.DEFAULT_INIT_NOISING,
                 init_prefer_recognised=names.DEFAULT_INIT_PREFER_RECOGNISED,
                 step_fraction=names.DEFAULT_STEP_FRACTION, diversity=0.0,
                 augment=None, random_nets=None, match_histograms=None,
                 class_batch=names.DEFAULT_CLASS_BATCH, autocast=True, delegate=False,
                 delegation_target=None):
        """Run (or with ``delegate`` queue) a synthesis on ``view`` (a dataset or a
        view); ``num_shards > 1`` queues one delegated operation per class shard and
        returns their ids."""
        run_key = run_key or names.synthesis_run_key(method, ipc, data_free)
        return execute(self.config.name, view, dict(
            label_field=label_field, prior=prior, ipc=ipc, method=method, run_key=run_key,
            data_free=data_free, iterations=iterations, lr=lr, steps=steps, guidance=guidance,
            extractor=extractor, seed=seed, overwrite=overwrite, num_shards=num_shards,
            shard=list(shard) if shard else None, init=init, strength=strength,
            init_selector=init_selector, init_noising=init_noising,
            init_prefer_recognised=init_prefer_recognised, levers=True,
            step_fraction=step_fraction, diversity=diversity, augment=augment,
            random_nets=random_nets, match_histograms=match_histograms,
            class_batch=str(class_batch), autocast=autocast), delegate,
            delegation_target)


def _levers(p):
    """NOpt's objective levers from the form (only when its toggle is on)."""
    if not p.get("levers"):
        return {}
    return dict(step_fraction=float(p.get("step_fraction") or names.DEFAULT_STEP_FRACTION),
                diversity=float(p.get("diversity") or 0.0), augment=p.get("augment") or None,
                random_nets=None if p.get("random_nets") is None else int(p["random_nets"]))


def _class_batch_ok(text):
    value = names.class_batch_value(text)
    return value == names.DEFAULT_CLASS_BATCH or (isinstance(value, int) and value >= 1)


def _work(ctx):
    """The synthetic images a run makes (none to estimate when shards are queued)."""
    if num_shards(ctx) > 1:
        return {}
    ipc = ctx.params.get("ipc")
    return {"synthetic images": len(target_counts(ctx)) * int(10 if ipc is None else ipc)}
