"""The ``dsco`` command line: the library's jobs from a shell, with progress bars."""

import contextlib

import click

import fiftyone_dsco  # noqa: F401  (sets FiftyOne's environment defaults)
from . import names
from .errors import DscoError

#: `dsco demo`'s images per class: where DsCo's set led herding most on a digits validation
#: split (benchmarks/budget_search.py: 97.18 vs 92.96 at 4 per class; tied at 8).
DEMO_BUDGET = 4

_LABEL_FIELD_OPTION = click.option("--label-field", default=names.DEFAULT_LABEL_FIELD,
                                   show_default=True)


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
    from .data.builtin import list_builtin

    for name in list_builtin():
        click.echo(name)


@datasets.command("load")
@click.argument("name", type=click.Choice(list(names.BUILTIN_DATASETS)))
@click.option("--dataset-name", help="FiftyOne dataset name (default dsco-<name>).")
@click.option("--train-per-class", type=int, help="Keep at most this many train images per class.")
@click.option("--test-per-class", type=int, help="Keep at most this many test images per class.")
@click.option("--overwrite", is_flag=True, help="Delete and rebuild an existing dataset.")
@click.option("--source-dir", type=click.Path(), help="Folder with Fashion-MNIST's IDX .gz files.")
def datasets_load(name, dataset_name, train_per_class, test_per_class, overwrite, source_dir):
    """Load built-in dataset NAME as a persistent FiftyOne dataset."""
    from .data.builtin import load_builtin

    ds = load_builtin(name, dataset_name=dataset_name, train_per_class=train_per_class,
                      test_per_class=test_per_class, overwrite=overwrite,
                      source_dir=source_dir, progress=True)
    click.echo(f"Dataset '{ds.name}': {len(ds)} samples")
    _print_table(ds, names.DEFAULT_LABEL_FIELD)


@datasets.command("info")
@click.argument("dataset_name")
@_LABEL_FIELD_OPTION
def datasets_info(dataset_name, label_field):
    """Show the class table and splits of DATASET_NAME."""
    _print_table(_load_dataset(dataset_name), label_field)


def _load_dataset(name):
    import fiftyone as fo

    if not fo.dataset_exists(name):
        raise click.ClickException(
            f"No FiftyOne dataset named '{name}'. Existing: {fo.list_datasets()}. "
            f"Load a built-in one with 'dsco datasets load {names.DEFAULT_DATASET}'."
        )
    return fo.load_dataset(name)


def _print_table(ds, label_field):
    from .data.access import class_table, test_view, train_view

    train = class_table(train_view(ds), label_field, missing="skip")
    click.echo(f"train split ({train.num_samples} samples):")
    click.echo(train.format())
    test = test_view(ds)
    if len(test):
        click.echo(f"test split: {len(test)} samples (held out from every DsCo step)")


@main.group()
def prior():
    """Fit, inspect and list class-conditional diffusion priors."""


@prior.command("fit")
@click.argument("dataset_name")
@_LABEL_FIELD_OPTION
@click.option("--name", help="Prior name under $DSCO_HOME/priors (default <dataset>-<field>).")
@click.option("--output-dir", type=click.Path(), help="Save the prior here instead.")
@click.option("--image-size", type=int, help="Training resolution (default: image size, >= 16).")
@click.option("--preset", type=click.Choice(list(names.PRIOR_PRESETS)),
              help="UNet size (default: by image size x channels; see docs/priors.md).")
@click.option("--block-out-channels", callback=lambda ctx, param, v: _int_list(v),
              help="UNet widths, one per level, e.g. 32,64,64 (overrides the preset's).")
@click.option("--layers-per-block", type=int,
              help="ResNet layers per level (overrides the preset's).")
@click.option("--steps", type=int,
              help="Step cap (default: 3000 at >= 24 px, about 30 min on 2 CPU cores; else 2000); "
                   "more than a saved prior's cap continues it.")
@click.option("--more-steps", type=int, help="Train the saved prior exactly this many more steps.")
@click.option("--patience", default=2, show_default=True,
              help="Stop when this many checkpoint scores in a row do not raise recognisability "
                   "by 1 point (0: run to --steps).")
