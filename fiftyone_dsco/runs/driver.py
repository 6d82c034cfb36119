"""The one driver of every class-by-class DsCo run (synthesis and doping).

:func:`run_by_class` owns the lifecycle: check the run key and options, let
the job read its inputs (so bad data fails before the run exists), register
or resume the run, work through the classes one writer per class (an atomic
claim: a second process on the same run waits for a class another one is
writing, or takes it over when that process is gone), record each class, and
merge the run (results and saved view) once every class is done. A job only
says what one class's work is (:class:`ClassJob`), and may take several
classes at once (:meth:`ClassJob.run_classes`, e.g. synthesis's ``class_batch``):
each class of such a group is recorded once the group is done, so a group cut off
midway is redone whole on resume.
"""

import time

import fiftyone.core.utils as fou

from .. import runs
from . import state as run_state

WAIT_POLL = 1.0  #: seconds between looks at classes that another writer holds


class ClassJob:
    """One kind of class-by-class work; subclasses fill these in."""

    kind = None

    def prepare(self, todo):
        """Read what classes ``todo`` (indices) need, before the run is registered."""

    def run_class(self, k):
        """Do class ``k``'s work, replacing what an earlier attempt left; return its record."""
        raise NotImplementedError

    def batch_size(self):
        """How many classes the next :meth:`run_classes` call may take (read before each)."""
        return 1

    def run_classes(self, ks):
        """Do classes ``ks``'s work (as :meth:`run_class`); return their records in order."""
        return [self.run_class(k) for k in ks]

    def totals(self, per_class, view):
        """Run-level numbers from the per-class records and the run's set ``view``."""
        return {}


def run_by_class(view, run_key, config, job, todo, shard=None, overwrite=False, progress=None,
                 description=""):
    """Run ``job`` on classes ``todo`` (indices into ``config["classes"]``) of run ``run_key``.

    Returns the run's results dict (complete once every class of the run is done).
    """
    dataset, classes = view._dataset, config["classes"]
    if runs.check_run(view, run_key, job.kind, config, overwrite=overwrite) == "resume":
        done = run_state.done_indices(dataset, run_key) or {
            classes.index(c) for c, r in runs.load_results(dataset, run_key).get("classes", {}).items()
            if r.get("done")}
        todo = [k for k in todo if k not in done]
    job.prepare(todo)
    runs.begin_run(view, run_key, job.kind, config, overwrite=overwrite)
    done = run_state.done_indices(dataset, run_key)
    todo = [k for k in todo if k not in done]
    held = []  # claimed classes not yet recorded
    with run_state.attempt(dataset, run_key, shard, [classes[k] for k in todo]):
        try:
            with fou.ProgressBar(total=len(todo), progress=progress, iters_str="classes") as pb:
                for held in _claimed(dataset, run_key, todo, job.batch_size):
                    with run_state.heartbeat(dataset, run_key, held):
                        records = job.run_classes(held)
                    for k, record in zip(list(held), records):
                        run_state.record_class(dataset, run_key, k, classes[k], record)
                        run_state.release(dataset, run_key, k)
                        held.remove(k)
                    for _ in records:
                        pb.update()
        finally:
            for k in held:  # cut off: another process may take the classes over
                run_state.release(dataset, run_key, k)
    return merge(dataset, run_key, config, job, description)


def _claimed(dataset, run_key, todo, size=lambda: 1):
    """Yield groups of at most ``size()`` classes of ``todo`` that this process now owns,
    waiting for those held by others.

    A class finished by another writer meanwhile is skipped; one whose writer
    died is taken over. A group never waits: it is what could be claimed at once.
    """
    pending = list(todo)
    while pending:
        group, rest = _claim_some(dataset, run_key, pending, max(1, size()))
        if group:
            yield group
        elif rest:
            time.sleep(WAIT_POLL)
        pending = rest


def _claim_some(dataset, run_key, pending, n):
    """``(up to n claimed classes, the classes of pending still to do)``."""
    group, rest = [], []
    for i, k in enumerate(pending):
        if len(group) == n:
            return group, rest + pending[i:]
        if k in run_state.done_indices(dataset, run_key):
            continue
        if not run_state.claim(dataset, run_key, k):
            rest.append(k)
            continue
        if k in run_state.done_indices(dataset, run_key):  # finished just before the claim
            run_state.release(dataset, run_key, k)
            continue
        group.append(k)
    return group, rest


def merge(dataset, run_key, config, job, description):
    """The run's results; when every class is done, write them and the saved view, once."""
    results = runs.load_results(dataset, run_key)
    per_class = results.setdefault("classes", {})
    results["complete"] = all(per_class.get(c, {}).get("done") for c in config["classes"])
    view = runs.run_set_view(dataset, run_key, dict(config, dsco_kind=job.kind))
    results.update(job.totals(per_class, view))
    if not results["complete"]:
        results.setdefault("saved_view", None)
        return results
    if run_state.claim_merge(dataset, run_key):
        try:
            dataset.reload()
            results["saved_view"] = runs.save_view(dataset, run_key, view, description)
            runs.save_results(dataset, run_key,
                              {k: v for k, v in results.items() if k not in ("shards", "merge")})
        except BaseException:
            run_state.release_merge(dataset, run_key)
            raise
        run_state.mark_merged(dataset, run_key)
        return runs.load_results(dataset, run_key)
    out = runs.load_results(dataset, run_key)  # merged already, or by another process right now
    out.setdefault("saved_view", None)
    out.setdefault("complete", True)
    for k, v in job.totals(per_class, view).items():
        out.setdefault(k, v)
    return out
