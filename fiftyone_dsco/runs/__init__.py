"""DsCo runs on FiftyOne's runs framework: run classes, records, resume, clean deletion.

Every DsCo job (synthesis, doping, evaluation) is a FiftyOne custom run
registered on the view it read, so ``dataset.load_run_view(key)`` tells what
the run saw. Its config is a :class:`SynthesisRunConfig`,
:class:`DopingRunConfig` or :class:`EvaluationRunConfig` holding ``dsco_kind``,
the options and ``media_folder`` (the one folder whose files the run may
delete); its results (a JSON dict) are what resume and the App read.

Because the run classes implement ``cleanup()`` and ``rename()``, FiftyOne's
own ``dataset.delete_run(key)``, ``delete_runs()`` and ``rename_run(a, b)``
remove or carry along everything a run wrote: synthetic samples, files, tags,
saved view, evaluation fields and the run's live state (:mod:`.state`,
which ``fo.delete_dataset`` removes with the dataset). A file is deleted only
when it lies in the run's own media folder (one named after this dataset's id,
so never the original's for a run that came with a clone) and no sample of any
dataset (a clone, say) still points at it. These class paths are stored in
the database: keep them importable.
"""

import contextlib
import logging
import os
import shlex
import socket
import sys
import time
import uuid

import fiftyone.core.runs as fors
import fiftyone.core.utils as fou
from fiftyone import ViewField as F

from . import state as run_state
from ..names import (BUDGET_SEARCH, DOPING, DSCO_FIELD, EVALUATION,  # noqa: F401 (re-exported)
                     SYNTHESIS, run_tag, saved_view_name)
from ..errors import RunError
from ..paths import media_dir

logger = logging.getLogger(__name__)

#: ``dataset.info`` key of the evaluation summaries that the App plots.
INFO_KEY = "dsco_evaluations"
#: The file in ``dsco/runs/<dataset id>/`` naming its FiftyOne database (see :func:`prune_orphans`).
_MARKER = ".dsco-database"
#: Seconds a deleted dataset's run folder is kept after its last change.
ORPHAN_MIN_AGE = 3600.0
#: Config entries that are bookkeeping, not options (ignored when comparing runs):
#: ``class_batch`` splits the work into denoiser calls and changes no image, so a
#: resume or another shard may use another value.
_BOOKKEEPING = ("dsco_kind", "media_folder", "class_batch")


# ------------------------------------------------------------------ run classes

class DscoRunConfig(fors.RunConfig):
    """Options of a DsCo run: ``dsco_kind``, the job's options and ``media_folder``."""

    kind = None

    def __init__(self, **kwargs):
        kwargs["dsco_kind"] = self.kind
        super().__init__(**kwargs)


class DscoRun(fors.Run):
    """A DsCo run; FiftyOne calls :meth:`cleanup` on delete and :meth:`rename` on rename."""

    def cleanup(self, samples, key):
        cleanup_run(samples._root_dataset, key, self.config.serialize())

    def rename(self, samples, key, new_key):
        rename_outputs(samples._root_dataset, key, new_key, self.config.serialize())


class SynthesisRunConfig(DscoRunConfig):
    kind = SYNTHESIS


class SynthesisRun(DscoRun):
    pass


class DopingRunConfig(DscoRunConfig):
    kind = DOPING


class DopingRun(DscoRun):
    pass


class EvaluationRunConfig(DscoRunConfig):
    kind = EVALUATION


class EvaluationRun(DscoRun):
    pass


class BudgetSearchRunConfig(DscoRunConfig):
    kind = BUDGET_SEARCH


class BudgetSearchRun(DscoRun):
    pass


_CONFIGS = {SYNTHESIS: SynthesisRunConfig, DOPING: DopingRunConfig, EVALUATION: EvaluationRunConfig,
            BUDGET_SEARCH: BudgetSearchRunConfig}
_VIEW_KINDS = (SYNTHESIS, DOPING, BUDGET_SEARCH)  #: kinds that save a view ``dsco-<run-key>``


# ------------------------------------------------------------------ keys and records

def validate_run_key(run_key):
    """Raise unless ``run_key`` is a valid FiftyOne run key (a Python identifier)."""
    if not isinstance(run_key, str) or not run_key.isidentifier():
        raise RunError(
            f"Invalid run key {run_key!r}: use letters, digits and underscores, "
            f"not starting with a digit (e.g. 'nopt_ipc10')."
        )


