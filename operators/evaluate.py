"""Operator: evaluate concentrated sets (saved views) against random and full real data."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_dsco import names

from ._common import (delegation_notice, error, execute, execution_options, form, invalid,
                      label_field_input, run_job, size_gate)


class Evaluate(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(
            name="evaluate",
            label="DsCo: evaluate concentrated sets",
            description="Train a classifier on each chosen set (and on random and full real "
                        "data), test on the held-out split, store the metrics on the dataset",
            dynamic=True,
            allow_immediate_execution=True,
            allow_delegated_execution=True,
            default_choice_to_delegated=True,
            execute_as_generator=True,
            icon="leaderboard",
        )

    def resolve_execution_options(self, ctx):
        return execution_options(ctx, self.config, _work(ctx))

    def resolve_input(self, ctx):
        from fiftyone_dsco.data import test_view

        inputs = types.Object()
        label = "Evaluate concentrated sets"
        if ctx.dataset is None:
            error(inputs, "no_dataset", "Open a dataset first")
            return form(inputs, label)
        field = label_field_input(inputs, ctx, ctx.dataset.view())
        if field is None or not _train_views_input(inputs, ctx):
            return form(inputs, label)
        if not test_view(ctx.dataset).exists(field).count():
            error(inputs, "no_test_split", f"No test split with '{field}' labels",
                  f"Every set is tested on the real samples tagged '{names.TEST_TAG}'.")
            return form(inputs, label)
        delegation_notice(inputs, stream=True)
        arch = types.RadioGroup()
        for name in names.ARCHITECTURES:
            arch.add_choice(name, label=name)
        inputs.enum("arch", arch.values(), default=names.DEFAULT_ARCHITECTURE, required=True,
                    view=arch, label="Architecture", description="Same for every set compared")
        recipe = types.DropdownView()
        for name, what in (("dsco", "300 epochs, cosine schedule, ±2 px shifts"),
                           ("dc", "DC's evaluation: 300 epochs, step schedule, no augmentation"),
                           ("dsa", "DSA/DM/MTT's: 1000 epochs, DSA augmentation")):
            recipe.add_choice(name, label=name, description=what)
        assert set(recipe.values()) == set(names.RECIPES)
        inputs.enum("recipe", recipe.values(), default=names.DEFAULT_RECIPE, required=True,
                    view=recipe, label="Training recipe",
                    description="How every set is trained (docs/evaluation.md)")
        inputs.int("epochs", min=1, label="Epochs (optional)",
                   description="Default: the recipe's, for every concentrated set and the "
                               "random subset")
        _full_epochs_input(inputs, ctx)
        inputs.float("lr", min=1e-6, label="Learning rate (optional)",
                     description="Default: the recipe's SGD rate, 0.01; ResNet-18 on ~100+ "
                                 "images wants ~0.1 (tiny sets do better at 0.01: "
                                 "docs/benchmarks.md)")
        inputs.int("num_seeds", default=names.DEFAULT_NUM_SEEDS, min=1, max=10, required=True,
                   label="Seeds",
                   description="Models per set; the table shows mean ± std")
        inputs.bool("add_random", default=True, label="Add a random real subset",
                    description="Same size and class balance as the largest chosen set")
        inputs.bool("add_full", default=True, label="Add the full train split")
        inputs.bool("soft_labels", default=False, label="Soft labels",
                    description="Train on the outputs of a teacher trained on the full split")
        _eval_key_input(inputs, ctx)
        size_gate(inputs, ctx, _work(ctx))
        return form(inputs, label)

    def execute(self, ctx):
        return run_job(ctx, "Evaluation", lambda progress: self._run(ctx, progress),
                       self.resolve_output(ctx))

    def _run(self, ctx, progress):
        from fiftyone_dsco.evaluation import evaluate, plotly_traces

        p = ctx.params
        views = list(p.get("train_views") or [])
        results = evaluate(
            ctx.dataset, p["label_field"], {v: ctx.dataset.load_saved_view(v) for v in views},
            arch=p.get("arch", names.DEFAULT_ARCHITECTURE),
            recipe=p.get("recipe") or names.DEFAULT_RECIPE,
            epochs=int(p["epochs"]) if p.get("epochs") else None,
            seeds=tuple(range(int(p.get("num_seeds", names.DEFAULT_NUM_SEEDS)))),
            lr=float(p["lr"]) if p.get("lr") else None,
            add_random=bool(p.get("add_random", True)), add_full=bool(p.get("add_full", True)),
            full_epochs=_full_epochs(p), soft_labels=bool(p.get("soft_labels", False)),
            eval_key=p.get("eval_key") or names.DEFAULT_EVAL_KEY,
            progress=progress,
        )
        best = max(results["arms"].values(), key=lambda r: r["acc_mean"])
        arms = {a: {k: r.get(k) for k in ("name", "acc_mean", "acc_std", "ipc", "fraction",
                                          "epochs", "ior", "hlr")}
                for a, r in results["arms"].items()}
        return ({"eval_key": results["eval_key"], "table": results.format_table(),
                 "arms": arms, "plot": results["plot"], "chart": plotly_traces(ctx.dataset)},
                None, f"Evaluation '{results['eval_key']}': best {best['name']} "
                      f"{100 * best['acc_mean']:.1f}%")

    def resolve_output(self, ctx):
        outputs = types.Object()
        outputs.str("table", label="Top-1 accuracy on the held-out split",
                    view=types.MarkdownView())
        outputs.list("chart", types.Object(), label="Top-1 accuracy against images per class "
                     "(every DsCo evaluation on this dataset)", view=types.PlotlyView(layout=dict(
                         xaxis=dict(title="images per class", type="log"),
                         yaxis=dict(title="top-1 accuracy (%)"), height=380)))
        outputs.str("eval_key", label="Evaluation key")
        outputs.str("plot", label="Plot (PNG, saved with the run)")
        return types.Property(outputs, view=types.View(label="Evaluation done"))

    def __call__(self, dataset, label_field, train_views, arch=names.DEFAULT_ARCHITECTURE,
                 epochs=None, num_seeds=names.DEFAULT_NUM_SEEDS, add_random=True, add_full=True,
                 full_epochs=None, converge_max_epochs=None, soft_labels=False,
                 eval_key=names.DEFAULT_EVAL_KEY, lr=None, recipe=names.DEFAULT_RECIPE,
                 delegate=False, delegation_target=None):
        """Evaluate the saved views ``train_views`` (a list of names) of ``dataset``
        (a dataset, or any view of it); ``full_epochs`` as the library's (a number or
        ``"converge"``, with its cap ``converge_max_epochs``)."""
        converge = full_epochs == names.CONVERGE
        return execute(self.config.name, dataset, params=dict(
            label_field=label_field, train_views=list(train_views), arch=arch, epochs=epochs,
            num_seeds=num_seeds, lr=lr, add_random=add_random, add_full=add_full,
            full_epochs=None if converge else full_epochs, converge=converge,
            converge_max_epochs=converge_max_epochs, soft_labels=soft_labels, eval_key=eval_key,
            recipe=recipe), delegate=delegate, delegation_target=delegation_target)


def _train_views_input(inputs, ctx):
    """A multi-select of the dataset's saved views; False when there is none."""
    views = ctx.dataset.list_saved_views()
    if not views:
        error(inputs, "no_saved_views", "No saved view",
              "Save each concentrated set as a view first (DsCo runs save theirs as "
              "dsco-<run key>).")
        return False
    choices = types.DropdownView(multiple=True)
    for name in views:
        choices.add_choice(name, label=name)
    inputs.list("train_views", types.String(), required=True, min_items=1, view=choices,
                label="Training sets", description="Saved views, each trained on its own")
    return True