@click.option("--batch-size", default=64, show_default=True)
@click.option("--lr", default=5e-4, show_default=True)
@click.option("--checkpoint-every", default=500, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--overwrite", is_flag=True, help="Retrain even if an identical prior exists.")
@click.option("--no-recognisability", is_flag=True,
              help="Skip the quality score (and so the plateau stop).")
@click.option("--vae", type=click.Path(exists=True, file_okay=False),
              help="A local AutoencoderKL folder: fit a latent DiT in its space (docs/priors.md).")
def prior_fit(dataset_name, label_field, name, output_dir, image_size, preset, block_out_channels,
              layers_per_block, steps, more_steps, patience, batch_size, lr, checkpoint_every,
              seed, overwrite, no_recognisability, vae):
    """Fit a prior on DATASET_NAME's train split, until recognisability plateaus (resumes an
    interrupted fit; --more-steps continues a finished one)."""
    from .priors import fit_prior

    with _quiet_quality_warning():
        p = fit_prior(_load_dataset(dataset_name), label_field, name=name, output_dir=output_dir,
                      image_size=image_size, preset=preset, block_out_channels=block_out_channels,
                      layers_per_block=layers_per_block, steps=steps, more_steps=more_steps,
                      patience=patience, batch_size=batch_size, lr=lr,
                      checkpoint_every=checkpoint_every, seed=seed, overwrite=overwrite,
                      recognisability=not no_recognisability, progress=True, vae=vae)
    click.echo(f"Prior saved at {p.path}")
    _print_card(p.card, p.path)


def _int_list(text):
    """``"32,64,64"`` -> ``[32, 64, 64]`` (None stays None)."""
    try:
        return [int(w) for w in text.split(",")] if text else None
    except ValueError:
        raise click.BadParameter(f"{text!r}: give integers separated by commas, e.g. 32,64,64")


@contextlib.contextmanager
def _quiet_quality_warning():
    """Leave out Python's PriorQualityWarning lines: ``_print_card`` says the same, plainly."""
    import warnings

    from .errors import PriorQualityWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PriorQualityWarning)
        yield


@prior.command("info")
@click.argument("name_or_path")
def prior_info(name_or_path):
    """Show the card of a prior (a name under $DSCO_HOME/priors, or a folder)."""
    from .priors import load_prior

    p = load_prior(name_or_path, device="cpu")
    click.echo(p.path)
    _print_card(p.card, p.path)


@prior.command("list")
def prior_list():
    """List the priors saved under $DSCO_HOME/priors."""
    from .priors import list_priors

    for name, card in list_priors().items():
        rec = card.recognisability.get("overall")
        rec = f"{100 * rec:.1f}%" if rec is not None else "-"
        click.echo(f"{name}: {card.family}, {len(card.classes)} classes, "
                   f"{card.image_size}px, recognisability {rec}")


def _print_card(card, path=None):
    click.echo(f"family: {card.family}   image: {card.image_size}px x {card.channels}ch   "
               f"guidance: {'yes' if card.supports_guidance else 'no'}")
    t = card.training
    if t:
        steps = t.get("steps_done", t.get("steps"))
        why = {"plateau": ", stopped on a recognisability plateau",
               "steps": ", the step cap"}.get(t.get("stop_reason"), "")
        size = (f"   UNet: preset {t['preset']}, widths {t.get('block_out_channels')}, "
                f"{t.get('layers_per_block')} layer(s) per level" if t.get("preset") else "")
        click.echo(f"trained on: {t.get('dataset')}/{t.get('label_field')}, {steps} steps{why} "
                   f"in {t.get('seconds')} s on {t.get('device')}{size}")
    rec = card.recognisability
    if rec:
        click.echo(f"recognisability: {100 * rec['overall']:.1f}% overall")
        for c, a in rec["per_class"].items():
            click.echo(f"  {c:<14} {100 * a:5.1f}%")
    if path and card.family == "pixel":
        from .priors.fit import quality_warning

        message = quality_warning(card, path)
        if message:
            click.echo(f"WARNING: {message}")