def _raw_config(dataset, run_key):
    return dataset.get_run_info(run_key).config.serialize()


def is_dsco_run(dataset, run_key):
    return dataset.has_run(run_key) and "dsco_kind" in _raw_config(dataset, run_key)


def is_legacy_run(dataset, run_key):
    """A DsCo run written by version 0.1 (a plain ``fo.RunConfig``; see :func:`upgrade_runs`)."""
    cfg = _raw_config(dataset, run_key)
    return "dsco_kind" in cfg and cfg.get("cls") == "fiftyone.core.runs.RunConfig"


def run_config(dataset, run_key):
    """The options a run was started with (a dict with ``dsco_kind``)."""
    cfg = _raw_config(dataset, run_key)
    # "cls" and "type" are FiftyOne's; "method" is FiftyOne's too but DsCo may set it
    return {k: v for k, v in cfg.items()
            if k not in ("type", "cls", "media_folder") and not (k == "method" and v is None)}


def run_kind(dataset, run_key):
    return _raw_config(dataset, run_key).get("dsco_kind")


def _comparable(config):
    return {k: v for k, v in config.items() if k not in _BOOKKEEPING}


def check_view_names(dataset, run_keys):
    """Refuse new run keys whose saved views would take another's name.

    FiftyOne identifies saved views by a slug of their name, so ``Kc`` and
    ``kc`` (or ``Ünï`` and ``n``) would share one view. Keys of existing runs
    (they own their views) are skipped.
    """
    new = {fou.to_slug(saved_view_name(k)): k for k in run_keys if not dataset.has_run(k)}
    for other in dataset.list_runs():
        slug = fou.to_slug(saved_view_name(other))
        if slug in new and other not in run_keys and is_dsco_run(dataset, other) and \
                run_kind(dataset, other) in _VIEW_KINDS:
            raise RunError(f"Run key '{new[slug]}' would share its saved view with run '{other}' "
                           f"(FiftyOne names both '{slug}'); choose another run key.")
    for view in dataset.list_saved_views():
        key = new.get(fou.to_slug(view))
        if key is not None:
            raise RunError(f"A saved view '{view}' that is not run '{key}''s already takes the "
                           f"name '{saved_view_name(key)}'; choose another run key or delete "
                           f"that view.")


def check_idle(dataset, run_key):
    """Raise while another live process writes run ``run_key`` (a claim or a running shard)."""
    busy = run_state.live_writers(dataset, run_key)
    if not busy:
        return
    hint = ""
    if any(not w.endswith(" on " + socket.gethostname()) for w in busy):
        hint = (f" A process on another machine stops counting {run_state.CLAIM_LEASE / 60:.0f} "
                f"min after its last heartbeat; if it is gone, wait that long or delete the run: "
                f"dsco runs delete {shlex.quote(dataset.name)} {run_key}")
    raise RunError(f"Run '{run_key}' is being written by {', '.join(busy)}. Wait for it or stop "
                   f"it.{hint}")


def check_run(view, run_key, kind, config, overwrite=False):
    """What :func:`begin_run` would do: ``"new"``, ``"resume"`` or ``"overwrite"``.

    Raises the same errors as :func:`begin_run` and writes nothing, so a job
    can check its run key before it reads any data.
    """
    validate_run_key(run_key)
    dataset = view._dataset
    if not dataset.has_run(run_key):
        if kind in _VIEW_KINDS:
            check_view_names(dataset, [run_key])
        return "new"
    if not is_dsco_run(dataset, run_key):
        raise RunError(f"Run key '{run_key}' belongs to a non-DsCo run; choose another key.")
    old = run_config(dataset, run_key)
    same = old.get("dsco_kind") == kind and _comparable(old) == _comparable(config)
    if overwrite:
        check_idle(dataset, run_key)
        return "overwrite"
    if same:
        return "resume"
    diff = sorted(k for k in set(old) | set(config)
                  if k not in _BOOKKEEPING and old.get(k) != config.get(k))
    raise RunError(
        f"Run '{run_key}' already exists with other options ({', '.join(diff) or 'kind'}). "
        f"Pass overwrite=True (--overwrite) to replace it, or use another run key."
    )


