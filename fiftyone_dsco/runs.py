"""DsCo runs on a FiftyOne dataset: records, resume, saved views, clean deletion.

Every DsCo job (synthesis, doping, evaluation) is a FiftyOne custom run
registered on the view it read, so ``dataset.load_run_view(key)`` tells what
the run saw. Its config holds ``dsco_kind`` and the options; its results
(a JSON dict) are updated as the run progresses, which is what resume reads.
"""

import os
import shutil

from fiftyone import ViewField as F

from .config import DSCO_FIELD, media_dir
from .errors import RunError

SYNTHESIS, DOPING, EVALUATION = "synthesis", "doping", "evaluation"


def validate_run_key(run_key):
    """Raise unless ``run_key`` is a valid FiftyOne run key (a Python identifier)."""
    if not isinstance(run_key, str) or not run_key.isidentifier():
        raise RunError(
            f"Invalid run key {run_key!r}: use letters, digits and underscores, "
            f"not starting with a digit (e.g. 'nopt_ipc10')."
        )


def run_tag(run_key):
    """The sample tag of a run's samples (synthetic ones and selected real ones)."""
    return f"dsco:{run_key}"


def saved_view_name(run_key):
    return "dsco-" + run_key.replace("_", "-")


def run_media_dir(dataset, run_key):
    return media_dir(dataset.name, "runs", run_key)


def is_dsco_run(dataset, run_key):
    return dataset.has_run(run_key) and "dsco_kind" in dataset.get_run_info(run_key).config.serialize()


def run_config(dataset, run_key):
    """The options a run was started with (a dict with ``dsco_kind``)."""
    cfg = dataset.get_run_info(run_key).config.serialize()
    # "cls" and "type" are FiftyOne's; "method" is FiftyOne's too but DsCo may set it
    return {k: v for k, v in cfg.items()
            if k not in ("type", "cls") and not (k == "method" and v is None)}


def check_run(view, run_key, kind, config, overwrite=False):
    """What :func:`begin_run` would do: ``"new"``, ``"resume"`` or ``"overwrite"``.

    Raises the same errors as :func:`begin_run` and writes nothing, so a job
    can check its run key before it reads any data.
    """
    validate_run_key(run_key)
    dataset = view._dataset
    if not dataset.has_run(run_key):
        return "new"
    if not is_dsco_run(dataset, run_key):
        raise RunError(f"Run key '{run_key}' belongs to a non-DsCo run; choose another key.")
    old = run_config(dataset, run_key)
    same = old.get("dsco_kind") == kind and _comparable(old) == _comparable(config)
    if overwrite:
        return "overwrite"
    if same:
        return "resume"
    diff = sorted(k for k in set(old) | set(config)
                  if k != "dsco_kind" and old.get(k) != config.get(k))
    raise RunError(
        f"Run '{run_key}' already exists with other options ({', '.join(diff) or 'kind'}). "
        f"Pass overwrite=True (--overwrite) to replace it, or use another run key."
    )


def begin_run(view, run_key, kind, config, overwrite=False):
    """Register run ``run_key`` on ``view`` or resume it. Returns ``"new"`` or ``"resume"``.

    A run with the same kind and options resumes; with other options it is an
    error unless ``overwrite``, which deletes the old run and its samples first.
    Safe when several processes (shards) start the same new run at once: one
    registers it, the others wait for it and resume (see
    :func:`fiftyone_dsco.shards.claim_registration`).
    """
    from . import shards

    dataset = view._dataset
    dataset.reload()  # another process may have registered it since this one loaded the dataset
    action = check_run(view, run_key, kind, config, overwrite)
    if action == "resume":
        stored = _stored_results(dataset, run_key)
        shards.ensure_state(dataset, run_key, stored.get("classes"), config.get("classes"))
        return "resume"
    if action == "overwrite":
        delete_run(dataset, run_key)
    if not shards.claim_registration(dataset, run_key):
        shards.wait_registered(dataset, run_key)
        check_run(view, run_key, kind, config)  # the other process's options must be these
        return "resume"
    try:
        cfg = dataset.init_run(dsco_kind=kind, **config)
        view.register_run(run_key, cfg)
        save_results(dataset, run_key, {})
    except BaseException:
        shards.delete_state(dataset, run_key)
        raise
    shards.mark_registered(dataset, run_key)
    return "new"


def _comparable(config):
    return {k: v for k, v in config.items() if k != "dsco_kind"}


