"""Operator: load a built-in dataset (digits, Fashion-MNIST) into FiftyOne."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_dsco import names

from ._common import execute, progress_callback


class LoadBuiltinDataset(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(
            name="load_builtin_dataset",
            label="DsCo: load built-in dataset",
            description="Load scikit-learn digits or Fashion-MNIST with train/test splits",
            dynamic=True,
            allow_immediate_execution=True,
            allow_delegated_execution=True,
            icon="download",
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        inputs.enum("name", list(names.BUILTIN_DATASETS), default=names.DEFAULT_DATASET,
                    required=True, label="Dataset",
                    description="digits: 1,797 8x8 images (seconds). fashion-mnist: 70,000 "
                                "28x28 images (a few minutes; needs Debian's dataset-fashion-mnist)",
                    view=types.RadioGroup())
        inputs.int("train_per_class", label="Train images per class (optional)", min=1)
        inputs.int("test_per_class", label="Test images per class (optional)", min=1)
        inputs.bool("overwrite", default=False, label="Rebuild if it exists")
        return types.Property(inputs, view=types.View(label="Load built-in dataset"))

    def execute(self, ctx):
        from fiftyone_dsco.data.builtin import load_builtin

        p = ctx.params
        ds = load_builtin(
            p.get("name", names.DEFAULT_DATASET),
            train_per_class=p.get("train_per_class"),
            test_per_class=p.get("test_per_class"),
            overwrite=bool(p.get("overwrite", False)),
            progress=progress_callback(ctx, "Loading"),
        )
        if not ctx.delegated and ctx.dataset_name:
            ctx.ops.open_dataset(ds.name)
            ctx.ops.notify(f"Loaded '{ds.name}': {len(ds)} samples", variant="success")
        return {"dataset": ds.name, "num_samples": len(ds)}

    def resolve_output(self, ctx):
        outputs = types.Object()
        outputs.str("dataset", label="Dataset")
        outputs.int("num_samples", label="Samples")
        return types.Property(outputs, view=types.View(label="Dataset loaded"))

    def __call__(self, name=names.DEFAULT_DATASET, train_per_class=None, test_per_class=None,
                 overwrite=False, delegate=False, delegation_target=None):
        return execute(self.config.name, params=dict(
            name=name, train_per_class=train_per_class, test_per_class=test_per_class,
            overwrite=overwrite), delegate=delegate, delegation_target=delegation_target)
