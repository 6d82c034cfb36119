"""The evaluation protocol: train a classifier on each concentrated set, test it on held-out data.

The protocol of ``docs/method.md``: every set is trained from scratch with the
same architecture, schedule and augmentation, for several seeds, and tested on
a real split that no step of the pipeline has read. A random real subset of the
same size and class balance and the full train split are trained beside the
surrogate sets. Accuracies are the model's after its *final* epoch (never the
best epoch on the test set), stored as fractions in ``[0, 1]``.

What is stored on the dataset under ``eval_key``:

- a DsCo run (kind ``evaluation``) holding the full results
  (:func:`load_evaluation` reads them back in any process);
- a summary in ``dataset.info["dsco_evaluations"][eval_key]``;
- per arm, the test-split predictions of its first-seed model in the
  ``fo.Classification`` field ``<eval_key>_<arm>``, evaluated by FiftyOne
  under the evaluation key ``<eval_key>_<arm>_eval`` (FiftyOne writes a
  boolean field named after an evaluation key, so the two names must differ);
- a plot of accuracy against budget in the run's media folder.

``dataset.delete_run(eval_key)`` (or :func:`delete_evaluation`) removes all of
it; ``dataset.rename_run`` carries it to the new key.
"""

import datetime
import re

import numpy as np

import fiftyone.core.utils as fou
from fiftyone import ViewField as F

from .. import runs
from ..data import access as data
from ..errors import (
    ClassMismatchError,
    EmptyViewError,
    LeakageError,
    MissingLabelsError,
    OptionError,
    RunError,
)
from ..names import (DEFAULT_ARCHITECTURE, DEFAULT_EVAL_KEY, DEFAULT_RECIPE, DEFAULT_SEEDS,
                     DSCO_FIELD)
from . import convergence, storage
from .recipes import get_recipe
from .report import FULL, RANDOM, EvaluationResults, add_scores
from .resume import FitStore

#: The full-data arm trains at least this many epochs (see :func:`full_arm_epochs`).
MIN_FULL_EPOCHS = 5


# --- public API ----------------------------------------------------------------


def evaluate(dataset, label_field, train_views, test_view=None, arch=DEFAULT_ARCHITECTURE,
             epochs=None, seeds=DEFAULT_SEEDS, image_size=None, channels=None, add_random=True,
             add_full=True, full_epochs=None, eval_key=DEFAULT_EVAL_KEY, batch_size=None, lr=None,
             soft_labels=False, recipe=DEFAULT_RECIPE, device=None, progress=None):
    """Train a classifier on each set of ``train_views`` and test it on held-out real data.

    An interrupted call, run again with the same options, reads back the seeds
    it had finished instead of training them again (docs/evaluation.md).

    Args:
        dataset: the FiftyOne dataset (or a view of it) whose real train/test
            splits are used
        label_field: the ``fo.Classification`` field; every sample of a
            training view, synthetic or real, is trained on its label there
        train_views: dict ``name -> view`` of surrogate (concentrated) sets
        test_view (None): the held-out split; default ``data.test_view(dataset)``
        arch ("convnet3"): ``"convnet3"`` or ``"resnet18_small"``
        epochs (None): epochs of every surrogate arm and of the random arm;
            default the recipe's (300 for ``dsco`` and ``dc``, 1000 for ``dsa``)
        seeds ((0, 1, 2)): one model per seed and arm
        image_size (None): training side; default the real images' side, at least 16
        channels (None): 1 or 3; default 1 for grey images
        add_random (True): add ``random``, a random real train subset with the
            size and class balance of the largest surrogate set, drawn per seed
        add_full (True): add ``full``, the whole real train split
        full_epochs (None): epochs of the full arm (and of the soft-label
            teacher): a number, ``"converge"`` (train it until its held-out
            accuracy stops moving; ``results["convergence"]`` holds the curve)
            or a :class:`~fiftyone_dsco.evaluation.Convergence` with its own
            start, cap and tolerance; default :func:`full_arm_epochs`, which
            trains no longer than the sets and may leave the full arm
            under-trained (docs/evaluation.md)
        eval_key ("dsco_eval"): the key under which everything is stored;
            an evaluation with the same key is replaced
        batch_size (None), lr (None): override the recipe's (256 and 0.01 in every recipe;
            ConvNet-3's; ResNet-18 on sets of ~100+ images wants ~0.1: on the full digits
            split, 300 steps, 99.0 % at 0.1 vs 87.2 % at 0.01, and 8-14 points more on
            digits IPC 10 sets; 10-image sets did better at 0.01)
        soft_labels (False): train every arm on the softmax outputs of a
            teacher (same arch) trained on the full train split
        recipe ("dsco"): the training recipe of every arm, ``"dsco"``, ``"dc"``
            or ``"dsa"`` (:mod:`fiftyone_dsco.evaluation.recipes`, docs/evaluation.md)
        device (None): torch device; default CUDA when present
        progress (None): a FiftyOne ``progress`` value (bool or callback)

    Returns:
        an :class:`EvaluationResults`

    Raises:
        LeakageError: if the test split overlaps a training set or anything a
            DsCo synthesis or doping run read (checked before anything runs)
    """
    plan = _plan(dataset, label_field, train_views, test_view, arch, epochs, seeds, image_size,
                 channels, add_random, add_full, full_epochs, eval_key, batch_size, lr,
                 soft_labels, recipe)
    arrays = _load_arrays(plan, progress)
    results, first_preds = _train_all(plan, arrays, device, progress)
    storage.store(plan, results, first_preds)
    return results