def parse_budget(text):
    """``"50"`` -> 50 images per class; ``"0.2"`` -> a fraction of the train split."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value <= 1:
        raise click.BadParameter(
            f"{text!r} is neither an integer number of images per class (e.g. 50) nor a "
            f"fraction of the train split in (0, 1] (e.g. 0.2).", param_hint="--budget")
    return value


def parse_full_epochs(ctx, param, value):
    """``--full-epochs N|converge`` -> an int >= 1, ``names.CONVERGE`` or None."""
    if value is None or value == names.CONVERGE:
        return value
    if not value.isdigit() or int(value) < 1:
        raise click.BadParameter(f"give a number of epochs >= 1 or '{names.CONVERGE}', not "
                                 f"{value!r}.", ctx=ctx, param=param)
    return int(value)


def parse_shard_option(ctx, param, value):
    """``--shard K/N`` -> ``(K, N)`` with ``0 <= K < N``."""
    if value is None:
        return None
    from .errors import OptionError
    from .runs.state import parse_shard

    try:
        return parse_shard(value)
    except OptionError as e:
        raise click.BadParameter(str(e), ctx=ctx, param=param) from None


_SHARD_HELP = ("Work only on shard K of N: the classes at positions k % N == K of the run's class "
               "list. Run N processes (e.g. one per GPU with CUDA_VISIBLE_DEVICES) with the same "
               "options; the last one to finish completes the run. See docs/scaling.md.")


def _extractor_options(timm_model, timm_checkpoint):
    return {"model": timm_model, "checkpoint": timm_checkpoint} if timm_checkpoint else None


_EXTRACTOR_OPTIONS = [
    click.option("--extractor", type=click.Choice(list(names.EXTRACTORS)),
                 default=names.DEFAULT_EXTRACTOR, show_default=True, help="Feature extractor."),
    click.option("--timm-model", default="resnet18", show_default=True,
                 help="timm architecture of --timm-checkpoint (with --extractor timm)."),
    click.option("--timm-checkpoint", type=click.Path(exists=True, dir_okay=False),
                 help="Local checkpoint of the timm feature backbone (with --extractor timm)."),
]


def _apply(opts, f):
    for o in reversed(opts):
        f = o(f)
    return f


def _with_extractor_options(f):
    """--extractor, --timm-model, --timm-checkpoint."""
    return _apply(_EXTRACTOR_OPTIONS, f)


def _synthesis_options(f):
    """Options shared by `synthesize` and `concentrate`."""
    opts = [
        click.option("--steps", default=25, show_default=True, help="DDIM sampler steps."),
        click.option("--guidance", type=float,
                     help=f"Classifier-free guidance scale (default {names.DEFAULT_GUIDANCE:g}; "
                          f"{names.DEFAULT_DATA_FREE_GUIDANCE:g} with --data-free)."),
        click.option("--iterations", default=1, show_default=True,
                     help="NOpt Adam steps per sampler step (concentrate's NOpt from real starts "
                          f"between the caps: {names.REAL_START_ITERATIONS} unless given, chosen "
                          "on validation; docs/method.md)."),
        click.option("--lr", default=0.03, show_default=True, help="NOpt learning rate on x_t."),
        click.option("--kernel", type=click.Choice(list(names.KERNELS)), default=names.DEFAULT_KERNEL,
                     show_default=True),
        click.option("--target-batch", default=500, show_default=True, help="Target features per NOpt iteration."),
        click.option("--reuse-prediction/--no-reuse-prediction", default=True, show_default=True,
                     help="The sampler step reuses NOpt's last noise prediction (one denoiser pass "
                          "less per step; see docs/benchmarks.md)."),
        click.option("--step-fraction", type=click.FloatRange(0, 1, min_open=True),
                     default=names.DEFAULT_STEP_FRACTION, show_default=True,
                     help="NOpt optimises only this first fraction of the sampler steps (1: "
                          "every step; the default was chosen on validation, docs/method.md)."),
        click.option("--diversity", type=click.FloatRange(0), default=0.0, show_default=True,
                     help="NOpt lever: weight of an extra repulsion between a class's synthetic "
                          "features (under study, issue #22)."),
        click.option("--augment", metavar="STRATEGY",
                     help="NOpt lever: one DSA operation per iteration on both sides of the MMD, "
                          "e.g. color_crop_cutout_scale_rotate (under study, issue #22)."),
        click.option("--random-nets", type=click.IntRange(0),
                     help="NOpt lever: average the loss with MMD^2 in this many fresh random "
                          "ConvNet-3 embeddings per sampler step (default 0; "
                          f"{names.DEFAULT_DATA_FREE_RANDOM_NETS} with --data-free, chosen on "
                          "validation)."),
        *_EXTRACTOR_OPTIONS,
        click.option("--init", type=click.Choice(list(names.INITS)), default=names.DEFAULT_INIT,
                     show_default=True,
                     help="Start from noise, or from real train images picked by --init-selector "
                          "and noised to --strength (SDEdit; measured, not better on validation: "
                          "docs/method.md)."),
        click.option("--strength", type=click.FloatRange(0, 1), default=names.DEFAULT_STRENGTH,
                     show_default=True,
                     help="With --init real: 1 starts from almost pure noise, 0 keeps the picks."),
        click.option("--init-selector", type=click.Choice(list(names.SELECTORS)),
                     default=names.DEFAULT_INIT_SELECTOR, show_default=True,
                     help="With --init real: how the starting real images are picked."),
        click.option("--init-prefer-recognised/--init-any-real",
                     default=names.DEFAULT_INIT_PREFER_RECOGNISED, show_default=True,
                     help="With --init real: pick the starts among the samples the reference "
                          "classifier recognises first (as --prefer-recognised does for a "
                          "real-only set)."),
        click.option("--init-noising", type=click.Choice(list(names.INIT_NOISINGS)),
                     default=names.DEFAULT_INIT_NOISING, show_default=True,
                     help="With --init real: forward noising (SDEdit) or DDIM inversion with the "
                          "prior (under study, issue #22)."),
        click.option("--match-histograms/--no-match-histograms", default=None,
                     help="Map each class's synthetic pixels onto its real images' distribution "
                          "(removes the background haze NOpt leaves, which ResNet-18 learns). "
                          "Default: on, except with --data-free, which reads no real image "
                          "(docs/method.md)."),
        click.option("--class-batch", default=names.DEFAULT_CLASS_BATCH, show_default=True,
                     callback=lambda ctx, param, v: names.class_batch_value(v),
                     help="Classes per denoiser call: a number, or auto (by device: "
                          "docs/scaling.md). Each class's images are the same either way, up "
                          "to float rounding."),
        click.option("--autocast/--no-autocast", default=True, show_default=True,
                     help="On CUDA, run the prior under bf16 (or fp16) autocast; never on a CPU."),
        click.option("--data-free", is_flag=True, help="Read no real image: target = pool of prior samples."),
        click.option("--pool-size", type=int, help="Data-free pool per class (default max(10*IPC, 100))."),
        click.option("--class-map", type=click.Path(exists=True, dir_okay=False),
                     help="JSON file {class name: model class index}, e.g. ImageNet indices of a "
                          "pretrained DiT (docs/priors.md)."),
        click.option("--seed", default=0, show_default=True),
        click.option("--overwrite", is_flag=True, help="Replace an existing run with other options."),
    ]
    return _apply(opts, f)


@main.command()
@click.argument("dataset_name")
@click.option("--prior", "prior_name", required=True, help="Prior name or folder.")
@click.option("--ipc", type=int, required=True, help="Images per class.")
@click.option("--method", type=click.Choice(list(names.METHODS)), default=names.DEFAULT_METHOD,
              show_default=True)
@click.option("--run-key", help="Run key (default <method>[_df]_ipc<IPC>).")
@_LABEL_FIELD_OPTION
@click.option("--shard", callback=parse_shard_option, metavar="K/N", help=_SHARD_HELP)
@_synthesis_options
def synthesize(dataset_name, prior_name, ipc, method, run_key, label_field, shard, timm_model,
               timm_checkpoint, **options):
    """Synthesise IPC images per class into DATASET_NAME (NOpt or plain sampling)."""
    from .synthesis.sampling import synthesize as run

    options["extractor_options"] = _extractor_options(timm_model, timm_checkpoint)
    res = run(_load_dataset(dataset_name), label_field, prior_name, ipc, method=method,
              run_key=run_key, shard=shard, progress=True, **options)
    _print_synthesis(res)


def _print_synthesis(res):
    if res.get("complete"):
        click.echo(f"{res['num_samples']} synthetic samples; saved view '{res['saved_view']}'")
    else:
        click.echo(f"{res['num_samples']} synthetic samples so far; the run is complete (and its "
                   f"saved view written) when every class is done")
    for c, r in res["classes"].items():
        mmd = f"MMD {r['mmd']:.4f}" if "mmd" in r else ""
        if "mmd_plain" in r:
            mmd += f" (plain, same seeds: {r['mmd_plain']:.4f})"
        click.echo(f"  {c:<14} {r['count']:>4} images  {r['seconds']:7.2f} s  {mmd}")


_PREFER_RECOGNISED_OPTION = click.option(
    "--prefer-recognised/--any-real", default=None,
    help="Pick real samples among those the reference classifier recognises (labels with their "
         "own class) first; the selector still matches the whole class (default: "
         f"{'on' if names.default_prefer_recognised(True) else 'off'} for a real-only selection, "
         f"{'on' if names.default_prefer_recognised(False) else 'off'} doping a synthesis run; "
         "docs/doping.md).")
_SELECTOR_OPTION = click.option(
    "--selector", type=click.Choice(list(names.SELECTORS)),
    help=f"How real samples are picked (default: {names.default_selector(True)} for a real-only "
         f"selection, i.e. dope --prior or concentrate above the synthetic cap; "
         f"{names.default_selector(False)} doping a synthesis run; docs/doping.md).")


@main.command()
@click.argument("dataset_name")
@click.option("--synthetic-run", help="Run key of a finished synthesis run.")
@click.option("--prior", "prior_name",
              help="Instead of --synthetic-run: select real samples only, with this prior's "
                   "image size and classes.")
@click.option("--budget", type=int, required=True, help="Real samples per class.")
@_SELECTOR_OPTION
@click.option("--run-key",
              help="Run key (default <synthetic-run, or real>_dope<budget>_<selector>).")
@_with_extractor_options
@click.option("--clamp", is_flag=True, help="Cap the budget at each class's size.")
@click.option("--k", "knn_k", type=int,
              help="mmd-greedy: neighbours per point in the sparse kernel.")
@click.option("--backend", type=click.Choice(list(names.SELECTION_BACKENDS)),
              help="mmd-greedy: dense NumPy kernel (numpy), FAISS k-means summary for large "
                   "classes (kmeans), sparse FAISS kNN kernel (faiss), or auto (by class size).")
@click.option("--bandwidth", type=float,
              help="mmd-greedy: the kernel's sigma^2 as a multiple of the median heuristic's "
                   f"(default {names.DEFAULT_BANDWIDTH:g}).")
@click.option("--threads", type=int, help="FAISS threads for the selection (default: all cores).")
@_PREFER_RECOGNISED_OPTION
@_LABEL_FIELD_OPTION
@click.option("--seed", default=0, show_default=True)
@click.option("--shard", callback=parse_shard_option, metavar="K/N", help=_SHARD_HELP)
@click.option("--overwrite", is_flag=True)
def dope(dataset_name, synthetic_run, prior_name, budget, selector, run_key, extractor,
         timm_model, timm_checkpoint, clamp, knn_k, backend, bandwidth, threads, prefer_recognised,
         label_field, seed, shard, overwrite):
    """Mix BUDGET selected real samples per class into a synthesis run (or select real only)."""
    from .selection.doping import dope as run

    if bool(synthetic_run) == bool(prior_name):
        raise click.UsageError("Give --synthetic-run (dope a synthesis run) or --prior (select "
                               "real samples only), not both and not neither.")
    res = run(_load_dataset(dataset_name), label_field, synthetic_run, budget, selector=selector,
              run_key=run_key, extractor=extractor,
              extractor_options=_extractor_options(timm_model, timm_checkpoint), clamp=clamp,
              seed=seed, shard=shard,
              overwrite=overwrite, prior=prior_name, threads=threads, progress=True,
              prefer_recognised=prefer_recognised,
              selector_options={k: v for k, v in (("k", knn_k), ("backend", backend),
                                                  ("bandwidth", bandwidth)) if v is not None})
    if res.get("complete"):
        click.echo(f"{res['num_selected']} real samples selected; concentrated set "
                   f"'{res['saved_view']}' has {res['size']} samples")
    else:
        click.echo(f"{res['num_selected']} real samples selected so far; the concentrated set is "
                   f"saved when every class is done")


@main.command()
@click.argument("dataset_name")
@click.option("--prior", "prior_name", required=True, help="Prior name or folder.")
@click.option("--budget", required=True,
              help="Images per class (an integer >= 1, e.g. 50) or a fraction of the train split "
                   "(a decimal in (0, 1], e.g. 0.2).")
@click.option("--run-key", default=names.DEFAULT_CONCENTRATE_KEY, show_default=True,
              help="Run key of the doping run (the synthesis run's is <run-key>_syn).")
@click.option("--method", type=click.Choice(list(names.METHODS)), default=names.DEFAULT_METHOD,
              show_default=True)
@_SELECTOR_OPTION
@click.option("--synthetic-cap", default=names.SYNTHETIC_CAP, show_default=True,
              help="Budgets up to this many images per class are NOpt images from noise "
                   "(docs/method.md).")
@click.option("--real-start-cap", default=names.REAL_START_CAP, show_default=True,
              help="Budgets above --synthetic-cap, up to this many images per class, are NOpt "
                   "images started from the real samples --selector picks; larger ones all real "
                   "(0: none).")
@click.option("--candidates", "candidates_per_image", type=click.IntRange(min=1),
              default=names.DEFAULT_CANDIDATES, show_default=True,
              help="Joint selection: synthesise K candidates per synthetic image and keep the "
                   "share by greedy MMD, those the reference classifier recognises first "
                   "(docs/method.md; under study, issue #22).")
@click.option("--joint-pool", type=click.Choice(list(names.JOINT_POOLS)),
              default=names.DEFAULT_JOINT_POOL, show_default=True,
              help="What joint selection picks from: the candidates alone (the synthetic share "
                   "fixed), or real samples and candidates together by greedy MMD (union: the "
                   "objective decides the share; needs --selector mmd-greedy).")
@_PREFER_RECOGNISED_OPTION
@_LABEL_FIELD_OPTION
@_synthesis_options
def concentrate(dataset_name, prior_name, budget, run_key, method, selector, synthetic_cap,
                real_start_cap, candidates_per_image, joint_pool, prefer_recognised, label_field,
                seed, overwrite, timm_model, timm_checkpoint, **options):
    """Synthesise + dope DATASET_NAME to a total budget (the one-command path)."""
    from .concentrate import concentrate as run

    options["extractor_options"] = _extractor_options(timm_model, timm_checkpoint)
    context = click.get_current_context()
    for name in ("init", "init_selector", "init_prefer_recognised", "iterations"):  # by the budget
        if context.get_parameter_source(name) is click.core.ParameterSource.DEFAULT:
            del options[name]
    budget = parse_budget(budget)
    out = run(_load_dataset(dataset_name), label_field, prior_name, budget, run_key=run_key,
              method=method, selector=selector, synthetic_cap=synthetic_cap,
              real_start_cap=real_start_cap,
              candidates_per_image=candidates_per_image, joint_pool=joint_pool, seed=seed,
              overwrite=overwrite, progress=True, prefer_recognised=prefer_recognised, **options)
    if joint_pool == "union" and out["synthetic_per_class"]:
        click.echo(f"{out['images_per_class']} images per class, picked from real samples and "
                   f"{out['synthetic_per_class'] * candidates_per_image} candidates per class: "
                   f"{out['num_synthetic']} synthetic + {out['num_real']} real in all; saved view "
                   f"'{out['saved_view']}'")
    else:
        start = f" (NOpt from {out['init']})" if out["init"] else ""
        click.echo(f"{out['images_per_class']} images per class = {out['synthetic_per_class']} "
                   f"synthetic{start} + {out['real_per_class']} real; saved view "
                   f"'{out['saved_view']}'")


@main.command()
@click.argument("dataset_name")
@click.option("--run", "run_keys", multiple=True,
              help="A synthesis/doping run whose set to train on (repeatable).")
@click.option("--view", "view_names", multiple=True, help="A saved view to train on (repeatable).")
@click.option("--arch", type=click.Choice(list(names.ARCHITECTURES)),
              default=names.DEFAULT_ARCHITECTURE, show_default=True)
@click.option("--recipe", type=click.Choice(list(names.RECIPES)), default=names.DEFAULT_RECIPE,
              show_default=True,
              help="Training recipe of every model: dsco (300 epochs, cosine, shifts), dc (DC's: "
                   "300 epochs, step, no augmentation), dsa (1000 epochs, DSA augmentation); "
                   "docs/evaluation.md.")
@click.option("--epochs", type=click.IntRange(min=1), help="Override the recipe's epochs.")
@click.option("--seeds", default=names.DEFAULT_NUM_SEEDS, show_default=True,
              help="Seeds 0..N-1.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True),
              help="Override the recipe's SGD learning rate, 0.01 (ResNet-18 on ~100+ images: "
                   "~0.1; docs/benchmarks.md).")
@click.option("--eval-key", default=names.DEFAULT_EVAL_KEY, show_default=True)
@click.option("--no-random", is_flag=True, help="Skip the random real subset of the same size.")
@click.option("--no-full", is_flag=True, help="Skip the full train split.")
@click.option("--full-epochs", callback=parse_full_epochs, metavar="N|" + names.CONVERGE,
              help="Epochs of the full train split (and the soft-label teacher), or "
                   f"'{names.CONVERGE}': double them from {names.CONVERGE_START_EPOCHS} until "
                   f"its held-out accuracy gains less than max({names.CONVERGE_TOLERANCE:g} "
                   "points, 1 std) (docs/evaluation.md). Default: as many SGD steps as the "
                   "largest set, 5 to --epochs (may be under-trained).")
@click.option("--converge-max-epochs", type=click.IntRange(min=1),
              help="Cap of --full-epochs converge (default: the sets' epochs).")
@click.option("--soft-labels", is_flag=True, help="Train on a full-data teacher's soft labels.")
@_LABEL_FIELD_OPTION
def evaluate(dataset_name, run_keys, view_names, arch, recipe, epochs, seeds, lr, eval_key,
             no_random, no_full, full_epochs, converge_max_epochs, soft_labels, label_field):
    """Train on concentrated sets of DATASET_NAME, test on its held-out split.

    Every set is trained from scratch with the same recipe beside a random real
    subset of the same size and the full train split; results are stored on the
    dataset (run, predictions, evaluation panel, plot).
    """
    from .evaluation import evaluate as run
    from .evaluation.convergence import Convergence
    from .runs import load_results

    if converge_max_epochs is not None:
        if full_epochs != names.CONVERGE:
            raise click.UsageError(f"--converge-max-epochs goes with --full-epochs "
                                   f"{names.CONVERGE}.")
        full_epochs = Convergence(max_epochs=converge_max_epochs)
    ds = _load_dataset(dataset_name)
    if not run_keys and not view_names:
        raise click.UsageError("Give at least one --run RUN_KEY or --view SAVED_VIEW "
                               "('dsco runs list' shows the runs).")
    sets = {}
    for k in run_keys:
        saved = load_results(ds, k).get("saved_view")
        if not saved:
            raise click.ClickException(f"Run '{k}' has no concentrated set yet (it is not "
                                       f"complete): re-run it with the same options to finish it.")
        sets[k] = ds.load_saved_view(saved)
    sets.update({v: ds.load_saved_view(v) for v in view_names})
    res = run(ds, label_field, sets, arch=arch, recipe=recipe, epochs=epochs,
              seeds=tuple(range(seeds)), lr=lr, eval_key=eval_key, add_random=not no_random,
              add_full=not no_full, full_epochs=full_epochs, soft_labels=soft_labels,
              progress=True)
    click.echo(res.format_table())
    click.echo(f"Stored under eval key '{eval_key}'; plot: {res.get('plot')}")


@main.command("budget-search")
@click.argument("dataset_name")
@click.option("--prior", "prior_name",
              help="Prior name or folder (default: the one 'dsco prior fit' names "
                   "<dataset>-<label-field>).")
@click.option("--tolerance", default=names.DEFAULT_TOLERANCE, show_default=True, type=float,
              help="Accuracy points a set may lose against the full data, one std below its "
                   "mean, on the validation split.")
@click.option("--ladder", help="Budgets to climb, comma-separated images per class "
                               "(default 1,2,4,... below the smallest class).")
@click.option("--methods", default=",".join(names.BUDGET_METHODS), show_default=True,
              help="What to compare at each budget (comma-separated).")
@click.option("--recipe", type=click.Choice(list(names.RECIPES)), default=names.DEFAULT_RECIPE,
              show_default=True)
@click.option("--arch", type=click.Choice(list(names.ARCHITECTURES)),
              default=names.DEFAULT_ARCHITECTURE, show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), help="Override the recipe's epochs.")
@click.option("--seeds", default=names.DEFAULT_NUM_SEEDS, show_default=True,
              type=click.IntRange(min=1), help="Seeds 0..N-1.")
@click.option("--validation-fraction", default=names.DEFAULT_VALIDATION_FRACTION,
              show_default=True, type=float,
              help="Share of each class's train samples held out for the choice.")
@click.option("--max-hours", type=click.FloatRange(min=0, min_open=True),
              help="Measure no new budget after this long; re-run to continue.")
@click.option("--run-key", default=names.DEFAULT_BUDGET_KEY, show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace a search with other options.")
@click.option("--shard", callback=parse_shard_option, metavar="K/N",
              help="Only synthesise shard K of N's classes of the ladder's synthesis runs and "
                   "exit; run N such processes with the same options, then the same command "
                   "without --shard. See docs/scaling.md.")
@_LABEL_FIELD_OPTION
def budget_search(dataset_name, prior_name, tolerance, ladder, methods, recipe, arch, epochs,
                  seeds, validation_fraction, max_hours, run_key, overwrite, shard, label_field):
    """How small can DATASET_NAME's training set be with no loss? (chosen on validation)

    Climbs a ladder of budgets, comparing DsCo's concentrated set with
    herding's, mmd-greedy's and random real subsets against the full data on a
    validation split carved from the train split; the smallest budget with no
    loss is then tested once on the test split. Resumes when re-run with the
    same options.
    """
    import logging

    from .budget import budget_search as run, format_answer, format_shard

    logging.getLogger("fiftyone_dsco.budget").setLevel(logging.INFO)
    logging.basicConfig(format="%(message)s")
    try:
        rungs = [int(b) for b in ladder.split(",")] if ladder else None
    except ValueError:
        raise click.BadParameter(f"{ladder!r}: give images per class, e.g. 1,2,5,10",
                                 param_hint="--ladder") from None
    res = run(_load_dataset(dataset_name), label_field, prior_name, run_key=run_key,
              tolerance=tolerance, ladder=rungs, methods=[m.strip() for m in methods.split(",")],
              recipe=recipe, arch=arch, epochs=epochs, seeds=tuple(range(seeds)),
              validation_fraction=validation_fraction, max_hours=max_hours, overwrite=overwrite,
              shard=shard)
    click.echo(format_shard(res, shard) if shard else format_answer(res))


@main.group("runs")
def runs_group():
    """List, inspect, delete and upgrade DsCo runs.

    \b
    DsCo runs are FiftyOne runs: dataset.delete_run(key) and dataset.rename_run(a, b)
    also remove or carry along their samples, files, tags, saved views and fields.
    """


@runs_group.command("list")
@click.argument("dataset_name")
def runs_list(dataset_name):
    """List the DsCo runs on DATASET_NAME with their status."""
    from .runs import list_runs, run_status

    ds = _load_dataset(dataset_name)
    for r in list_runs(ds):  # upgrades runs of version 0.1
        click.echo(f"{r['key']:<28} {r['kind']:<11} {run_status(ds, r['key']):<12} "
                   f"{r['timestamp']}")


@runs_group.command("info")
@click.argument("dataset_name")
@click.argument("run_key")
def runs_info(dataset_name, run_key):
    """Show the config and results of RUN_KEY."""
    import json

    from .runs import load_results, run_config

    ds = _load_dataset(dataset_name)
    click.echo(json.dumps({"config": run_config(ds, run_key),
                           "results": load_results(ds, run_key)}, indent=2, default=str))


@runs_group.command("delete")
@click.argument("dataset_name")
@click.argument("run_key")
def runs_delete(dataset_name, run_key):
    """Delete RUN_KEY with its synthetic samples, files, tags, saved view (and evaluation outputs)."""
    from .runs import delete

    delete(_load_dataset(dataset_name), run_key)
    click.echo(f"Deleted run '{run_key}'")


@runs_group.command("upgrade")
@click.argument("dataset_name")
def runs_upgrade(dataset_name):
    """Give DATASET_NAME's runs of an older DsCo version their run classes (no data changes)."""
    from .runs import upgrade_runs

    keys = upgrade_runs(_load_dataset(dataset_name))
    click.echo(f"Upgraded {len(keys)} run(s){': ' + ', '.join(keys) if keys else ''}")


