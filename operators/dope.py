"""Operator: mix selected real samples into a synthesis run (doping)."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_dsco import names

from ._common import (RECOGNISED_HELP, SELECTOR_HELP, delegation_config, delegation_notice,
                      execute, execution_options, extractor_choices, fan_out, form, invalid,
                      label_field_input, num_shards, prior_input, run_job, run_key_input,
                      shard_inputs, shard_param, size_gate, size_preview, target_counts,
                      target_input)

REAL_ONLY = "(none: real samples only)"


def _synthesis_runs(dataset):
    from fiftyone_dsco.runs import SYNTHESIS, list_runs

    return [r for r in list_runs(dataset, SYNTHESIS)] if dataset is not None else []


class Dope(foo.Operator):
    @property
    def config(self):
        return delegation_config("dope", "DsCo: dope with real samples",
                                 "Select real samples per class to mix into a synthetic set",
                                 icon="science", distributed=True, stream=True)

    def resolve_execution_options(self, ctx):
        return execution_options(ctx, self.config, _work(ctx))

    def resolve_input(self, ctx):
        inputs = types.Object()
        target = target_input(inputs, ctx)
        field = label_field_input(inputs, ctx, target) if target is not None else None
        if not field:
            return form(inputs, "Dope")
        delegation_notice(inputs, stream=True)
        syn = _synthesis_runs(ctx.dataset)
        choices = types.DropdownView()
        for r in syn:
            choices.add_choice(r["key"], label=r["key"],
                               description=f"IPC {r['config'].get('ipc')}, {r['config'].get('method')}")
        choices.add_choice(REAL_ONLY, label=REAL_ONLY,
                           description="A coreset of real samples, with a prior's image size")
        default_run = syn[0]["key"] if syn else REAL_ONLY
        inputs.enum("synthetic_run", choices.values(), default=default_run, required=True,
                    label="Synthesis run", view=choices)
        real_only = ctx.params.get("synthetic_run", default_run) == REAL_ONLY
        if real_only:
            prior_input(inputs, ctx)
        inputs.int("budget", default=10, min=0, required=True, label="Real samples per class")
        inputs.enum("selector", list(names.SELECTORS), default=names.default_selector(real_only),
                    label="Selector", description=SELECTOR_HELP)
        if _selector(ctx.params, real_only) in names.BANDWIDTH_SELECTORS:
            bandwidth = inputs.float(
                "bandwidth", default=names.DEFAULT_BANDWIDTH, label="Kernel bandwidth",
                description="The Gaussian kernel's sigma^2 as a multiple of the median "
                            "heuristic's (1: the heuristic itself)")
            chosen = ctx.params.get("bandwidth")
            if chosen is not None and not chosen > 0:
                invalid(bandwidth, "A number > 0")
        inputs.bool("prefer_recognised", default=names.default_prefer_recognised(real_only),
                    label="Recognised real samples first", description=RECOGNISED_HELP)
        inputs.bool("clamp", default=False, label="Clamp the budget at class sizes")
        inputs.enum("extractor", extractor_choices(), default=names.DEFAULT_EXTRACTOR,
                    label="Features",
                    description="reference: a ConvNet trained briefly on the real train split; "
                                "random: a random ConvNet; prior-latent: the prior's own space")
        inputs.int("seed", default=0, label="Seed")
        p = ctx.params
        run = p.get("synthetic_run", default_run)
        run = None if run == REAL_ONLY else run
        budget, selector = int(p.get("budget") or 0), _selector(p, real_only)
        options = dict(synthetic_run=run, budget=budget, selector=selector,
                       clamp=bool(p.get("clamp")), seed=int(p.get("seed") or 0),
                       extractor=p.get("extractor", names.DEFAULT_EXTRACTOR))
        run_key_input(inputs, ctx, names.doping_run_key(run, budget, selector), names.DOPING,
                      options)
        shard_inputs(inputs, ctx)
        ipc = next((r["config"].get("ipc", 0) for r in syn if r["key"] == run), 0)
        size_preview(inputs, target, field, ipc, budget)
        size_gate(inputs, ctx, _work(ctx))
        return form(inputs, "Dope")

    def execute(self, ctx):
        return run_job(ctx, "Doping", lambda progress: self._run(ctx, progress),
                       self.resolve_output(ctx))

    def _run(self, ctx, progress):
        from fiftyone_dsco.selection.doping import dope

        p = ctx.params
        shard = shard_param(ctx)
        synthetic_run = p.get("synthetic_run")
        synthetic_run = None if synthetic_run in (None, REAL_ONLY) else synthetic_run
        if shard is None and num_shards(ctx) > 1:
            run_key = p.get("run_key") or names.doping_run_key(
                synthetic_run, p["budget"], p.get("selector"))
            return fan_out(ctx, self.config.name, run_key, "DsCo dope"), None, None
        res = dope(ctx.target_view(), p["label_field"], synthetic_run, int(p["budget"]),
                   selector=p.get("selector"), run_key=p.get("run_key"),
                   clamp=bool(p.get("clamp")), overwrite=bool(p.get("overwrite")),
                   extractor=p.get("extractor", names.DEFAULT_EXTRACTOR), shard=shard,
                   seed=int(p.get("seed") or 0),
                   prior=p.get("prior") if synthetic_run is None else None,
                   selector_options=_selector_options(p, synthetic_run is None),
                   prefer_recognised=p.get("prefer_recognised"), progress=progress)
        return ({"num_selected": res["num_selected"], "size": res["size"],
                 "saved_view": res["saved_view"], "complete": bool(res.get("complete"))},
                res.get("saved_view"), f"Doping '{p.get('run_key')}': {res['num_selected']} "
                f"real samples selected" + ("" if res.get("complete") else " (run incomplete)"))

    def resolve_output(self, ctx):
        outputs = types.Object()
        outputs.int("num_selected", label="Real samples selected")
        outputs.int("size", label="Concentrated set size")
        outputs.str("saved_view", label="Saved view")
        outputs.bool("complete", label="Run complete")
        outputs.int("queued", label="Shard operations queued")
        return types.Property(outputs)

    def __call__(self, view, label_field, synthetic_run, budget, selector=None,
                 run_key=None, clamp=False, overwrite=False, extractor=names.DEFAULT_EXTRACTOR,
                 num_shards=1, shard=None, prior=None, seed=0, bandwidth=None,
                 prefer_recognised=None, delegate=False,
                 delegation_target=None):
        """Run (or with ``delegate`` queue) a doping run on ``view`` (a dataset or a
        view); ``num_shards > 1`` queues
        one delegated operation per class shard and returns their ids.
        ``synthetic_run=None`` with ``prior`` selects real samples only;
        ``selector``, ``prefer_recognised`` None: the mode's defaults (``dope()``'s);
        ``bandwidth``: mmd-greedy's kernel bandwidth (None: ``names.DEFAULT_BANDWIDTH``)."""
        if synthetic_run and prior is not None:
            raise ValueError("Give synthetic_run (dope a synthesis run) or prior (real samples "
                             "only), not both.")
        run_key = run_key or names.doping_run_key(synthetic_run, budget, selector)
        return execute(self.config.name, view, dict(
            label_field=label_field, synthetic_run=synthetic_run or REAL_ONLY,
            prior=getattr(prior, "path", prior),
            budget=budget,
            selector=selector, run_key=run_key, clamp=clamp, overwrite=overwrite,
            extractor=extractor, seed=seed, num_shards=num_shards,
            shard=list(shard) if shard else None, prefer_recognised=prefer_recognised,
            **({} if bandwidth is None else {"bandwidth": bandwidth})),
            delegate, delegation_target)


def _selector(params, real_only):
    """The selector the params name, or the mode's default."""
    return params.get("selector") or names.default_selector(real_only)


def _selector_options(params, real_only):
    """The selector's options from the form: a bandwidth other than the default, or none."""
    bandwidth = params.get("bandwidth")
    if _selector(params, real_only) not in names.BANDWIDTH_SELECTORS or \
            bandwidth in (None, names.DEFAULT_BANDWIDTH):
        return None
    return {"bandwidth": float(bandwidth)}


def _work(ctx):
    """The real train samples a run embeds and selects from (none when shards are queued)."""
    return {} if num_shards(ctx) > 1 else {"real train samples": sum(target_counts(ctx).values())}