def measure(dataset, label_field, train_views, held_out, arch=DEFAULT_ARCHITECTURE, epochs=None,
            seeds=DEFAULT_SEEDS, add_random=True, add_full=False, full_epochs=None,
            recipe=DEFAULT_RECIPE, lr=None, device=None, progress=None):
    """Train and test like :func:`evaluate` on any held-out real view, and store nothing.

    For choices made on a validation split (:mod:`fiftyone_dsco.data.splits`):
    ``held_out`` is the validation view and ``dataset`` the view without it,
    whose train split the random and full arms draw from. ``train_views`` may
    be empty when only the full arm is wanted (``add_full=True``). Only the
    sets trained here are checked against ``held_out`` (not every DsCo run of
    the dataset, as :func:`evaluate` does for the test split). Returns an
    :class:`EvaluationResults` that is not saved. ``lr`` overrides the recipe's, as in
    :func:`evaluate`.
    """
    plan = _plan(dataset, label_field, train_views, held_out, arch, epochs, seeds, None, None,
                 add_random, add_full, full_epochs, None, None, lr, False, recipe)
    results, _ = _train_all(plan, _load_arrays(plan, progress), device, progress)
    return results


def full_arm_epochs(epochs, largest_size, full_size, batch_size=256):
    """Epochs of the full-data arm: at least as many SGD steps as the largest surrogate arm.

    ``ceil(epochs * steps_per_epoch(largest) / steps_per_epoch(full))``, but at
    least :data:`MIN_FULL_EPOCHS` and at most ``epochs``: training 300 epochs on
    60,000 images would take hours while adding little to the reference, and
    counting steps (not images) keeps the full arm from being under-trained
    next to tiny sets, where every epoch is one partial batch.
    """
    steps = epochs * -(-largest_size // batch_size)
    n = -(-steps // max(1, -(-full_size // batch_size)))
    return int(min(epochs, max(MIN_FULL_EPOCHS, n)))


# --- planning and checks (nothing is written here) -----------------------------


def _plan(dataset, label_field, train_views, test_view, arch, epochs, seeds, image_size,
          channels, add_random, add_full, full_epochs, eval_key, batch_size, lr, soft_labels,
          recipe=DEFAULT_RECIPE):
    ds, stored = dataset._dataset, eval_key is not None
    if stored:
        runs.validate_run_key(eval_key)
    get_recipe(recipe)  # an unknown name fails before anything is read
    full_epochs = convergence.full_epochs_option(full_epochs)
    _check_options(arch, epochs, seeds, batch_size, lr, train_views, add_full)
    train = data.train_view(dataset)
    table = data.class_table(train, label_field, missing="skip")
    recipe = get_recipe(recipe, table.classes, epochs=epochs, lr=lr, batch_size=batch_size)
    epochs, lr, batch_size = recipe.epochs, recipe.lr, recipe.batch_size
    test = data.test_view(dataset) if test_view is None else test_view
    if test._dataset.name != ds.name:
        raise OptionError(f"test_view is a view of '{test._dataset.name}', not of '{ds.name}'.")
    test_table = _test_table(test, label_field, table.classes)
    arms = _surrogate_arms(ds, train_views, label_field, table.classes)
    largest = max(arms.values(), key=lambda a: len(a["ids"]), default=None)
    if add_random and largest is not None:
        arms[RANDOM] = dict(name=RANDOM, kind=RANDOM, counts=_class_counts(largest, table))
    if add_full:
        arms[FULL] = dict(name=FULL, kind=FULL)
    spec = None
    if isinstance(full_epochs, convergence.Convergence):  # full_epochs: the ladder's last rung
        spec, full_epochs = convergence.resolve(full_epochs, epochs), None
    elif full_epochs is None:
        full_epochs = full_arm_epochs(epochs, len(largest["ids"]) if largest else 0,
                                      table.num_samples, batch_size)
    size, channels = _image_shape(train, table, image_size, channels)
    plan = dict(dataset=ds, label_field=label_field, train=train, table=table, test=test,
                test_table=test_table, arms=arms, arch=arch, epochs=int(epochs),
                full_epochs=full_epochs, convergence=spec, seeds=[int(s) for s in seeds],
                image_size=size, channels=channels, batch_size=int(batch_size), lr=float(lr),
                soft_labels=bool(soft_labels), eval_key=eval_key, recipe=recipe)
    _check_leakage(plan, check_runs=stored)
    if stored:
        _check_names(plan)
    return plan


def _check_options(arch, epochs, seeds, batch_size, lr, train_views, add_full=True):
    from .classifiers import ARCHITECTURES

    if arch not in ARCHITECTURES:
        raise OptionError(f"Unknown arch {arch!r}; choose one of {list(ARCHITECTURES)}.")
    if any(v is not None and v <= 0 for v in (epochs, batch_size, lr)):
        raise OptionError("epochs and batch_size must be >= 1 and lr > 0.")
    if isinstance(seeds, int) or len(seeds) < 1 or len(set(seeds)) != len(seeds):
        raise OptionError(f"seeds must be distinct integers, e.g. (0, 1, 2); got {seeds!r}.")
    if not isinstance(train_views, dict) or not (train_views or add_full):
        raise OptionError("train_views must be a non-empty dict name -> view of training sets.")


def _test_table(test, label_field, classes):
    if test.count() == 0:
        raise EmptyViewError("No held-out test samples. Tag real samples that no step reads "
                             "'test' (the built-in datasets have them), or pass test_view.")
    synthetic = test.match(F(DSCO_FIELD + ".source") == "synthetic").count()
    if synthetic:
        raise OptionError(f"The test view holds {synthetic} synthetic samples; test on real "
                          f"held-out data only (default: data.test_view(dataset)).")
    return data.class_table(test, label_field, classes=classes, min_per_class=0)


def _surrogate_arms(dataset, train_views, label_field, classes):
    arms = {}
    for name, view in train_views.items():
        if view._dataset.name != dataset.name:
            raise OptionError(f"Training set {name!r} is a view of dataset "
                              f"'{view._dataset.name}', not of '{dataset.name}'.")
        arm = _arm_name(name)
        if arm in arms or arm in (RANDOM, FULL):
            raise OptionError(f"Training set name {name!r} clashes with another arm ({arm!r}); "
                              f"'random' and 'full' are reserved. Rename it.")
        ids, labels = _view_labels(name, view, label_field, classes)
        arms[arm] = dict(name=str(name), kind="surrogate", ids=ids, labels=labels)
    return arms


def _arm_name(name):
    arm = re.sub(r"\W", "_", str(name), flags=re.ASCII).strip("_")
    if not arm:
        raise OptionError(f"Training set name {name!r} has no letter or digit.")
    return arm


def _view_labels(name, view, label_field, classes):
    data.validate_label_field(view, label_field)
    ids, labels = view.values(["id", label_field + ".label"])
    if not ids:
        raise EmptyViewError(f"Training set {name!r} is empty.")
    missing = [i for i, y in zip(ids, labels) if y is None]
    if missing:
        raise MissingLabelsError(f"{len(missing)} samples of training set {name!r} have no label "
                                 f"in '{label_field}' (e.g. {missing[:3]}). Label or exclude them.")
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise ClassMismatchError(f"Training set {name!r} has labels {unknown} that are not classes "
                                 f"of the train split {classes}.")
    index = {c: k for k, c in enumerate(classes)}
    return list(ids), np.array([index[y] for y in labels], dtype=np.int64)


def _class_counts(arm, table):
    counts = np.bincount(arm["labels"], minlength=len(table.classes))
    return {c: int(n) for c, n in zip(table.classes, counts)}


def _image_shape(train, table, image_size, channels):
    first = data.read_image(train.select(table.ids()[0]).first().filepath, None, 3)
    grey = bool((first[0] == first[1]).all() and (first[1] == first[2]).all())
    channels = channels or (1 if grey else 3)
    if channels not in (1, 3):
        raise OptionError(f"channels must be 1 or 3, not {channels}.")
    size = image_size or max(16, *first.shape[1:])
    if size < 8:
        raise OptionError(f"image_size must be >= 8 (ConvNet-3 halves it three times); got {size}.")
    return int(size), int(channels)


def _check_leakage(plan, check_runs=True):
    """Raise :class:`LeakageError` unless the test split is disjoint from all training data.

    With ``check_runs``, "all" includes what any DsCo synthesis or doping run read.
    """
    test_ids = set(plan["test_table"].ids())
    sources = {f"training set '{a['name']}'": a["ids"] for a in plan["arms"].values() if "ids" in a}
    if set(plan["arms"]) & {RANDOM, FULL} or plan["soft_labels"]:
        sources["the real train split (random/full arms, teacher)"] = plan["table"].ids()
    read = runs.read_sample_ids(plan["dataset"]) if check_runs else set()
    if read & test_ids:
        sources.update(_run_sources(plan["dataset"]))
    overlaps = {src: len(test_ids.intersection(ids)) for src, ids in sources.items()}
    overlaps = {src: n for src, n in overlaps.items() if n}
    if overlaps:
        what = "; ".join(f"{n} with {src}" for src, n in overlaps.items())
        raise LeakageError(
            f"The test split ({len(test_ids)} samples) is not held out: {what}. Remove the test "
            f"samples from the training sets (e.g. view.match_tags('test', bool=False)), rerun "
            f"synthesis/doping on data.train_view(dataset), or pass a test_view that no step read."
        )


def _run_sources(dataset):
    out = {}
    for run in runs.list_runs(dataset):
        if run["kind"] in (runs.SYNTHESIS, runs.DOPING):
            name = f"{run['kind']} run '{run['key']}'"
            out[name] = dataset.load_run_view(run["key"]).values("id")
    return out


def _check_names(plan):
    """Refuse to overwrite fields, evaluations or runs that this evaluation key does not own."""
    ds, key = plan["dataset"], plan["eval_key"]
    owned = set()
    if ds.has_run(key):
        if not storage.is_evaluation_run(ds, key):
            raise RunError(f"Key '{key}' belongs to another run ({ds.list_runs()}); "
                           f"choose another eval_key.")
        old = runs.load_results(ds, key)
        owned = set(old.get("pred_fields", {}).values()) | set(old.get("eval_keys", {}).values())
    names = [n for arm in plan["arms"] for n in runs.evaluation_outputs(key, arm)]
    if len(set(names)) != len(names):
        raise OptionError(f"Arm names give clashing field names {names}; rename the training sets.")
    schema = ds.get_field_schema()
    taken = [n for n in names if (n in schema or ds.has_evaluation(n)) and n not in owned]
    if taken:
        raise OptionError(f"Fields or evaluations {taken} already exist and do not belong to "
                          f"evaluation '{key}'; choose another eval_key or delete them.")


# --- training ------------------------------------------------------------------


def _load_arrays(plan, progress):
    ds, size, ch = plan["dataset"], plan["image_size"], plan["channels"]
    out = {"test": data.image_array(ds, plan["test_table"].ids(), size, ch, progress=progress)}
    for arm, spec in plan["arms"].items():
        if "ids" in spec:
            out[arm] = data.image_array(ds, spec["ids"], size, ch, progress=progress)
    if set(plan["arms"]) & {RANDOM, FULL} or plan["soft_labels"] or plan["recipe"].normalize:
        out["train"] = data.image_array(ds, plan["table"].ids(), size, ch, progress=progress)
    if plan["recipe"].normalize:  # the real train split's mean and std, in [-1, 1] units
        plan["normalize"] = (float(out["train"].mean()) / 127.5 - 1, float(out["train"].std()) / 127.5)
    return out


def _arm_data(plan, arrays, arm, seed):
    """``(uint8 images, labels, epochs)`` of an arm (or of the ladder's ``FULL``) for a seed."""
    spec, table = plan["arms"].get(arm, {"kind": arm}), plan["table"]
    if spec["kind"] == FULL:
        return arrays["train"], table.labels(), plan["full_epochs"]
    if spec["kind"] == RANDOM:
        rows = _random_rows(table, spec["counts"], seed)
        return arrays["train"][rows], table.labels()[rows], plan["epochs"]
    return arrays[arm], spec["labels"], plan["epochs"]


def _random_rows(table, counts, seed):
    """Rows of ``table.ids()``: ``counts[c]`` random samples of each class ``c``."""
    rng = np.random.default_rng(seed)
    rows, start = [], 0
    for c in table.classes:
        n = len(table.ids_by_class[c])
        rows.append(start + rng.choice(n, size=min(n, counts[c]), replace=False))
        start += n
    return np.sort(np.concatenate(rows))


def _train_all(plan, arrays, device, progress):
    """Train every arm for every seed; returns the results and the first seed's predictions.

    Seeds finished by an interrupted run of the same evaluation are read back,
    not trained again (:mod:`.resume`); their files go when it ends.
    """
    test = (data.to_unit_range(arrays["test"]), plan["test_table"].labels())
    arms, first_preds, teacher, store = {}, {}, None, FitStore(plan, arrays)
    with fou.ProgressBar(total=_model_count(plan), progress=progress, iters_str="models") as pb:
        done, trained = _converge(plan, arrays, test, device, pb, store)
        if plan["soft_labels"]:
            teacher, teacher_info = _train_teacher(plan, arrays, test, device, trained)
            pb.update()
        for arm in plan["arms"]:
            fits, first = done.get(arm) or _train_arm(plan, arrays, arm, test, device, teacher,
                                                      pb, store)
            arms[arm], first_preds[arm] = _summarise(plan, arm, fits), first[1:]
    results = _results(plan, arms)
    if teacher is not None:
        results["teacher"] = teacher_info
    store.clear()
    return results, first_preds


def _model_count(plan):
    """Models to train: every arm and seed, the teacher, and the ladder's rungs at most."""
    n, seeds = len(plan["arms"]) * len(plan["seeds"]) + plan["soft_labels"], len(plan["seeds"])
    if plan["convergence"] is not None and (FULL in plan["arms"] or plan["soft_labels"]):
        n += len(convergence.ladder(plan["convergence"])) * seeds
        n -= seeds if FULL in plan["arms"] and not plan["soft_labels"] else 0
    return n


def _train_arm(plan, arrays, arm, test, device, teacher, pb, store, epochs=None):
    """Fit every seed of ``arm`` (for ``epochs``: default the arm's), reading back saved seeds.

    Returns the fits and the first seed's ``(model, predictions, confidences)``;
    the model is None when that seed was read back.
    """
    epochs = epochs or _arm_data(plan, arrays, arm, plan["seeds"][0])[2]
    saved = store.load(arm, epochs, teacher)
    fits, first = [], None
    for seed in plan["seeds"]:
        if seed in saved:  # finished before an interruption
            fit, pred, conf = saved[seed]
            model = None
        else:
            images, labels, _ = _arm_data(plan, arrays, arm, seed)
            model, secs = _fit(plan, images, labels, epochs, seed, teacher, device)
            acc, pred, conf = _accuracy(model, *test)
            fit = dict(acc=acc, per_class=_per_class(pred, test[1], plan), seconds=secs,
                       size=len(labels), epochs=epochs)
            keep = first is None
            store.save(arm, epochs, seed, fit, *((pred, conf) if keep else ()), teacher=teacher)
        fits.append(fit)
        first = first or (model, pred, conf)
        pb.update()
    return fits, first


def _converge(plan, arrays, test, device, pb, store):
    """Climb the full arm's ladder (on the labels) and set ``plan["full_epochs"]`` to its end.

    Returns ``{FULL: (fits, first)}`` of the last rung when the full arm trains
    on the labels (else ``{}``), and the last rung's first-seed ``(model,
    seconds)`` for the teacher (None when read back from an interrupted run).
    """
    spec, seeds = plan["convergence"], len(plan["seeds"])
    if spec is None or not (FULL in plan["arms"] or plan["soft_labels"]):
        return {}, None
    rungs = {}

    def train_rung(epochs):
        rungs[epochs] = _train_arm(plan, arrays, FULL, test, device, None, pb, store, epochs)
        return convergence.rung_summary(rungs[epochs][0])

    record = convergence.climb(spec, train_rung)
    pb.update((len(convergence.ladder(spec)) - len(record["curve"])) * seeds)  # rungs not needed
    plan["full_epochs"], plan["ladder"] = record["epochs"], record
    fits, first = rungs[record["epochs"]]
    done = {} if plan["soft_labels"] or FULL not in plan["arms"] else {FULL: (fits, first)}
    return done, None if first[0] is None else (first[0], fits[0]["seconds"])


def _train_teacher(plan, arrays, test, device, trained=None):
    """The soft-label teacher: same arch, full train split, ``full_epochs``, first seed.

    ``trained``: that very model and its seconds, when the convergence ladder trained it.
    """
    seed, epochs = plan["seeds"][0], plan["full_epochs"]
    model, secs = trained or _fit(plan, arrays["train"], plan["table"].labels(), epochs, seed,
                                  None, device)
    info = dict(acc=_accuracy(model, *test)[0], seconds=secs, epochs=epochs, seed=seed)
    return model, info


def _fit(plan, images, labels, epochs, seed, teacher, device):
    from .training import train_classifier

    return train_classifier(data.to_unit_range(images), labels, len(plan["table"].classes),
                            plan["arch"], seed=seed, device=device, teacher=teacher,
                            **_training_options(plan, epochs))


def _training_options(plan, epochs):
    """The recipe's options of ``train_classifier`` for ``epochs``, with the input normalisation."""
    return dict(plan["recipe"].training_options(), epochs=epochs,
                normalize=plan.get("normalize"))


def _accuracy(model, test_x, test_y):
    """``(top-1, predicted indices, confidences)`` of ``model`` on the test arrays."""
    from .training import predict

    conf, pred = predict(model, test_x).softmax(1).max(1)
    pred = pred.numpy()
    return float((pred == test_y).mean()), pred, conf.numpy()


def _per_class(pred, y, plan):
    """Accuracy of each class (``nan`` for a class with no test sample)."""
    return [float((pred[y == k] == k).mean()) if (y == k).any() else np.nan
            for k in range(len(plan["table"].classes))]


def _summarise(plan, arm, fits):
    accs = [f["acc"] for f in fits]
    per = np.array([f["per_class"] for f in fits])
    n, classes = fits[0]["size"], plan["table"].classes
    pred_field, fo_key = (runs.evaluation_outputs(plan["eval_key"], arm) if plan["eval_key"]
                          else (None, None))
    spec = plan["arms"][arm]
    return dict(
        name=spec["name"], kind=spec["kind"], accs=accs, acc_mean=float(np.mean(accs)),
        acc_std=convergence.seed_std(accs),
        per_class={c: None if np.isnan(per[0, k]) else float(per[:, k].mean())
                   for k, c in enumerate(classes)},
        size=int(n), ipc=n / len(classes), fraction=n / plan["table"].num_samples,
        epochs=int(fits[0]["epochs"]), seconds=float(np.mean([f["seconds"] for f in fits])),
        seconds_per_seed=[float(f["seconds"]) for f in fits], pred_field=pred_field,
        eval_key=fo_key,
    )


def _results(plan, arms):
    add_scores(arms)
    return EvaluationResults(
        eval_key=plan["eval_key"], label_field=plan["label_field"], arch=plan["arch"],
        seeds=plan["seeds"], epochs=plan["epochs"], full_epochs=plan["full_epochs"],
        convergence=plan.get("ladder"),
        image_size=plan["image_size"], channels=plan["channels"],
        batch_size=plan["batch_size"], lr=plan["lr"], recipe=plan["recipe"].to_dict(),
        labels="soft" if plan["soft_labels"] else "hard",
        std_ddof=1 if len(plan["seeds"]) >= 2 else 0, accuracy="final epoch, fraction in [0, 1]",
        classes=plan["table"].classes, train_size=plan["table"].num_samples,
        test_size=plan["test_table"].num_samples, arms=arms,
        pred_fields={a: r["pred_field"] for a, r in arms.items()},
        eval_keys={a: r["eval_key"] for a, r in arms.items()},
        timestamp=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )
