"""Class shards and the concurrency-safe state of a DsCo run.

A run's classes (the list stored in its config) can be split into ``N``
shards: shard ``K`` of ``N`` holds the classes whose index ``k`` in that list
satisfies ``k % N == K``. The split is stable (it depends only on the stored
class list) and every class belongs to exactly one shard. Shards of one run
may run at the same time in different processes or on different machines that
share the MongoDB database (``FIFTYONE_DATABASE_URI``) and the media store.

Per-class results, per-shard state and the run's registration and merge are
kept in one MongoDB document per run, in the collection ``dsco_runs`` of
FiftyOne's database, and changed only with atomic single-document updates
(``$set`` of one class's key, an insert that only one process can win, a
compare-and-set), so concurrent shards never lose each other's records:

``classes.<k>``      the record of class ``k`` (written once the class's samples are in)
``shards.<K_N>``     state of a shard: ``running`` / ``done`` / ``failed``, host, pid,
                     attempts, times, error
``registered``       the FiftyOne run is registered (see :func:`claim_registration`)
``merge``            who merged the finished run into FiftyOne's run results, and when

FiftyOne's own run results (``dataset.load_run_results``) are written only by
the merge, when every class is done; :func:`fiftyone_dsco.runs.load_results`
overlays this document, so it shows progress while shards run.
"""

import os
import socket
import time
import uuid

from .errors import OptionError, RunError

COLLECTION = "dsco_runs"
REGISTRATION_TIMEOUT = 120.0  #: seconds to wait for another process registering the run
MERGE_LEASE = 300.0  #: seconds after which an unfinished merge claim may be taken over


# ------------------------------------------------------------------ shards

def parse_shard(text):
    """``"K/N"`` -> ``(K, N)`` with ``0 <= K < N``; raises :class:`OptionError`."""
    try:
        k, n = (int(p) for p in str(text).split("/"))
    except ValueError:
        raise OptionError(f"A shard is written K/N (e.g. 0/4: shard 0 of 4), not {text!r}.") from None
    return check_shard((k, n))


def check_shard(shard):
    """Validate a shard ``(K, N)`` (or ``None``); returns it as a tuple of ints."""
    if shard is None:
        return None
    if isinstance(shard, str):
        return parse_shard(shard)
    try:
        k, n = shard
        ok = int(k) == k and int(n) == n and 0 <= k < n
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise OptionError(f"shard must be (K, N) with 0 <= K < N, not {shard!r}.")
    return int(k), int(n)


def shard_name(shard):
    """``"K_N"`` for a shard, ``"all"`` for an unsharded call (a MongoDB-safe key)."""
    return "all" if shard is None else f"{shard[0]}_{shard[1]}"


def in_shard(index, shard):
    """Whether class ``index`` (its position in the run's class list) is in ``shard``."""
    return shard is None or index % shard[1] == shard[0]


def shard_classes(classes, shard):
    """The classes of ``shard`` (stable: position ``k`` in ``classes`` with ``k % N == K``)."""
    return [c for k, c in enumerate(classes) if in_shard(k, shard)]


# ------------------------------------------------------------------ state document

def _coll():
    from fiftyone.core.odm import get_db_conn

    return get_db_conn()[COLLECTION]


def _id(dataset, run_key):
    return f"{dataset._doc.id}:{run_key}"


def get_state(dataset, run_key):
    """The run's state document (or ``None``)."""
    return _coll().find_one({"_id": _id(dataset, run_key)})


def delete_state(dataset, run_key):
    _coll().delete_one({"_id": _id(dataset, run_key)})


def _new_doc(dataset, run_key, **extra):
    return dict(_id=_id(dataset, run_key), dataset=dataset.name, run_key=run_key, classes={},
                shards={}, registered=False, merge={}, **extra)


def claim_registration(dataset, run_key):
    """Try to become the process that registers run ``run_key``; True if this one won.

    Exactly one of several processes that start the same new run at once wins
    (an insert with a fixed ``_id``). A claim left by a process that died
    while registering (older than :data:`REGISTRATION_TIMEOUT`) or by a run
    deleted outside DsCo is cleared first.
    """
    coll = _coll()
    doc = coll.find_one({"_id": _id(dataset, run_key)})
    if doc is not None:
        dataset.reload()
        stale = (not dataset.has_run(run_key)) and (
            doc.get("registered") or time.time() - doc.get("claimed_at", 0) > REGISTRATION_TIMEOUT)
        if stale:
            coll.delete_one({"_id": doc["_id"], "claim": doc.get("claim")})
    from pymongo.errors import DuplicateKeyError

    try:
        coll.insert_one(_new_doc(dataset, run_key, claim=uuid.uuid4().hex, claimed_at=time.time()))
        return True
    except DuplicateKeyError:
        return False