def begin_run(view, run_key, kind, config, overwrite=False):
    """Register run ``run_key`` on ``view`` or resume it. Returns ``"new"`` or ``"resume"``.

    A run with the same kind and options resumes; with other options it is an
    error unless ``overwrite``, which deletes the old run and what it wrote
    first (refused while another process writes it). Safe when several
    processes start the same new run at once: one registers it, the others
    wait for it and resume. Runs of version 0.1 on the dataset are upgraded.
    """
    dataset = view._dataset
    dataset.reload()  # another process may have registered it since this one loaded the dataset
    action = check_run(view, run_key, kind, config, overwrite)
    upgrade_runs(dataset)
    if action == "resume":
        if not _owns_folder(dataset, run_key):  # a clone's run: new files go to a folder of its own
            _set_config(dataset, run_key, dict(_raw_config(dataset, run_key),
                                               media_folder=_new_folder(dataset, run_key)))
        stored = stored_results(dataset, run_key)
        run_state.ensure_state(dataset, run_key, stored.get("classes"), config.get("classes"))
        return "resume"
    if action == "overwrite":
        delete(dataset, run_key)
    prune_orphans()
    if not run_state.claim_registration(dataset, run_key):
        run_state.wait_registered(dataset, run_key)
        check_run(view, run_key, kind, config)  # the other process's options must be these
        return "resume"
    try:
        view.register_run(run_key, _CONFIGS[kind](media_folder=_new_folder(dataset, run_key),
                                                  **config))
        save_results(dataset, run_key, {})
    except BaseException:
        run_state.delete_state(dataset, run_key)
        raise
    run_state.mark_registered(dataset, run_key)
    return "new"


def media_folder(dataset, run_key):
    """The folder where run ``run_key`` writes files (its images, an evaluation's plot)."""
    folder = _raw_config(dataset, run_key).get("media_folder")
    return folder or _legacy_folder(dataset.name, run_key, run_kind(dataset, run_key))


def _new_folder(dataset, run_key):
    parent = media_dir("runs", str(dataset._doc.id))
    os.makedirs(parent, exist_ok=True)
    _mark(parent)
    return os.path.join(parent, f"{run_key}-{uuid.uuid4().hex[:8]}")


def _owns_folder(dataset, run_key):
    return _is_own_folder(dataset, run_key, media_folder(dataset, run_key))


def _is_own_folder(dataset, run_key, folder):
    """Whether ``folder`` is this dataset's (not the original's, for a run cloned with it)."""
    folder = os.path.abspath(folder)
    return folder.startswith(media_dir("runs", str(dataset._doc.id)) + os.sep) or \
        folder in (_legacy_folder(dataset.name, run_key, kind) for kind in (SYNTHESIS, EVALUATION))


def _legacy_folder(dataset_name, run_key, kind):
    return media_dir(dataset_name, "evaluations" if kind == EVALUATION else "runs", run_key)


def load_results(dataset, run_key):
    """The results dict of a DsCo run (empty while nothing is recorded).

    FiftyOne's stored run results (written when the run completes) with the
    live per-class records and shard state of :mod:`.state` laid over
    them, so a running or sharded run shows its progress: ``classes`` (name ->
    record, in class order), ``shards`` (name -> state; ``interrupted`` when
    its process is gone) and ``merge``.
    """
    if not dataset.has_run(run_key):
        dataset.reload()  # registered by another process since this one loaded the dataset?
    if not dataset.has_run(run_key):
        raise RunError(f"No run '{run_key}' on dataset '{dataset.name}'. Runs: {dataset.list_runs()}")
    results = stored_results(dataset, run_key)
    cfg = _raw_config(dataset, run_key)
    state = run_state.get_state(dataset, run_key)
    if state is None and is_legacy_run(dataset, run_key):
        state = run_state.legacy_state(dataset, run_key)
    if state is not None and cfg.get("dsco_kind") in (SYNTHESIS, DOPING):
        class_list = cfg.get("classes") or []
        recs = state.get("classes", {})
        live = {c: {k: v for k, v in recs[str(i)].items() if k != "class"}
                for i, c in enumerate(class_list) if str(i) in recs}
        if live or "classes" in results:
            merged = dict(results.get("classes", {}))
            merged.update(live)
            results["classes"] = {c: merged[c] for c in class_list if c in merged}
        if state.get("merge"):
            results["merge"] = state["merge"]
    shards = run_state.shard_states(dataset, run_key) if state is not None else None
    if shards:
        results["shards"] = shards
    if cfg.get("dsco_kind") == BUDGET_SEARCH and (state or {}).get("child_runs"):
        results["child_runs"] = child_runs(dataset, run_key, results, state)
    return results


