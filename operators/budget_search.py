"""Operator: how small can the training set be with no loss? (a budget search, delegated)."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_dsco import names

from ._common import (delegation_config, delegation_notice, error, execute, execution_options,
                      form, invalid, label_field_input, prior_input, run_job, run_key_input,
                      target_input)

#: A budget search trains 3 methods x 3 seeds at about ten budgets: never in the App server.
_ALWAYS_LARGE = {"training images seen": float("inf")}


class BudgetSearch(foo.Operator):
    @property
    def config(self):
        return delegation_config(
            "budget_search", "DsCo: budget search",
            "Find the smallest set (DsCo, herding or random) that trains as well as the full "
            "data, chosen on a validation split", icon="query_stats", stream=True)

    def resolve_execution_options(self, ctx):
        return execution_options(ctx, self.config, _ALWAYS_LARGE)

    def resolve_input(self, ctx):
        inputs = types.Object()
        target = target_input(inputs, ctx)
        field = label_field_input(inputs, ctx, target) if target is not None else None
        if not field:
            return form(inputs, "Budget search")
        delegation_notice(inputs, stream=True)
        prior_input(inputs, ctx)
        inputs.float("tolerance", default=names.DEFAULT_TOLERANCE, min=0, max=99, required=True,
                     label="Tolerance (accuracy points)",
                     description="A set has no loss when, one std below its mean, it is within "
                                 "this many points of the full data on the validation split")
        inputs.list("methods", types.String(), default=list(names.BUDGET_METHODS),
                    label="Methods", description="Compared at each budget",
                    view=types.DropdownView(multiple=True, choices=[
                        types.Choice(m, label=m) for m in names.BUDGET_METHODS]))
        methods = ctx.params.get("methods") or list(names.BUDGET_METHODS)
        if not {"dsco", "herding"} & set(methods):
            error(inputs, "bad_methods", "Pick 'dsco' or 'herding' (random alone is a baseline)")
        inputs.enum("recipe", list(names.RECIPES), default=names.DEFAULT_RECIPE, label="Recipe")
        inputs.int("seeds", default=names.DEFAULT_NUM_SEEDS, min=1, label="Seeds")
        inputs.int("epochs", min=1, label="Epochs", description="Override the recipe's epochs")
        prop = inputs.str("ladder", label="Ladder",
                          description="Budgets to climb, images per class, e.g. 1,2,5,10 "
                                      "(default 1, 2, 4, ... below the smallest class)")
        if ctx.params.get("ladder") and _ladder(ctx.params) is None:
            invalid(prop, "Give images per class separated by commas, e.g. 1,2,5,10")
        inputs.float("max_hours", label="Time budget (hours)",
                     description="Measure no new budget after this long; running it again "
                                 "continues the search")
        run_key_input(inputs, ctx, names.DEFAULT_BUDGET_KEY, names.BUDGET_SEARCH,
                      _options(ctx.params))
        inputs.view("how", types.Notice(
            label="Validation: 10% of each class's train samples, never trained on; the test "
                  "split is read once, for the chosen set (docs/budget.md)"))
        return form(inputs, "Budget search")

    def execute(self, ctx):
        return run_job(ctx, "Budget search", lambda progress: self._run(ctx, progress),
                       self.resolve_output(ctx))

    def _run(self, ctx, progress):
        from fiftyone_dsco.budget import budget_search, curve_traces, format_answer

        p = ctx.params
        res = budget_search(ctx.target_view(), p["label_field"], p.get("prior"),
                            run_key=p.get("run_key") or names.DEFAULT_BUDGET_KEY,
                            max_hours=p.get("max_hours") or None,
                            overwrite=bool(p.get("overwrite")), progress=progress,
                            **{k: v for k, v in _options(p).items() if k != "prior"})
        out = {"answer": format_answer(res), "budget": res.get("budget"),
               "method": res.get("method"), "saved_view": res.get("saved_view"),
               "chart": curve_traces(res)}
        return out, res.get("saved_view"), out["answer"].split("\n")[0]

    def resolve_output(self, ctx):
        outputs = types.Object()
        outputs.str("answer", label="Answer")
        outputs.int("budget", label="Images per class")
        outputs.str("method", label="Method")
        outputs.str("saved_view", label="Saved view")
        outputs.list("chart", types.Object(), label="Validation accuracy vs budget",
                     view=types.PlotlyView(layout=dict(xaxis=dict(title="images per class",
                                                                  type="log"),
                                                       yaxis=dict(title="top-1 %"))))
        return types.Property(outputs)

    def __call__(self, view, label_field, prior=None, run_key=names.DEFAULT_BUDGET_KEY,
                 tolerance=names.DEFAULT_TOLERANCE, methods=names.BUDGET_METHODS,
                 recipe=names.DEFAULT_RECIPE, seeds=names.DEFAULT_NUM_SEEDS, epochs=None,
                 ladder=None, max_hours=None, overwrite=False, delegate=False,
                 delegation_target=None):
        """Run (or with ``delegate`` queue) a budget search on ``view``; ``ladder`` is a
        list of budgets (images per class)."""
        return execute(self.config.name, view, dict(
            label_field=label_field, prior=prior, run_key=run_key, tolerance=tolerance,
            methods=list(methods), recipe=recipe, seeds=seeds, epochs=epochs,
            ladder=",".join(map(str, ladder)) if ladder else None, max_hours=max_hours,
            overwrite=overwrite), delegate, delegation_target)


def _options(params):
    """The search options the form holds (those a run with the same key must share)."""
    opts = dict(prior=params.get("prior"),
                tolerance=float(params.get("tolerance", names.DEFAULT_TOLERANCE)),
                methods=[m for m in names.BUDGET_METHODS
                         if m in (params.get("methods") or names.BUDGET_METHODS)],
                recipe=params.get("recipe") or names.DEFAULT_RECIPE,
                seeds=list(range(int(params.get("seeds") or names.DEFAULT_NUM_SEEDS))),
                epochs=params.get("epochs") or None)
    if _ladder(params):  # else the default ladder, resolved (and recorded) by the search
        opts["ladder"] = _ladder(params)
    return opts


def _ladder(params):
    """The form's ladder as a list of ints (None when empty or malformed)."""
    try:
        return [int(b) for b in str(params.get("ladder") or "").split(",")] or None
    except ValueError:
        return None