def mark_registered(dataset, run_key):
    _coll().update_one({"_id": _id(dataset, run_key)}, {"$set": {"registered": True}})


def wait_registered(dataset, run_key, timeout=REGISTRATION_TIMEOUT):
    """Wait until another process has registered run ``run_key`` on ``dataset``."""
    end = time.time() + timeout
    while time.time() < end:
        doc = get_state(dataset, run_key)
        if doc is not None and doc.get("registered"):
            dataset.reload()
            if dataset.has_run(run_key):
                return
        time.sleep(0.2)
    raise RunError(f"Another process started registering run '{run_key}' and did not finish "
                   f"within {timeout:.0f} s; re-run this command to resume the run.")


def ensure_state(dataset, run_key, stored_classes=None, class_list=None):
    """Create the state document of an existing run if it has none (older or cloned runs).

    ``stored_classes`` (class name -> record, from FiftyOne's run results) seeds it.
    """
    classes = {}
    for k, c in enumerate(class_list or []):
        rec = (stored_classes or {}).get(c)
        if rec and rec.get("done"):
            classes[str(k)] = dict(rec, **{"class": c})
    doc = _new_doc(dataset, run_key)
    doc.update(registered=True, classes=classes)
    doc.pop("_id")
    _coll().update_one({"_id": _id(dataset, run_key)}, {"$setOnInsert": doc}, upsert=True)


def record_class(dataset, run_key, index, class_name, record):
    """Atomically store the record of class ``index`` (only its key is written)."""
    from .runs import _jsonable

    _coll().update_one({"_id": _id(dataset, run_key)},
                       {"$set": {f"classes.{int(index)}": _jsonable(dict(record, **{"class": class_name}))}})


def clear_class_record(dataset, run_key, index):
    _coll().update_one({"_id": _id(dataset, run_key)}, {"$unset": {f"classes.{int(index)}": ""}})


def class_records(dataset, run_key, class_list):
    """``{class name: record}`` in class order, for the classes recorded so far."""
    doc = get_state(dataset, run_key) or {}
    recs = doc.get("classes", {})
    out = {}
    for k, c in enumerate(class_list):
        rec = recs.get(str(k))
        if rec is not None:
            out[c] = {key: v for key, v in rec.items() if key != "class"}
    return out


def done_indices(dataset, run_key):
    doc = get_state(dataset, run_key) or {}
    return {int(k) for k, r in doc.get("classes", {}).items() if r.get("done")}


def shard_update(dataset, run_key, shard, state, classes=None, error=None):
    """Record shard ``shard``'s state (``running`` / ``done`` / ``failed``)."""
    name, now = shard_name(shard), time.time()
    sets = {f"shards.{name}.state": state, f"shards.{name}.host": socket.gethostname(),
            f"shards.{name}.pid": os.getpid(), f"shards.{name}.updated": now}
    update = {"$set": sets}
    if state == "running":
        sets[f"shards.{name}.started"] = now
        sets[f"shards.{name}.error"] = None
        update["$inc"] = {f"shards.{name}.attempts": 1}
        if classes is not None:
            sets[f"shards.{name}.classes"] = list(classes)
    elif state == "done":
        sets[f"shards.{name}.finished"] = now
    if error is not None:
        sets[f"shards.{name}.error"] = str(error)[:2000]
    _coll().update_one({"_id": _id(dataset, run_key)}, update)


def shard_states(dataset, run_key):
    return dict((get_state(dataset, run_key) or {}).get("shards", {}))


def claim_merge(dataset, run_key, lease=MERGE_LEASE):
    """Compare-and-set: True for the one process that may merge the finished run now.

    Returns False when the run is already merged or another process holds a
    fresh claim. A claim older than ``lease`` (its process died) is taken over.
    """
    now = time.time()
    res = _coll().update_one(
        {"_id": _id(dataset, run_key), "merge.state": {"$ne": "done"},
         "$or": [{"merge.state": {"$ne": "running"}}, {"merge.at": {"$lt": now - lease}}]},
        {"$set": {"merge": {"state": "running", "at": now, "host": socket.gethostname(),
                            "pid": os.getpid()}}})
    return res.modified_count == 1


def mark_merged(dataset, run_key):
    _coll().update_one({"_id": _id(dataset, run_key)},
                       {"$set": {"merge.state": "done", "merge.at": time.time()}})


def release_merge(dataset, run_key):
    _coll().update_one({"_id": _id(dataset, run_key), "merge.state": "running"},
                       {"$set": {"merge.state": "failed"}})


def merge_state(dataset, run_key):
    return (get_state(dataset, run_key) or {}).get("merge", {}).get("state")