def child_runs(dataset, run_key, results=None, state=None):
    """A budget search's child runs in deletion order: those in its results, then those that
    its class shards recorded in its state (:func:`.state.add_child`)."""
    results = stored_results(dataset, run_key) if results is None else results
    state = run_state.get_state(dataset, run_key) if state is None else state
    kids = list(results.get("child_runs", []))
    return kids + [k for k in (state or {}).get("child_runs", []) if k not in kids]


def run_status(dataset, run_key):
    """``complete``, ``running``, ``interrupted``, ``failed`` or ``incomplete``."""
    res = load_results(dataset, run_key)
    states = {s.get("state") for s in res.get("shards", {}).values()}
    if res.get("complete") or (run_kind(dataset, run_key) == EVALUATION and res.get("arms")
                               and states <= {"done"}):
        return "complete"
    for status in ("running", "interrupted", "failed"):
        if status in states:
            return status
    return "incomplete"


def stored_results(dataset, run_key, attempts=5):
    """FiftyOne's stored results of the run as a dict (retried while another process writes them)."""
    for attempt in range(attempts):
        try:
            res = dataset.load_run_results(run_key, cache=False)
            return dict(getattr(res, "data", None) or {}) if res is not None else {}
        except Exception:  # results replaced by another process while read
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
            dataset.reload()


def save_results(dataset, run_key, data):
    results = dataset.init_run_results(run_key, data=run_state.jsonable(data))
    dataset.save_run_results(run_key, results, overwrite=True, cache=False)


def list_runs(dataset, kind=None):
    """``[{"key", "kind", "config", "timestamp"}]`` for the DsCo runs on ``dataset``.

    Runs of version 0.1 are upgraded first (:func:`upgrade_runs`), so that
    FiftyOne's own ``delete_run`` and ``rename_run`` clean up after them.
    """
    upgrade_runs(dataset)
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


def synthetic_samples(dataset, run_key):
    """The synthetic samples that run ``run_key`` wrote."""
    return dataset.match((F(DSCO_FIELD + ".run_key") == run_key)
                         & (F(DSCO_FIELD + ".source") == "synthetic"))


def read_sample_ids(dataset):
    """Ids of every real sample that any DsCo synthesis or doping run read."""
    ids = set()
    for run in list_runs(dataset):
        if run["kind"] in (SYNTHESIS, DOPING):
            ids.update(dataset.load_run_view(run["key"]).values("id"))
    return ids


def save_view(dataset, run_key, view, description):
    """Save ``view`` as the run's saved view ``dsco-<run-key>``, replacing only one this run saved.

    The name is recorded in the run's state before the view is saved, so a
    retry after a failure in between may replace it.
    """
    name = saved_view_name(run_key)
    mine = {stored_results(dataset, run_key).get("saved_view"),
            (run_state.get_state(dataset, run_key) or {}).get("view")}
    taken = [v for v in dataset.list_saved_views()
             if fou.to_slug(v) == fou.to_slug(name) and v not in mine]
    if taken:
        raise RunError(f"Run '{run_key}' cannot save its view '{name}': a saved view '{taken[0]}' "
                       f"that the run did not save has that name. Rename or delete that view, "
                       f"then run the same command again.")
    run_state.record_view(dataset, run_key, name)
    dataset.save_view(name, view, description=description, overwrite=True)
    return name


@contextlib.contextmanager
def writing(dataset, run_key):
    """Be the one process that writes run ``run_key`` (budget search, evaluation) in the block.

    Another live process's claim is refused, naming it; a dead one's is taken
    over. Its status reads ``running`` meanwhile (``interrupted`` once the
    process is gone, ``failed`` after an error).
    """
    if not run_state.claim(dataset, run_key, run_state.RUN):
        check_idle(dataset, run_key)
        raise RunError(f"Another process is writing run '{run_key}'; try again.")
    try:
        with run_state.attempt(dataset, run_key), run_state.heartbeat(dataset, run_key,
                                                                        run_state.RUN):
            yield
    finally:
        run_state.release(dataset, run_key, run_state.RUN)


# ------------------------------------------------------------------ deletion

def delete(dataset, run_key):
    """Delete a DsCo run of any kind with everything it wrote (like ``dataset.delete_run``)."""
    validate_run_key(run_key)
    dataset.reload()
    if not dataset.has_run(run_key):
        raise RunError(f"No run '{run_key}' on dataset '{dataset.name}'. Runs: {dataset.list_runs()}")
    if not is_dsco_run(dataset, run_key):
        raise RunError(f"Run '{run_key}' is not a DsCo run; delete it with dataset.delete_run().")
    cleanup_run(dataset, run_key, _raw_config(dataset, run_key))
    fors.Run.delete_run(dataset, run_key, cleanup=False)


