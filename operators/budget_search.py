"""Operator: how small can the training set be with no loss? (a budget search, delegated)."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_dsco import names

from ._common import (delegation_config, delegation_notice, error, execute, execution_options,
                      fan_out, form, invalid, label_field_input, num_shards, prior_input,
                      queue_operation, run_job, run_key_input, shard_inputs, shard_param,
                      target_counts, target_input)

#: A budget search trains 3 methods x 3 seeds at about ten budgets: never in the App server.
_ALWAYS_LARGE = {"training images seen": float("inf")}


class BudgetSearch(foo.Operator):
    @property
    def config(self):
        return delegation_config(
            "budget_search", "DsCo: budget search",
            "Find the smallest set (DsCo, herding, mmd-greedy or random) that trains as well "
            "as the full data, chosen on a validation split", icon="query_stats", stream=True)

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
        if not set(methods) - {"random"}:
            error(inputs, "bad_methods", "Pick more than 'random' (random alone is a baseline)")
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
        if shard_inputs(inputs, ctx) > 1:
            inputs.view("search_note", types.Notice(
                label="The shards synthesise DsCo's images of the ladder's budgets; one more "
                      "operation, queued after them, runs the search on what they wrote"))
            problem = _shards_problem(ctx)
            if problem:
                invalid(inputs.properties["num_shards"], problem)
        inputs.view("how", types.Notice(
            label="Validation: 10% of each class's train samples, never trained on; the test "
                  "split is read once, for the chosen set (docs/budget.md)"))
        return form(inputs, "Budget search")

    def execute(self, ctx):
        return run_job(ctx, "Budget search", lambda progress: self._run(ctx, progress),
                       self.resolve_output(ctx))

    def _run(self, ctx, progress):
        from fiftyone_dsco.budget import budget_search, curve_traces, format_answer, format_shard

        p, shard = ctx.params, shard_param(ctx)
        run_key = p.get("run_key") or names.DEFAULT_BUDGET_KEY
        if shard is None and num_shards(ctx) > 1:
            return _fan_out(ctx, self.config.name, run_key), None, None
        res = budget_search(ctx.target_view(), p["label_field"], p.get("prior"), run_key=run_key,
                            max_hours=p.get("max_hours") or None,
                            overwrite=bool(p.get("overwrite")), shard=shard, progress=progress,
                            **{k: v for k, v in _options(p).items() if k != "prior"})
        if shard is not None:
            answer = format_shard(res, shard)
            return {"answer": answer}, None, answer
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
        outputs.int("queued", label="Delegated operations queued")
        outputs.list("chart", types.Object(), label="Validation accuracy vs budget",
                     view=types.PlotlyView(layout=dict(xaxis=dict(title="images per class",
                                                                  type="log"),
                                                       yaxis=dict(title="top-1 %"))))
        return types.Property(outputs)

    def __call__(self, view, label_field, prior=None, run_key=names.DEFAULT_BUDGET_KEY,
                 tolerance=names.DEFAULT_TOLERANCE, methods=names.BUDGET_METHODS,
                 recipe=names.DEFAULT_RECIPE, seeds=names.DEFAULT_NUM_SEEDS, epochs=None,
                 ladder=None, max_hours=None, overwrite=False, num_shards=1, shard=None,
                 delegate=False, delegation_target=None):
        """Run (or with ``delegate`` queue) a budget search on ``view``; ``ladder`` is a
        list of budgets (images per class). ``num_shards > 1`` queues one delegated
        synthesis shard per class shard, then the search, and returns their ids."""
        return execute(self.config.name, view, dict(
            label_field=label_field, prior=prior, run_key=run_key, tolerance=tolerance,
            methods=list(methods), recipe=recipe, seeds=seeds, epochs=epochs,
            ladder=",".join(map(str, ladder)) if ladder else None, max_hours=max_hours,
            overwrite=overwrite, num_shards=num_shards, shard=list(shard) if shard else None),
            delegate, delegation_target)


def _fan_out(ctx, name, run_key):
    """Queue the synthesis shards, then the search that resumes what they write."""
    from fiftyone_dsco.errors import OptionError

    problem = _shards_problem(ctx)
    if problem:
        raise OptionError(problem)
    out = fan_out(ctx, name, run_key, "DsCo budget search")
    out["operation_ids"].append(queue_operation(
        ctx, name, dict(shard=None, num_shards=1, overwrite=False),
        f"DsCo budget search {run_key} (after its shards)"))
    out["queued"] += 1
    return out


def _shards_problem(ctx):
    """Why the form's shards would have nothing to do, or None."""
    from fiftyone_dsco.concentrate import split_budget

    n, classes = num_shards(ctx), len(target_counts(ctx))
    if classes and n > classes:
        return f"The target has {classes} classes: use at most {classes} shards"
    if "dsco" not in _options(ctx.params)["methods"] or \
            not any(split_budget(b)[0] for b in _ladder(ctx.params) or [1] if b >= 1):
        return "Shards synthesise DsCo's images, and these options need none: use 1 shard"
    return None


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
