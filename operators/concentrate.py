"""Operator: the one-click path — synthesise and dope to a total budget."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_dsco import names

from ._common import (RECOGNISED_HELP, SELECTOR_HELP, delegation_config, delegation_notice,
                      execute, execution_options, form, invalid, label_field_input, prior_input,
                      run_job, run_key_input, size_gate, size_preview, target_counts,
                      target_input)


class Concentrate(foo.Operator):
    @property
    def config(self):
        return delegation_config(
            "concentrate", "DsCo: concentrate dataset",
            "Build a small training set: NOpt synthesis + selected real samples", icon="compress",
            stream=True)

    def resolve_execution_options(self, ctx):
        return execution_options(ctx, self.config, _work(ctx))

    def resolve_input(self, ctx):
        from fiftyone_dsco.concentrate import split_budget

        inputs = types.Object()
        target = target_input(inputs, ctx)
        field = label_field_input(inputs, ctx, target) if target is not None else None
        if not field:
            return form(inputs, "Concentrate")
        delegation_notice(inputs, stream=True)
        prior_input(inputs, ctx)
        kind = ctx.params.get("budget_type") or PER_CLASS
        inputs.enum("budget_type", [PER_CLASS, FRACTION], default=PER_CLASS, label="Budget as",
                    view=types.RadioGroup())
        split = (f"NOpt images from noise up to {names.SYNTHETIC_CAP} per class, NOpt from the "
                 f"selector's real picks up to {names.REAL_START_CAP}, selected real samples "
                 f"above")
        if kind == FRACTION:
            inputs.float("fraction", default=0.1, min=0.001, max=1.0, required=True,
                         label="Fraction of the train split", description=f"In (0, 1]; {split}")
        else:
            inputs.int("images_per_class", default=10, min=1, required=True,
                       label="Images per class", description=split[0].upper() + split[1:])
        inputs.enum("method", list(names.METHODS), default=names.DEFAULT_METHOD, label="Synthesis")
        per_class = _per_class(target, field, _budget(ctx.params))
        # above the cap the selector picks real samples alone (the set, or NOpt's starts)
        real_only = bool(per_class) and split_budget(per_class).init != "noise"
        inputs.enum("selector", list(names.SELECTORS), default=names.default_selector(real_only),
                    label="Selector", description=SELECTOR_HELP)
        inputs.int("candidates_per_image", default=names.DEFAULT_CANDIDATES, min=1,
                   label="Synthetic candidates per kept image",
                   description="K > 1: synthesise K times the synthetic share, keep the ones the "
                               "reference classifier recognises that bring the set closest to "
                               "the real class (joint selection; under study)")
        pool = inputs.enum("joint_pool", list(names.JOINT_POOLS), default=names.DEFAULT_JOINT_POOL,
                    label="Joint selection picks from",
                    description="synthetic: the candidates alone, the synthetic share fixed; "
                                "union: real samples and candidates together by greedy MMD, the "
                                "objective decides the share (needs the mmd-greedy selector)")
        if ctx.params.get("joint_pool") == "union" and \
                ctx.params.get("selector", names.UNION_SELECTOR) != names.UNION_SELECTOR:
            invalid(pool, "The union pool is picked by greedy MMD: choose the mmd-greedy selector")
        inputs.bool("prefer_recognised", default=names.default_prefer_recognised(real_only),
                    label="Recognised real samples first",
                    description=RECOGNISED_HELP)
        inputs.int("seed", default=0, label="Seed")
        p = ctx.params
        run_key_input(inputs, ctx, names.DEFAULT_CONCENTRATE_KEY, names.DOPING,
                      dict(selector=p.get("selector") or names.default_selector(real_only),
                           seed=int(p.get("seed") or 0)))
        if per_class:
            split = split_budget(per_class)
            size_preview(inputs, target, field, split.synthetic, split.real)
            size_gate(inputs, ctx, _work(ctx))
        return form(inputs, "Concentrate")

    def execute(self, ctx):
        return run_job(ctx, "Concentrate", lambda progress: self._run(ctx, progress),
                       self.resolve_output(ctx))

    def _run(self, ctx, progress):
        from fiftyone_dsco.concentrate import concentrate

        p = ctx.params
        out = concentrate(ctx.target_view(), p["label_field"], p["prior"], _budget(p),
                          run_key=p.get("run_key", names.DEFAULT_CONCENTRATE_KEY),
                          method=p.get("method", names.DEFAULT_METHOD),
                          selector=p.get("selector"),
                          seed=int(p.get("seed") or 0),
                          candidates_per_image=int(p.get("candidates_per_image")
                                                   or names.DEFAULT_CANDIDATES),
                          joint_pool=p.get("joint_pool", names.DEFAULT_JOINT_POOL),
                          prefer_recognised=p.get("prefer_recognised"),
                          overwrite=bool(p.get("overwrite")),
                          progress=progress)
        return ({"saved_view": out["saved_view"], "synthetic_per_class": out["synthetic_per_class"],
                 "real_per_class": out["real_per_class"], "size": out["doping"]["size"]},
                out["saved_view"],
                f"Concentrated set '{out['saved_view']}': {out['doping']['size']} images")

    def resolve_output(self, ctx):
        outputs = types.Object()
        outputs.str("saved_view", label="Saved view")
        outputs.int("synthetic_per_class", label="Synthetic per class")
        outputs.int("real_per_class", label="Real per class")
        outputs.int("size", label="Concentrated set size")
        return types.Property(outputs)

    def __call__(self, view, label_field, prior, budget, run_key=names.DEFAULT_CONCENTRATE_KEY,
                 method=names.DEFAULT_METHOD, selector=None, seed=0,
                 candidates_per_image=names.DEFAULT_CANDIDATES,
                 joint_pool=names.DEFAULT_JOINT_POOL,
                 prefer_recognised=None, overwrite=False,
                 delegate=False, delegation_target=None):
        """Concentrate ``view`` (a dataset or a view). ``budget``: images per class
        (int) or a fraction of the train split (float in (0, 1]); ``selector``,
        ``prefer_recognised`` None: the mode's defaults (``concentrate()``'s)."""
        size = (dict(budget_type=FRACTION, fraction=budget) if isinstance(budget, float)
                else dict(budget_type=PER_CLASS, images_per_class=budget))
        return execute(self.config.name, view, dict(
            label_field=label_field, prior=prior, run_key=run_key, method=method,
            selector=selector, seed=seed, candidates_per_image=candidates_per_image,
            joint_pool=joint_pool, prefer_recognised=prefer_recognised, overwrite=overwrite,
            **size), delegate, delegation_target)


PER_CLASS, FRACTION = "images per class", "fraction of the train split"


def _budget(params):
    """The budget the form describes: an int per class, or a float fraction."""
    if params.get("budget_type") == FRACTION:
        return float(params.get("fraction") or 0.1)
    return int(params.get("images_per_class") or 10)


def _per_class(view, label_field, budget):
    """Images per class for the preview (None when the budget is out of range)."""
    from fiftyone_dsco.concentrate import budget_per_class
    from fiftyone_dsco.errors import DscoError

    try:
        return budget_per_class(view, label_field, budget)
    except DscoError:
        return None


def _work(ctx):
    """The synthetic images a run makes and the real train samples it selects from."""
    from fiftyone_dsco.concentrate import split_budget

    counts = target_counts(ctx)
    field = ctx.params.get("label_field") or names.DEFAULT_LABEL_FIELD
    per_class = _per_class(ctx.target_view(), field, _budget(ctx.params)) if counts else None
    if not per_class:
        return {}
    synthetic, real, init = split_budget(per_class)
    k = int(ctx.params.get("candidates_per_image") or names.DEFAULT_CANDIDATES)
    return {"synthetic images": len(counts) * synthetic * k,  # every candidate is synthesised
            # real picks are the set, or NOpt's starts
            "real train samples": sum(counts.values()) if real or init == "real" else 0}