delete_run = delete  # the name tests and scripts of version 0.1 use


def cleanup_run(dataset, run_key, config):
    """Remove what run ``run_key`` wrote, besides its FiftyOne record (see the module doc).

    Also the runs that depend on it (:func:`_delete_dependant`). Safe to call again.
    """
    kind, paths = config.get("dsco_kind"), []
    folder = config.get("media_folder") or _legacy_folder(dataset.name, run_key, kind)
    results = stored_results(dataset, run_key)
    if kind == EVALUATION:
        _delete_evaluation_outputs(dataset, run_key, results)
    elif kind == BUDGET_SEARCH:  # child runs, in deletion order (evaluation, doping, synthesis)
        for key in child_runs(dataset, run_key, results):
            if is_dsco_run(dataset, key):
                _delete_dependant(dataset, key)
    else:
        for doping in built_on(dataset, run_key):  # would be left with real samples only
            logger.warning("Deleting doping run '%s' too: it is built on synthesis run '%s'",
                           doping, run_key)
            _delete_dependant(dataset, doping)
        synthetic = synthetic_samples(dataset, run_key)
        paths = synthetic.values("filepath")
        dataset.delete_samples(synthetic)
        if dataset.has_sample_field(DSCO_FIELD) and not len(dataset.exists(DSCO_FIELD)):
            dataset.delete_sample_field(DSCO_FIELD)  # the last DsCo sample is gone
        dataset.untag_samples(run_tag(run_key))
    # only the view the run recorded: a user's view of that name stays
    view = results.get("saved_view") or (run_state.get_state(dataset, run_key) or {}).get("view")
    if view and dataset.has_saved_view(view):
        dataset.delete_saved_view(view)
    if _is_own_folder(dataset, run_key, folder):  # not the original's, for a run cloned with it
        remove_files(paths + _files(folder), folder)
    run_state.delete_state(dataset, run_key)
    if config.get("cls") == "fiftyone.core.runs.RunConfig":
        run_state.drop_legacy_state(dataset, run_key)


def _delete_dependant(dataset, run_key):
    """Delete a run that depends on one being deleted (a doping run on its synthesis run, a
    budget search's child).

    Inside FiftyOne's ``delete_runs`` only its outputs go: that loop deletes
    every run it listed and stops at one deleted already.
    """
    if _in_delete_runs():
        cleanup_run(dataset, run_key, _raw_config(dataset, run_key))
    else:
        delete(dataset, run_key)


def _in_delete_runs():
    """Whether FiftyOne's ``delete_runs`` of custom runs is on the call stack."""
    code, frame = fors.BaseRun.delete_runs.__func__.__code__, sys._getframe()
    while frame is not None:
        cls = frame.f_locals.get("cls") if frame.f_code is code else None
        if isinstance(cls, type) and issubclass(cls, fors.Run):
            return True
        frame = frame.f_back
    return False


def evaluation_outputs(eval_key, arm):
    """``(prediction field, FiftyOne evaluation key)`` of an evaluation's arm."""
    return f"{eval_key}_{arm}", f"{eval_key}_{arm}_eval"


def _delete_evaluation_outputs(dataset, key, results):
    for fo_key in results.get("eval_keys", {}).values():
        if dataset.has_evaluation(fo_key):
            dataset.delete_evaluation(fo_key)
    for field in results.get("pred_fields", {}).values():
        if dataset.has_sample_field(field):
            dataset.delete_sample_field(field)
    if key in (dataset.info.get(INFO_KEY) or {}):
        set_evaluation_summary(dataset, key, None)


def set_evaluation_summary(dataset, key, summary):
    """Set (or, with ``summary=None``, remove) ``dataset.info[INFO_KEY][key]``."""
    evaluations = dict(dataset.info.get(INFO_KEY) or {})
    if summary is None:
        evaluations.pop(key, None)
    else:
        evaluations[key] = summary
    info = {k: v for k, v in dataset.info.items() if k != INFO_KEY}
    if evaluations:  # no empty leftover once the last evaluation is deleted
        info[INFO_KEY] = evaluations
    dataset.info = info
    dataset.save()


