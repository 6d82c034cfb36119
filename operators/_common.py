"""Helpers shared by the operators: pickers, validation, progress, SDK calls.

A form marks a bad value by setting ``invalid`` and ``error_message`` on its
property (as voxel51/fiftyone-plugins do): the App then shows the message and
disables Execute/Schedule. A bare ``types.Error`` view would not.
"""

import inspect
import os
import queue
import threading

import fiftyone as fo
import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_dsco import names

PLUGIN_NAME = "@dsco/fiftyone-dsco"
#: Request key of the SDK's calls (:func:`execute`): they want the result, not a stream.
SDK_CALL = "dsco_sdk_call"
#: The help of the "recognised real samples first" option of doping and concentrate forms.
RECOGNISED_HELP = ("Pick real samples among those the reference classifier labels with their own "
                   "class first; the selector still matches the whole class")
SELECTOR_HELP = (f"How real samples are picked; default {names.default_selector(True)} for real "
                 f"samples only, {names.default_selector(False)} beside synthetic images "
                 "(docs/doping.md)")
#: Work estimates above which the App offers only Schedule: run in the App, such a job
#: would hold the App server for more than about 5 minutes on 2 CPU cores.
IMMEDIATE_LIMITS = {"synthetic images": 500, "real train samples": 20_000,
                    "training images seen": 300_000}


def uri(name):
    return f"{PLUGIN_NAME}/{name}"


def classification_fields(view):
    """Names of the view's ``fo.Classification`` fields."""
    schema = view.get_field_schema(embedded_doc_type=fo.Classification)
    return sorted(schema)


def invalid(prop, message):
    """Mark ``prop`` invalid: the App shows ``message`` and disables Execute."""
    prop.invalid = True
    prop.error_message = message
    return prop


def error(inputs, name, label, description=None):
    """An error notice that also disables Execute."""
    return invalid(inputs.view(name, types.Error(label=label, description=description)), label)


def target_input(inputs, ctx):
    """The samples to work on: dataset, current view or selection (``view_target``).

    Returns ``ctx.target_view()``, or None (with an error) when no dataset is open.
    """
    if ctx.dataset is None:
        error(inputs, "no_dataset", "Open a dataset first")
        return None
    inputs.view_target(ctx, action_description="Use")
    return ctx.target_view()


def label_field_input(inputs, ctx, view, name="label_field"):
    """A dropdown limited to Classification fields; returns the chosen name.

    Returns None, with an error that disables Execute, when ``view`` has no
    Classification field or no real train sample labelled in the chosen one.
    """
    fields = classification_fields(view) if view is not None else []
    if not fields:
        error(inputs, "no_label_field", "No Classification field",
              "DsCo needs a fo.Classification field with the class labels.")
        return None
    choices = types.DropdownView()
    for f in fields:
        choices.add_choice(f, label=f)
    default = names.DEFAULT_LABEL_FIELD if names.DEFAULT_LABEL_FIELD in fields else fields[0]
    inputs.enum(name, choices.values(), default=default, required=True,
                label="Label field", description="Classification field with the class labels",
                view=choices)
    field = ctx.params.get(name) or default
    from fiftyone_dsco.data import train_view

    if field in fields and not train_view(view).exists(field).count():
        error(inputs, "no_train_split", f"No train split with '{field}' labels",
              f"DsCo trains on real samples tagged '{names.TRAIN_TAG}' (on all real samples "
              f"when none is tagged '{names.TRAIN_TAG}' or '{names.TEST_TAG}'); these samples "
              f"have none with a '{field}' label. Choose other samples or tag a train split.")
        return None
    return field


def delegation_notice(inputs, stream=False):
    """Say how to enable 'Schedule' when this FiftyOne cannot delegate (docs/app.md).

    ``stream``: the operator streams its progress (:func:`run_job`), so FiftyOne's
    operator timeout does not stop it."""
    if fo.config.allow_legacy_orchestrators:
        return
    limit = ("holds the App server's process until the job ends" if stream else
             f"stops after {fo.config.operator_timeout} s (FIFTYONE_OPERATOR_TIMEOUT)")
    inputs.view("no_delegation", types.Warning(
        label="Schedule (delegated execution) is off in this FiftyOne",
        description=f"Execute runs inside the App server and {limit}. For long jobs, "
                    "start the App with FIFTYONE_ALLOW_LEGACY_ORCHESTRATORS=true (scripts/setup.sh "
                    "sets it) and run 'fiftyone delegated launch': see docs/app.md."))


