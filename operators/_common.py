"""Helpers shared by the operators: pickers, progress, SDK calls."""

import os

import fiftyone as fo
import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_dsco import names

PLUGIN_NAME = "@dsco/fiftyone-dsco"


def uri(name):
    return f"{PLUGIN_NAME}/{name}"


def classification_fields(view):
    """Names of the view's ``fo.Classification`` fields."""
    schema = view.get_field_schema(embedded_doc_type=fo.Classification)
    return sorted(schema)


def label_field_input(inputs, ctx, name="label_field"):
    """A dropdown limited to Classification fields; returns the chosen name."""
    fields = classification_fields(ctx.view) if ctx.view is not None else []
    if not fields:
        inputs.view(
            "no_label_field",
            types.Error(label="No Classification field",
                        description="This dataset has no fo.Classification field to concentrate."),
        )
        return None
    choices = types.DropdownView()
    for f in fields:
        choices.add_choice(f, label=f)
    default = names.DEFAULT_LABEL_FIELD if names.DEFAULT_LABEL_FIELD in fields else fields[0]
    inputs.enum(name, choices.values(), default=default, required=True,
                label="Label field", description="Classification field with the class labels",
                view=choices)
    return ctx.params.get(name, default)


def extractor_choices():
    """The feature extractors of the forms: all but timm (it needs a checkpoint: SDK/CLI)."""
    return [e for e in names.EXTRACTORS if e != "timm"]


def progress_callback(ctx, label):
    """A FiftyOne ``progress=`` callback that reports to the operator's context."""

    def _report(pb):
        ctx.set_progress(progress=pb.progress, label=f"{label}: {pb.iteration}/{pb.total}")

    return fo.report_progress(_report, dt=1.0)


def fan_out(ctx, name, run_key, label):
    """Replace the old run if asked, then queue the shards of run ``run_key``."""
    n = num_shards(ctx)
    if ctx.params.get("overwrite") and ctx.dataset is not None and ctx.dataset.has_run(run_key):
        from fiftyone_dsco.runs import delete_run

        delete_run(ctx.dataset, run_key)
    ids = queue_shards(ctx, name, n, f"{label} {run_key}")
    return {"run_key": run_key, "queued": len(ids), "operation_ids": ids}


def execute(name, view=None, params=None, delegate=False):
    """Run operator ``name`` from Python and return its result (SDK helper)."""
    ctx = {"params": params or {}}
    if view is not None:
        ctx["view"] = view
    result = foo.execute_operator(uri(name), ctx=ctx, request_delegation=delegate)
    if delegate:
        return result
    result.raise_exceptions()
    return result.result


def prior_input(inputs, ctx, name="prior"):
    """A dropdown of the priors saved under DsCo's priors dir, described by their cards."""
    from fiftyone_dsco.priors import list_priors  # light: reads JSON cards only
    from fiftyone_dsco.priors.card import CARD_NAME

    priors = list_priors()
    if not priors:
        inputs.view("no_prior", types.Warning(
            label="No prior found",
            description="Fit one first with 'DsCo: fit prior' (or dsco prior fit), "
                        "or type the folder of a diffusers prior below."))
        inputs.str(name, required=True, label="Prior folder")
        return ctx.params.get(name)
    choices = types.AutocompleteView(allow_user_input=True, allow_duplicates=False)
    for pname, card in priors.items():
        rec = card.recognisability.get("overall")
        desc = (f"{card.family}, {len(card.classes)} classes, {card.image_size}px"
                + (f", recognisability {100 * rec:.0f}%" if rec is not None else ""))
        choices.add_choice(pname, label=pname, description=desc)
    inputs.str(name, default=next(iter(priors)), required=True, label="Prior",
               description="A fitted prior, or the folder of a diffusers prior", view=choices)
    value = ctx.params.get(name, next(iter(priors)))
    if value and value not in priors and not os.path.isfile(os.path.join(str(value), CARD_NAME)):
        inputs.view("unknown_prior", types.Error(
            label=f"No prior '{value}'",
            description=f"Pick one of {sorted(priors)} or give the folder of a saved prior."))
    return value