def prune_orphans(min_age=ORPHAN_MIN_AGE):
    """Remove the run folders of this database's deleted datasets; returns their dataset ids.

    ``fo.delete_dataset`` deletes a dataset's run records and state but not the
    files its runs wrote; the next run started removes them (keeping any file
    that a sample of another dataset, e.g. a clone, still uses). Only a
    dataset's folder whose marker names this database (:func:`database_id`)
    and in which nothing changed for ``min_age`` seconds goes: datasets of
    other databases may share the media folder. Folders of this database's
    datasets get their marker here; older folders of deleted datasets, with
    none, are left alone. Version 0.1 state documents of deleted datasets are
    dropped too. Best effort: a failure is logged, never raised.
    """
    from fiftyone.core.odm import get_db_conn

    gone, unknown = [], []
    try:
        alive = {str(d["_id"]) for d in get_db_conn().datasets.find({}, {"_id": 1})}
        run_state.drop_orphaned_legacy_states(alive)
        root, me = media_dir("runs"), database_id()
        names = sorted(os.listdir(root)) if os.path.isdir(root) else []
    except Exception as e:
        logger.warning("Could not prune the run folders of deleted datasets: %s", e)
        return gone
    for d in names:
        folder = os.path.join(root, d)
        try:
            if not os.path.isdir(folder):  # a stray file
                continue
            owner = _marker(folder)
            if d in alive:
                _mark(folder)  # provably this database's
            elif owner is None:
                unknown.append(folder)
            elif owner == me:
                changed = _last_change(folder)
                if changed is not None and time.time() - changed >= min_age and \
                        _remove_orphan(folder):
                    gone.append(d)
        except FileNotFoundError:  # pruned by another process at the same time
            pass
        except Exception as e:
            logger.warning("Could not prune run folder %s: %s", folder, e)
    if unknown:
        logger.info("Left %d run folder(s) of deleted datasets alone: they do not record their "
                    "FiftyOne database (an older DsCo wrote them). Delete them by hand if "
                    "unused: %s", len(unknown), ", ".join(unknown))
    return gone


def _remove_orphan(folder):
    """Delete a deleted dataset's run files that no sample uses; True once the folder is gone.

    The marker stays while files stay, so a later prune tries again.
    """
    marker = os.path.join(folder, _MARKER)
    remove_files([p for p in _files(folder) if p != marker], folder)
    if os.listdir(folder) == [_MARKER]:
        os.remove(marker)
        prune_empty_dirs(folder)
    return not os.path.exists(folder)


def _files(folder):
    return [os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs]


def database_id():
    """This FiftyOne database: its name and the id of its config document (made on connecting)."""
    from fiftyone.core.odm import get_db_conn

    conn = get_db_conn()
    return f"{conn.name}/{conn.config.find_one({}, {'_id': 1}, sort=[('_id', 1)])['_id']}"


def _mark(folder):
    """Record in ``folder`` (a dataset's run folders) the database it belongs to, once."""
    if os.path.isdir(folder) and _marker(folder) is None:
        with open(os.path.join(folder, _MARKER), "w") as f:
            f.write(database_id())


