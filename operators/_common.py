"""Helpers shared by the operators: pickers, progress, SDK calls."""

import fiftyone as fo
import fiftyone.operators as foo
import fiftyone.operators.types as types

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
    default = "ground_truth" if "ground_truth" in fields else fields[0]
    inputs.enum(name, choices.values(), default=default, required=True,
                label="Label field", description="Classification field with the class labels",
                view=choices)
    return ctx.params.get(name, default)


def progress_callback(ctx, label):
    """A FiftyOne ``progress=`` callback that reports to the operator's context."""

    def _report(pb):
        ctx.set_progress(progress=pb.progress, label=f"{label}: {pb.iteration}/{pb.total}")

    return fo.report_progress(_report, dt=1.0)


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