def _full_epochs_input(inputs, ctx):
    """Train the full split to convergence (with a cap), or for a number of epochs."""
    inputs.bool("converge", default=False, label="Train the full split to convergence",
                description=f"Double its epochs from {names.CONVERGE_START_EPOCHS} until its "
                            f"held-out accuracy gains less than max({names.CONVERGE_TOLERANCE:g} "
                            "points, 1 std); costs up to ~2x the last rung (docs/evaluation.md)")
    if ctx.params.get("converge"):
        inputs.int("converge_max_epochs", min=1, label="Most full-data epochs (optional)",
                   description="Default: the sets' epochs")
    else:
        inputs.int("full_epochs", min=1, label="Full-data epochs (optional)",
                   description="Default: as many SGD steps as the largest set, 5 to <epochs> "
                               "(may leave the full split under-trained)")


def _full_epochs(p):
    """The library's ``full_epochs`` from the form: None, a number or a Convergence."""
    from fiftyone_dsco.evaluation.convergence import Convergence

    cap = int(p["converge_max_epochs"]) if p.get("converge_max_epochs") else None
    if p.get("converge"):
        return Convergence(max_epochs=cap)
    return int(p["full_epochs"]) if p.get("full_epochs") else None


def _eval_key_input(inputs, ctx):
    prop = inputs.str("eval_key", default=names.DEFAULT_EVAL_KEY, required=True,
                      label="Evaluation key", description="Results, predictions <key>_<set> "
                                                          "and the plot are stored under it")
    key = str(ctx.params.get("eval_key") or names.DEFAULT_EVAL_KEY)
    if not key.isidentifier():
        invalid(prop, f"'{key}' is not a valid key")
        error(inputs, "bad_key", f"'{key}' is not a valid key",
              "Use letters, digits and underscores")
    elif ctx.dataset.has_run(key):
        kind = ctx.dataset.get_run_info(key).config.serialize().get("dsco_kind")
        if kind == names.EVALUATION:
            inputs.view("key_exists", types.Warning(
                label=f"Evaluation '{key}' exists and will be replaced"))
        else:
            invalid(prop, f"'{key}' is the key of another run")
            error(inputs, "key_taken", f"'{key}' is the key of another run", "Choose another key")


