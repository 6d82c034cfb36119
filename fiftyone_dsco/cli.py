"""The ``dsco`` command line: the library's jobs from a shell, with progress bars."""

import click

import fiftyone_dsco  # noqa: F401  (sets FiftyOne's environment defaults)
from .errors import DscoError


class _Group(click.Group):
    """A click group that turns DsCo's input errors into clean messages."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DscoError as e:
            raise click.ClickException(str(e)) from e


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(fiftyone_dsco.__version__, prog_name="dsco")
def main():
    """DsCo: concentrate a FiftyOne classification dataset into a small training set.

    \b
    Where to start:
      dsco demo                        the whole job on the built-in digits dataset
      dsco datasets load digits        load a built-in dataset into FiftyOne
      dsco datasets info dsco-digits   class table and splits of a dataset
    Every command takes --help.
    """


@main.group()
def datasets():
    """Load and inspect datasets."""


@datasets.command("list")
def datasets_list():
    """List the built-in datasets."""
    from .datasets import list_builtin

    for name in list_builtin():
        click.echo(name)


@datasets.command("load")
@click.argument("name", type=click.Choice(["digits", "fashion-mnist"]))
@click.option("--dataset-name", help="FiftyOne dataset name (default dsco-<name>).")
@click.option("--train-per-class", type=int, help="Keep at most this many train images per class.")
@click.option("--test-per-class", type=int, help="Keep at most this many test images per class.")
@click.option("--overwrite", is_flag=True, help="Delete and rebuild an existing dataset.")
@click.option("--source-dir", type=click.Path(), help="Folder with Fashion-MNIST's IDX .gz files.")
def datasets_load(name, dataset_name, train_per_class, test_per_class, overwrite, source_dir):
    """Load built-in dataset NAME as a persistent FiftyOne dataset."""
    from .datasets import load_builtin

    ds = load_builtin(name, dataset_name=dataset_name, train_per_class=train_per_class,
                      test_per_class=test_per_class, overwrite=overwrite,
                      source_dir=source_dir, progress=True)
    click.echo(f"Dataset '{ds.name}': {len(ds)} samples")
    _print_table(ds, "ground_truth")


@datasets.command("info")
@click.argument("dataset_name")
@click.option("--label-field", default="ground_truth", show_default=True)
def datasets_info(dataset_name, label_field):
    """Show the class table and splits of DATASET_NAME."""
    _print_table(_load_dataset(dataset_name), label_field)


def _load_dataset(name):
    import fiftyone as fo

    if not fo.dataset_exists(name):
        raise click.ClickException(
            f"No FiftyOne dataset named '{name}'. Existing: {fo.list_datasets()}. "
            f"Load a built-in one with 'dsco datasets load digits'."
        )
    return fo.load_dataset(name)


def _print_table(ds, label_field):
    from .data import class_table, test_view, train_view

    train = class_table(train_view(ds), label_field, missing="skip")
    click.echo(f"train split ({train.num_samples} samples):")
    click.echo(train.format())
    test = test_view(ds)
    if len(test):
        click.echo(f"test split: {len(test)} samples (held out from every DsCo step)")


@main.command()
@click.option("--dataset", "builtin", default="digits", show_default=True,
              type=click.Choice(["digits", "fashion-mnist"]))
def demo(builtin):
    """The main job on a built-in dataset (default: digits)."""
    from .datasets import load_builtin

    ds = load_builtin(builtin, progress=True)
    click.echo(f"Dataset '{ds.name}': {len(ds)} samples")
    _print_table(ds, "ground_truth")


if __name__ == "__main__":
    main()