def _marker(folder):
    try:
        with open(os.path.join(folder, _MARKER)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


def _last_change(folder):
    """The latest modification time of ``folder`` and everything in it (None once it is gone)."""
    return max((os.path.getmtime(os.path.join(r, n)) for r, ds, fs in os.walk(folder)
                for n in ds + fs + ["."]), default=None)


def referenced_paths(paths):
    """The subset of ``paths`` that a sample of any dataset points at."""
    from fiftyone.core.odm import get_db_conn

    paths, used = list(paths), set()
    if not paths:
        return used
    conn = get_db_conn()
    for doc in conn.datasets.find({}, {"sample_collection_name": 1}):
        coll = doc.get("sample_collection_name")
        for i in range(0, len(paths), 10000):
            used.update(conn[coll].distinct("filepath", {"filepath": {"$in": paths[i:i + 10000]}}))
    return used


def remove_files(paths, folder):
    """Delete the files of ``paths`` inside ``folder`` that no sample uses, then empty folders.

    A file outside ``folder``, or one that a sample of any dataset (a clone,
    say) still points at, is left in place.
    """
    root = os.path.abspath(folder) + os.sep
    mine = [p for p in paths if os.path.abspath(p).startswith(root)]
    for p in set(mine) - referenced_paths(mine):
        if os.path.isfile(p):
            os.remove(p)
    prune_empty_dirs(folder)


def prune_empty_dirs(folder):
    """Remove ``folder``'s empty subfolders, ``folder`` if then empty, and empty parents."""
    if os.path.isdir(folder):
        for root, _, _ in sorted(os.walk(folder), key=lambda w: -len(w[0])):
            try:
                os.rmdir(root)
            except OSError:  # not empty
                pass
    parent = os.path.dirname(os.path.abspath(folder))
    while parent.startswith(media_dir()) and parent != media_dir():
        try:
            os.rmdir(parent)
        except OSError:
            break
        parent = os.path.dirname(parent)


# ------------------------------------------------------------------ renaming

def rename_outputs(dataset, run_key, new_key, config):
    """Carry what run ``run_key`` wrote over to ``new_key`` (FiftyOne then renames the record).

    Everything is checked first: an invalid new key or a taken name raises
    before anything changes.
    """
    kind = config.get("dsco_kind")
    _check_rename(dataset, run_key, new_key, kind)
    for parent in list_runs(dataset, BUDGET_SEARCH):  # a search's child keeps its place
        res = stored_results(dataset, parent["key"])
        if run_key in res.get("child_runs", []):
            res["child_runs"] = [new_key if k == run_key else k for k in res["child_runs"]]
            save_results(dataset, parent["key"], res)
        run_state.rename_child(dataset, parent["key"], run_key, new_key)
    run_state.rename_state(dataset, run_key, new_key)
    if kind == EVALUATION:
        return _rename_evaluation(dataset, run_key, new_key)
    results = stored_results(dataset, run_key)
    if kind == BUDGET_SEARCH:  # its saved view follows; its child runs keep their keys
        if results.get("saved_view") and dataset.has_saved_view(results["saved_view"]):
            view = dataset.load_saved_view(results["saved_view"])
            results["saved_view"] = _move_saved_view(dataset, results["saved_view"], new_key, view)
            save_results(dataset, run_key, results)
        return None
    tagged = run_samples(dataset, run_key)
    ids = tagged.values("id")
    dataset.select(ids).tag_samples(run_tag(new_key))
    dataset.select(ids).untag_samples(run_tag(run_key))
    synthetic_samples(dataset, run_key).set_field(DSCO_FIELD + ".run_key", new_key).save()
    if not config.get("media_folder"):  # legacy: record the folder its files are in
        _set_config(dataset, run_key, dict(config, media_folder=_legacy_folder(
            dataset.name, run_key, kind)))
    if results.get("saved_view"):
        results["saved_view"] = _move_saved_view(dataset, results["saved_view"], new_key,
                                                 run_set_view(dataset, new_key, config))
        save_results(dataset, run_key, results)
    for doping in built_on(dataset, run_key):  # doping runs built on it now name the new key
        _repoint_doping(dataset, doping, new_key)


def built_on(dataset, synthetic_key):
    """Keys of the doping runs built on synthesis run ``synthetic_key``."""
    return [run["key"] for run in list_runs(dataset, DOPING)
            if run["config"].get("synthetic_run") == synthetic_key]


def _check_rename(dataset, run_key, new_key, kind):
    """Raise unless run ``run_key`` can be renamed to ``new_key`` completely.

    A state document left under ``new_key`` by a run deleted outside DsCo is
    dropped. FiftyOne logs the error and renames only its record; the message says how
    to rename it back.
    """
    back = (f"FiftyOne renamed only its record, so rename it back with "
            f"dataset.rename_run({new_key!r}, {run_key!r}).")
    try:
        validate_run_key(new_key)
    except RunError as e:
        raise RunError(f"{e} {back}") from None
    if not run_state.drop_stale_state(dataset, new_key):  # a stale one (no such run) goes
        raise RunError(f"Another process is registering a run '{new_key}'. {back}")
    if kind == EVALUATION:
        res = stored_results(dataset, run_key)
        mine = set(res.get("pred_fields", {}).values()) | set(res.get("eval_keys", {}).values())
        schema = dataset.get_field_schema()
        taken = [n for arm in res.get("pred_fields", {}) for n in evaluation_outputs(new_key, arm)
                 if (n in schema or dataset.has_evaluation(n)) and n not in mine]
        if taken:
            raise RunError(f"Evaluation '{run_key}' cannot be renamed to '{new_key}': "
                           f"{', '.join(taken)} already exist(s). {back} Then delete or rename "
                           f"those, or choose another key.")


def run_set_view(dataset, run_key, config):
    """The set a synthesis run wrote, or a doping run's synthetic ∪ selected samples.

    A joint selection (``synthetic_per_class``) tags the synthetic samples it keeps, so its
    set is its tagged samples only."""
    if config.get("dsco_kind") == SYNTHESIS:
        return dataset.match(F(DSCO_FIELD + ".run_key") == run_key)
    selected = F("tags").contains(run_tag(run_key))
    syn = config.get("synthetic_run")
    if syn is None or config.get("synthetic_per_class"):
        return dataset.match(selected)
    return dataset.match((F(DSCO_FIELD + ".run_key") == syn) | selected)


def _move_saved_view(dataset, old_name, new_key, view):
    """Re-save a run's view for its new key; under the new name unless that name is taken."""
    description = dataset.get_saved_view_info(old_name).get("description") \
        if dataset.has_saved_view(old_name) else None
    name = saved_view_name(new_key)
    if dataset.has_saved_view(old_name):
        dataset.delete_saved_view(old_name)
    if any(fou.to_slug(v) == fou.to_slug(name) for v in dataset.list_saved_views()):
        logger.warning("Saved view name '%s' is taken; the run keeps '%s'", name, old_name)
        name = old_name
    run_state.record_view(dataset, new_key, name)
    dataset.save_view(name, view, description=description)
    return name


def _repoint_doping(dataset, doping_key, new_synthetic_key):
    cfg = _raw_config(dataset, doping_key)
    cfg = dict(cfg, synthetic_run=new_synthetic_key)
    _set_config(dataset, doping_key, cfg)
    results = stored_results(dataset, doping_key)
    if results.get("saved_view") and dataset.has_saved_view(results["saved_view"]):
        info = dataset.get_saved_view_info(results["saved_view"])
        dataset.save_view(results["saved_view"], run_set_view(dataset, doping_key, cfg),
                          description=info.get("description"), overwrite=True)


def _set_config(dataset, run_key, serialized):
    cfg = {k: v for k, v in serialized.items() if k not in ("cls", "type")}
    dataset.update_run_config(run_key, _CONFIGS[cfg["dsco_kind"]](**cfg))


def _rename_evaluation(dataset, key, new_key):
    results = stored_results(dataset, key)
    pred_fields, eval_keys = {}, {}
    for arm, field in results.get("pred_fields", {}).items():
        new_field, new_eval = evaluation_outputs(new_key, arm)
        old_eval = results["eval_keys"][arm]
        if dataset.has_evaluation(old_eval) and old_eval != new_eval:
            dataset.rename_evaluation(old_eval, new_eval)
        if dataset.has_sample_field(field) and field != new_field:
            dataset.rename_sample_field(field, new_field)
        pred_fields[arm], eval_keys[arm] = new_field, new_eval
        results["arms"][arm].update(pred_field=new_field, eval_key=new_eval)
    results.update(pred_fields=pred_fields, eval_keys=eval_keys, eval_key=new_key)
    save_results(dataset, key, results)
    summary = (dataset.info.get(INFO_KEY) or {}).get(key)
    if summary is not None:
        for arm, s in summary.get("arms", {}).items():
            s.update(pred_field=pred_fields.get(arm), eval_key=eval_keys.get(arm))
        set_evaluation_summary(dataset, key, None)
        set_evaluation_summary(dataset, new_key, summary)


# ------------------------------------------------------------------ migration

def upgrade_runs(dataset, keys=None):
    """Give DsCo runs of version 0.1 their run classes; returns the keys upgraded.

    Version 0.1 stored DsCo runs as plain ``fo.RunConfig`` runs, which FiftyOne
    deletes or renames without cleaning up, and kept their state in a
    collection of its own. Upgraded runs record their media folder, and their
    state moves to FiftyOne's execution store. ``dsco runs upgrade DATASET``.
    """
    done = []
    for key in keys or dataset.list_runs():
        if not is_dsco_run(dataset, key) or not is_legacy_run(dataset, key):
            continue
        cfg = _raw_config(dataset, key)
        legacy = run_state.legacy_state(dataset, key)
        _set_config(dataset, key, dict(cfg, media_folder=_legacy_folder(
            dataset.name, key, cfg["dsco_kind"])))
        if legacy is not None and run_state.get_state(dataset, key) is None:
            value = {k: v for k, v in legacy.items() if k not in ("_id", "run_key")}
            run_state.ensure_state(dataset, key)
            run_state._update(dataset, key, {"$set": value})
        run_state.drop_legacy_state(dataset, key)
        done.append(key)
    return done