def _work(ctx):
    """The training images an evaluation sees: seeds × epochs × set size over every set."""
    from fiftyone_dsco.data import train_view
    from fiftyone_dsco.evaluation.recipes import get_recipe

    p, ds = ctx.params, ctx.dataset
    if ds is None:
        return {}
    sizes = [ds.load_saved_view(v).count() for v in p.get("train_views") or []
             if ds.has_saved_view(v)]
    recipe = get_recipe(p.get("recipe") or names.DEFAULT_RECIPE, epochs=p.get("epochs") or None)
    largest, full = max(sizes, default=0), train_view(ds).count()
    per_seed, teacher = _full_work(p, recipe, largest, full)
    per_seed += recipe.epochs * (sum(sizes) + (largest if p.get("add_random", True) else 0))
    seeds = int(p.get("num_seeds") or names.DEFAULT_NUM_SEEDS)
    return {"training images seen": seeds * per_seed + teacher}


def _full_work(p, recipe, largest, full):
    """Images seen by the full arm per seed and by the teacher (with convergence: at most)."""
    from fiftyone_dsco.evaluation import full_arm_epochs
    from fiftyone_dsco.evaluation.convergence import Convergence, ladder

    add_full, soft = p.get("add_full", True), bool(p.get("soft_labels"))
    if p.get("converge") and (add_full or soft):  # the whole ladder; its last rung is the teacher
        cap = p.get("converge_max_epochs") or recipe.epochs
        epochs = sum(ladder(Convergence(min(names.CONVERGE_START_EPOCHS, cap), cap)))
        return epochs * full * (1 + (add_full and soft)), 0
    epochs = p.get("full_epochs") or full_arm_epochs(recipe.epochs, largest, full,
                                                     recipe.batch_size)
    return (epochs * full if add_full else 0), (epochs * full if soft else 0)