def form(inputs, label):
    return types.Property(inputs, view=types.View(label=label))


def finish(ctx, saved_view=None, message=None):
    """After an immediate run: show the new saved view, notify, reload the dataset.

    Returns the App operations (a generator yields them)."""
    if ctx.delegated or ctx.executor is None:
        return []
    ops = [ctx.ops.set_view(name=saved_view)] if saved_view else []
    if message:
        ops.append(ctx.ops.notify(message, variant="success"))
    return ops + [ctx.ops.reload_dataset()]


def extractor_choices():
    """The feature extractors of the forms: all but timm (it needs a checkpoint: SDK/CLI)."""
    return [e for e in names.EXTRACTORS if e != "timm"]


#: Seconds between progress reports: a delegated run writes each one to the database.
PROGRESS_EVERY = {"immediate": 1.0, "delegated": 10.0}


def progress_callback(ctx, label, report=None):
    """A FiftyOne ``progress=`` callback that calls ``report(fraction, text)`` every
    :data:`PROGRESS_EVERY` seconds; by default ``ctx.set_progress``, which a delegated
    run records. The text names the bar's unit ("Synthesis: 3/10 classes", then
    "Synthesis: 500/1437 samples" for a bar nested in it), so nested bars read apart."""
    report = report or (lambda fraction, text: ctx.set_progress(progress=fraction, label=text))

    def update(pb):
        unit = getattr(pb, "_iters_str", None) or "steps"  # FiftyOne's bars say "samples"
        report(pb.progress, f"{label}: {pb.iteration}/{pb.total} {unit}")
    return fo.report_progress(update, dt=PROGRESS_EVERY["delegated" if ctx.delegated
                                                        else "immediate"])


def run_job(ctx, label, job, outputs):
    """What ``execute`` returns for ``job(progress) -> (result, saved_view, message)``.

    Delegated runs and SDK calls get ``result`` (``job`` reports to ``ctx.set_progress``).
    An immediate run in the App is a generator (the operator sets ``execute_as_generator``):
    it yields ``set_progress`` while ``job`` runs in a thread, then shows ``result`` with
    ``outputs`` (the operator's ``resolve_output``) and yields :func:`finish`'s operations.
    """
    if ctx.delegated or ctx.request_params.get(SDK_CALL):
        result, saved_view, message = job(progress_callback(ctx, label))
        finish(ctx, saved_view, message)
        return result
    return _stream(ctx, label, job, outputs)


def _stream(ctx, label, job, outputs):
    updates, outcome = queue.Queue(), {}

    def work():
        try:
            outcome["done"] = job(progress_callback(ctx, label, lambda *u: updates.put(u)))
        except BaseException as e:  # raised again by the generator
            outcome["error"] = e
        finally:
            updates.put(None)

    threading.Thread(target=work, name=f"dsco-{ctx.operator_uri}", daemon=True).start()
    for fraction, text in iter(updates.get, None):
        yield ctx.ops.set_progress(label=text, progress=fraction)
    if "error" in outcome:  # the App shows the stream's end as a failure without a reason
        yield ctx.ops.notify(f"{ctx.operator_uri} failed: {outcome['error']}", variant="error")
        raise outcome["error"]
    result, saved_view, message = outcome["done"]
    yield ctx.ops.show_output(outputs.to_json(), result)
    yield from finish(ctx, saved_view, message)


def train_counts(view, label_field):
    """Real train samples per class of ``view``'s ``label_field``."""
    from fiftyone_dsco.data import train_view

    counts = train_view(view).count_values(f"{label_field}.label")
    return {k: v for k, v in counts.items() if k is not None}