@main.command()
@click.option("--dataset", "builtin", default=names.DEFAULT_DATASET, show_default=True,
              type=click.Choice(list(names.BUILTIN_DATASETS)))
@click.option("--budget", default=DEMO_BUDGET, show_default=True,
              help="Images per class of the concentrated set (the default: where DsCo led herding "
                   "most on a digits validation split, docs/benchmarks.md).")
@click.option("--prior-steps", type=int, help="Prior training steps (default: 2000 for digits).")
@click.option("--seeds", default=names.DEFAULT_NUM_SEEDS, show_default=True,
              help="Seeds of the evaluation.")
@click.option("--epochs", default=300, show_default=True, help="Training epochs of each evaluated model.")
@click.option("--overwrite", is_flag=True, help="Refit the prior and redo the runs with these options.")
def demo(builtin, budget, prior_steps, seeds, epochs, overwrite):
    """The main job: load, fit a prior, concentrate, evaluate against baselines.

    \b
    1. load the built-in dataset (default digits) with its train/test split
    2. fit (or reuse) a class-conditional diffusion prior on the train split
    3. concentrate: NOpt synthesis + selected real samples to --budget per class,
       and the best real subset a user can take without synthesis (herding)
    4. evaluate: ConvNet-3 trained from scratch on the concentrated set, the
       herding subset, a random real subset of the same size, and the full
       train split, tested on the held-out split (mean +- std over seeds),
       stored on the dataset
    """
    from .concentrate import concentrate as run_concentrate
    from .data.builtin import load_builtin
    from .selection.doping import dope
    from .evaluation import evaluate, format_table
    from .priors import fit_prior

    ds = load_builtin(builtin, progress=True)
    field = names.DEFAULT_LABEL_FIELD
    click.echo(f"== 1/4 dataset '{ds.name}': {len(ds)} samples")
    _print_table(ds, field)
    click.echo("== 2/4 prior (fitted once, then reused from $DSCO_HOME/priors)")
    with _quiet_quality_warning():
        prior = fit_prior(ds, field, name=builtin, steps=prior_steps, overwrite=overwrite,
                          progress=True)
    _print_card(prior.card, prior.path)
    click.echo(f"== 3/4 concentrate to {budget} images per class")
    out = run_concentrate(ds, field, prior, budget, run_key=names.DEMO_KEY, overwrite=overwrite,
                          progress=True)
    starts = ""
    if out["synthetic_run"]:
        from .runs import run_config

        real = run_config(ds, out["synthetic_run"]).get("init") == "real"  # noise: not recorded
        starts = " (started from real images)" if real else " (started from noise)"
    click.echo(f"{out['synthetic_per_class']} NOpt-synthetic{starts} + {out['real_per_class']} "
               f"selected real per class; saved view '{out['saved_view']}'")
    herding = dope(ds, field, None, budget, selector="herding", prior=prior.path,
                   prefer_recognised=False,  # the literature's herding, every sample a candidate
                   run_key=names.DEMO_HERDING_KEY, overwrite=overwrite, progress=True)
    click.echo(f"herding: {budget} real per class; saved view '{herding['saved_view']}'")
    click.echo(f"== 4/4 evaluate ({seeds} seeds, {epochs} epochs, held-out test split)")
    res = evaluate(ds, field, {"dsco": ds.load_saved_view(out["saved_view"]),
                               "herding": ds.load_saved_view(herding["saved_view"])},
                   seeds=tuple(range(seeds)), epochs=epochs, eval_key=names.DEMO_EVAL_KEY,
                   progress=True)
    click.echo(format_table(res))
    keys = [k for k in (out["synthetic_run"], out["run_key"], names.DEMO_HERDING_KEY,
                        names.DEMO_EVAL_KEY) if k]
    evals = [arm["eval_key"] for arm in res["arms"].values()]
    click.echo(f"\nStored on dataset '{ds.name}': runs {', '.join(keys)}; saved view "
               f"'{out['saved_view']}'; evaluations {', '.join(evals)}. "
               f"See them in the App: fiftyone app launch {ds.name}")


if __name__ == "__main__":
    main()