def run_key_input(inputs, ctx, default, name="run_key"):
    """A run-key field that warns when the key is taken and errors when it is invalid."""
    key = ctx.params.get(name) or default
    inputs.str(name, default=default, required=True, label="Run key",
               description="Letters, digits and underscores")
    if not str(key).isidentifier():
        inputs.view("bad_key", types.Error(label=f"Invalid run key '{key}'",
                                           description="Use letters, digits and underscores."))
    elif ctx.dataset is not None and ctx.dataset.has_run(key):
        inputs.view("key_taken", types.Warning(
            label=f"Run '{key}' exists",
            description="Same options resume it; other options need 'Overwrite'."))
        inputs.bool("overwrite", default=False, label="Overwrite the existing run")
    return key


def class_counts(ctx, label_field):
    """Real train samples per class of the current view (for size previews)."""
    from fiftyone_dsco.data import train_view

    return train_view(ctx.view).count_values(f"{label_field}.label")


def size_preview(inputs, ctx, label_field, synthetic, real=0):
    """Show the concentrated set's size against the train split."""
    counts = {k: v for k, v in class_counts(ctx, label_field).items() if k is not None}
    if not counts:
        return
    n = sum(counts.values())
    size = len(counts) * synthetic + sum(min(real, c) for c in counts.values())
    small = [k for k, c in counts.items() if c < real]
    inputs.view("preview", types.Notice(
        label=f"{len(counts)} classes, {n} real train samples: the set will have {size} images "
              f"({100 * size / n:.1f}% of the train split) = {synthetic} synthetic"
              + (f" + {real} real" if real else "") + " per class"))
    if small:
        inputs.view("too_small", types.Warning(
            label=f"{len(small)} classes have fewer than {real} samples",
            description="Enable 'clamp' to take whole classes, or lower the budget."))


def delegation_config(name, label, description, delegated=True, distributed=False):
    # allow_distributed_execution is accepted (and ignored: Enterprise only) by fiftyone 1.22.1
    return foo.OperatorConfig(name=name, label=label, description=description, dynamic=True,
                              allow_immediate_execution=True, allow_delegated_execution=True,
                              default_choice_to_delegated=delegated,
                              allow_distributed_execution=distributed)


def shard_inputs(inputs, ctx):
    """The "split into N delegated tasks" field; returns the chosen N."""
    inputs.int("num_shards", default=1, min=1, label="Split into N delegated tasks",
               description="Queue one delegated operation per class shard under one run key; "
                           "any number of 'fiftyone delegated launch' workers sharing this "
                           "database run them, and the last shard to finish completes the run")
    n = ctx.params.get("num_shards") or 1
    if int(n) > 1:
        inputs.view("shards_note", types.Notice(
            label=f"{int(n)} delegated operations will be queued (one per shard); "
                  f"start workers with 'fiftyone delegated launch'"))
    return int(n)


def num_shards(ctx):
    """How many shards a fan-out call queues: ``num_shards``, else Enterprise's task count."""
    n = ctx.params.get("num_shards")
    if not n and ctx.num_distributed_tasks:  # None in open-source FiftyOne
        n = ctx.num_distributed_tasks
    return int(n or 1)


def shard_param(ctx):
    """This invocation's shard ``(K, N)``, or None (unsharded, or a fan-out call)."""
    shard = ctx.params.get("shard")
    return tuple(int(v) for v in shard) if shard else None


def queue_shards(ctx, name, n, label):
    """Queue one delegated operation of operator ``name`` per shard ``k`` of ``n``.

    Each gets this call's context and params plus ``shard=[k, n]`` (and never
    ``overwrite``: the caller replaces an old run before fanning out). Returns
    the operation ids.
    """
    import copy

    from fiftyone.operators.delegated import DelegatedOperationService

    svc = DelegatedOperationService()
    ids = []
    for k in range(n):
        request = copy.deepcopy(dict(ctx.request_params))
        request.pop("num_distributed_tasks", None)
        request["params"] = dict(copy.deepcopy(dict(ctx.params)), shard=[k, n], num_shards=n,
                                 overwrite=False)
        request["delegated"] = True
        op = svc.queue_operation(operator=uri(name), label=f"{label} (shard {k}/{n})",
                                 delegation_target=ctx.delegation_target,
                                 context={"request_params": request})
        ids.append(str(op.id))
    return ids