def target_counts(ctx):
    """:func:`train_counts` of the form's target and label field ({} when there is none)."""
    if ctx.dataset is None:
        return {}
    view = ctx.target_view()
    field = ctx.params.get("label_field") or names.DEFAULT_LABEL_FIELD
    return train_counts(view, field) if field in classification_fields(view) else {}


def too_large(ctx, work):
    """What of ``work`` (``{unit: estimate}``) exceeds IMMEDIATE_LIMITS, as text ("" if
    nothing does). SDK calls are never limited."""
    if ctx.request_params.get(SDK_CALL):
        return ""
    return ", ".join(f"{n:,} {unit} (more than {IMMEDIATE_LIMITS[unit]:,})"
                     for unit, n in work.items() if n > IMMEDIATE_LIMITS[unit])


def execution_options(ctx, config, work):
    """``config``'s execution options, without immediate execution when ``work`` is too
    large and Schedule is available (``allow_legacy_orchestrators``)."""
    from fiftyone.operators.executor import ExecutionOptions

    large = fo.config.allow_legacy_orchestrators and too_large(ctx, work)
    return ExecutionOptions(allow_immediate_execution=not large,
                            allow_delegated_execution=config.allow_delegated_execution,
                            default_choice_to_delegated=config.default_choice_to_delegated,
                            allow_distributed_execution=config.allow_distributed_execution)


def size_gate(inputs, ctx, work):
    """A notice when ``work`` is too large to run in the App (see :func:`execution_options`)."""
    large = too_large(ctx, work)
    if not large:
        return
    how = ("only Schedule is offered: a 'fiftyone delegated launch' worker runs it and "
           "records its progress" if fo.config.allow_legacy_orchestrators else
           "turn on Schedule (see above) and run it in a 'fiftyone delegated launch' worker")
    inputs.view("too_large", types.Warning(
        label=f"Large job: {large}",
        description=f"Run in the App, it would hold the App server for many minutes; {how}."))


def fan_out(ctx, name, run_key, label):
    """Replace the old run if asked, then queue the shards of run ``run_key``."""
    n = num_shards(ctx)
    if ctx.params.get("overwrite") and ctx.dataset is not None and ctx.dataset.has_run(run_key):
        from fiftyone_dsco.runs import delete_run

        delete_run(ctx.dataset, run_key)
    ids = queue_shards(ctx, name, n, f"{label} {run_key}")
    return {"run_key": run_key, "queued": len(ids), "operation_ids": ids}


def execute(name, samples=None, params=None, delegate=False, delegation_target=None):
    """Run operator ``name`` from Python on ``samples`` (a dataset or a view).

    Returns its result; with ``delegate``, FiftyOne's ``ExecutionResult`` of the
    queued operation. Inside a running event loop (Jupyter) FiftyOne returns an
    awaitable instead, returned unchanged: ``await`` it for the ``ExecutionResult``.
    """
    ctx = {"params": params or {}, SDK_CALL: True}
    if isinstance(samples, fo.Dataset):
        ctx["dataset"] = samples
    elif samples is not None:
        ctx["view"] = samples
    result = foo.execute_operator(uri(name), ctx=ctx, request_delegation=delegate,
                                  delegation_target=delegation_target)
    if inspect.isawaitable(result) or delegate:
        return result
    return result.result  # FiftyOne raised already if it failed


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
        prop = inputs.str(name, required=True, label="Prior folder")
        value = ctx.params.get(name)
    else:
        choices = types.AutocompleteView(allow_user_input=True, allow_duplicates=False)
        for pname, card in priors.items():
            rec = card.recognisability.get("overall")
            desc = (f"{card.family}, {len(card.classes)} classes, {card.image_size}px"
                    + (f", recognisability {100 * rec:.0f}%" if rec is not None else ""))
            choices.add_choice(pname, label=pname, description=desc)
        prop = inputs.str(name, default=next(iter(priors)), required=True, label="Prior",
                          description="A fitted prior, or the folder of a diffusers prior",
                          view=choices)
        value = ctx.params.get(name, next(iter(priors)))
    if value and value not in priors and not os.path.isfile(os.path.join(str(value), CARD_NAME)):
        invalid(prop, f"No prior '{value}'")
        error(inputs, "unknown_prior", f"No prior '{value}'",
              f"Pick one of {sorted(priors)} or give the folder of a saved prior.")
    return value