def load_results(dataset, run_key):
    """The results dict of a DsCo run (empty while nothing is recorded).

    FiftyOne's stored run results (written when the run completes) with the
    live per-class records and per-shard state of
    :mod:`fiftyone_dsco.shards` laid over them, so a running or sharded run
    shows its progress: ``classes`` (name -> record, in class order),
    ``shards`` (name -> state) and ``merge``.
    """
    from . import shards

    if not dataset.has_run(run_key):
        dataset.reload()  # registered by another process since this one loaded the dataset?
    if not dataset.has_run(run_key):
        raise RunError(f"No run '{run_key}' on dataset '{dataset.name}'. Runs: {dataset.list_runs()}")
    results = _stored_results(dataset, run_key)
    cfg = dataset.get_run_info(run_key).config.serialize()
    if cfg.get("dsco_kind") not in (SYNTHESIS, DOPING):
        return results
    state = shards.get_state(dataset, run_key)
    if state is not None:
        class_list = cfg.get("classes") or []
        live = shards.class_records(dataset, run_key, class_list)
        if live or "classes" in results:
            merged = dict(results.get("classes", {}))
            merged.update(live)
            results["classes"] = {c: merged[c] for c in class_list if c in merged}
        if state.get("shards"):
            results["shards"] = state["shards"]
        if state.get("merge"):
            results["merge"] = state["merge"]
    return results


def _stored_results(dataset, run_key):
    res = dataset.load_run_results(run_key, cache=False)
    return dict(getattr(res, "data", None) or {}) if res is not None else {}


def save_results(dataset, run_key, data):
    results = dataset.init_run_results(run_key, data=_jsonable(data))
    dataset.save_run_results(run_key, results, overwrite=True, cache=False)


def list_runs(dataset, kind=None):
    """``[{"key", "kind", "config", "timestamp"}]`` for the DsCo runs on ``dataset``."""
    out = []
    for key in dataset.list_runs():
        if not is_dsco_run(dataset, key):
            continue
        cfg = run_config(dataset, key)
        if kind is None or cfg["dsco_kind"] == kind:
            info = dataset.get_run_info(key)
            out.append(dict(key=key, kind=cfg["dsco_kind"], config=cfg,
                            timestamp=str(info.timestamp)))
    return out


def run_samples(dataset, run_key):
    """Samples that run ``run_key`` wrote (synthetic) or selected (real)."""
    return dataset.match_tags(run_tag(run_key))


def delete(dataset, run_key):
    """Delete any DsCo run with everything it wrote (evaluations: fields, plot, summary too)."""
    if is_dsco_run(dataset, run_key) and run_config(dataset, run_key)["dsco_kind"] == EVALUATION:
        from .evaluation import delete_evaluation

        return delete_evaluation(dataset, run_key)
    return delete_run(dataset, run_key)


def delete_run(dataset, run_key):
    """Delete a DsCo run: its synthetic samples and files, its tags, saved view and record."""
    validate_run_key(run_key)
    if not dataset.has_run(run_key):
        raise RunError(f"No run '{run_key}' on dataset '{dataset.name}'. Runs: {dataset.list_runs()}")
    synthetic = dataset.match((F(DSCO_FIELD + ".run_key") == run_key)
                              & (F(DSCO_FIELD + ".source") == "synthetic"))
    paths = synthetic.values("filepath")
    dataset.delete_samples(synthetic)
    for p in paths:
        if os.path.isfile(p):
            os.remove(p)
    remove_tree(run_media_dir(dataset, run_key))
    dataset.untag_samples(run_tag(run_key))
    name = saved_view_name(run_key)
    if dataset.has_saved_view(name):
        dataset.delete_saved_view(name)
    if dataset.has_run(run_key):
        dataset.delete_run(run_key)
    from .shards import delete_state

    delete_state(dataset, run_key)


def remove_tree(folder):
    """Delete ``folder`` and then its parent when that is left empty (e.g. ``runs/``)."""
    shutil.rmtree(folder, ignore_errors=True)
    try:
        os.rmdir(os.path.dirname(folder))
    except OSError:  # not empty, or already gone
        pass


def read_sample_ids(dataset):
    """Ids of every real sample that any DsCo synthesis or doping run read."""
    ids = set()
    for run in list_runs(dataset):
        if run["kind"] in (SYNTHESIS, DOPING):
            ids.update(dataset.load_run_view(run["key"]).values("id"))
    return ids


def _jsonable(obj):
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def save_view(dataset, run_key, view, description):
    """Save ``view`` as the run's saved view (replacing an older one)."""
    dataset.save_view(saved_view_name(run_key), view, description=description, overwrite=True)
    return saved_view_name(run_key)