def run_key_input(inputs, ctx, default, kind, options=None, name="run_key"):
    """A run-key field, invalid (Execute disabled) when the key is malformed or
    names a run that Execute would refuse: another kind or other ``options``,
    unless 'Overwrite' is checked. Same options resume an unfinished run and
    return a complete one as it is (re-running never duplicates)."""
    from fiftyone_dsco.runs import is_dsco_run, run_config, run_status

    key = str(ctx.params.get(name) or default)
    prop = inputs.str(name, default=default, required=True, label="Run key",
                      description="Letters, digits and underscores")
    if not key.isidentifier():
        invalid(prop, f"Invalid run key '{key}': use letters, digits and underscores")
        error(inputs, "bad_key", f"Invalid run key '{key}'", "Use letters, digits and underscores.")
        return key
    if ctx.dataset is None or not ctx.dataset.has_run(key):
        return key
    if not is_dsco_run(ctx.dataset, key):
        invalid(prop, f"'{key}' is the key of a non-DsCo run")
        error(inputs, "key_taken", f"'{key}' is the key of a non-DsCo run", "Choose another key.")
        return key
    inputs.bool("overwrite", default=False, label="Overwrite the existing run",
                description="Delete the run, its samples and files, then run again")
    if ctx.params.get("overwrite"):
        inputs.view("key_taken", types.Warning(label=f"Run '{key}' will be deleted and replaced"))
        return key
    old, status = run_config(ctx.dataset, key), run_status(ctx.dataset, key)
    diff = sorted(k for k, v in (options or {}).items() if k in old and old[k] != v)
    if old.get("dsco_kind") != kind:
        diff.insert(0, "kind")
    if not diff:  # the same options: resumed, or (complete) returned as it is
        what = ("returns its results; nothing is redone" if status == "complete"
                else "resumes it with the same options")
        inputs.view("key_taken", types.Notice(label=f"Run '{key}' is {status}: Execute {what}"))
        return key
    why = f"with other options ({', '.join(diff)})"
    invalid(prop, f"Run '{key}' exists {why}: check 'Overwrite' (overwrite=True) or choose "
                  f"another run key")
    error(inputs, "key_taken", f"Run '{key}' exists {why}",
          "Check 'Overwrite the existing run' to replace it, or choose another run key.")
    return key


def size_preview(inputs, view, label_field, synthetic, real=0):
    """Show the concentrated set's size against the train split of ``view``."""
    counts = train_counts(view, label_field)
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


def delegation_config(name, label, description, icon, delegated=True, distributed=False,
                      stream=False):
    """``stream``: ``execute`` returns :func:`run_job` (a generator in the App)."""
    # allow_distributed_execution is accepted (and ignored: Enterprise only) by fiftyone 1.22.1
    return foo.OperatorConfig(name=name, label=label, description=description, dynamic=True,
                              icon=icon, allow_immediate_execution=True,
                              allow_delegated_execution=True,
                              default_choice_to_delegated=delegated,
                              allow_distributed_execution=distributed,
                              execute_as_generator=stream)


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
    return [queue_operation(ctx, name, dict(shard=[k, n], num_shards=n, overwrite=False),
                            f"{label} (shard {k}/{n})") for k in range(n)]


def queue_operation(ctx, name, params, label):
    """Queue one delegated operation of operator ``name`` with this call's context and params
    updated by ``params``; returns its id."""
    import copy

    from fiftyone.operators.delegated import DelegatedOperationService

    request = copy.deepcopy(dict(ctx.request_params))
    request.pop("num_distributed_tasks", None)
    request["params"] = dict(copy.deepcopy(dict(ctx.params)), **params)
    request["delegated"] = True
    op = DelegatedOperationService().queue_operation(
        operator=uri(name), label=label, delegation_target=ctx.delegation_target,
        context={"request_params": request})
    return str(op.id)
