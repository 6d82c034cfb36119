"""The live, concurrency-safe state of a DsCo run, and class shards.

A run's classes (the list stored in its config) can be split into ``N``
shards: shard ``K`` of ``N`` holds the classes whose index ``k`` in that list
satisfies ``k % N == K``. Shards of one run may run at the same time in
different processes or machines that share the MongoDB database and the media
store.

The state of each run is one document of FiftyOne's execution store
(collection ``execution_store``, store ``dsco_runs``, keyed by dataset id and
run key), so ``fo.delete_dataset`` removes it with the dataset. It is changed
only with atomic single-document updates (``$set`` of one key, an insert that
one process wins, compare-and-set), so concurrent writers never lose each
other's records. Its ``value``:

``classes.<k>``   the record of class ``k`` (written once its samples are in)
``claims.<k>``    the writer working on class ``k``: token, host, pid, time
                  (refreshed every :data:`HEARTBEAT` s). One writer per class: a
                  second process waits for it (or takes the claim over once that
                  writer's process is gone or its claim is :data:`CLAIM_LEASE`
                  s old). ``claims.run``: the one writer of a budget search or an
                  evaluation
``shards.<K_N>``  a shard's state: ``running`` / ``done`` / ``failed``, host,
                  pid, attempts, times (``updated`` refreshed every
                  :data:`HEARTBEAT` s while it runs), error (``interrupted`` when
                  read while its process is gone)
``registered``    the FiftyOne run is registered (see :func:`claim_registration`)
``merge``         who merged the finished run into FiftyOne's run results
``view``          the saved view the run saves (recorded before it is saved)
``child_runs``    a budget search's child runs that its class shards made (they
                  never write the search's results; see :func:`add_child`)
"""

import contextlib
import datetime
import logging
import os
import shlex
import socket
import threading
import time
import uuid

from ..errors import OptionError, RunError

STORE = "dsco_runs"  #: execution-store name of DsCo's run state
LEGACY_COLLECTION = "dsco_runs"  #: where runs of version 0.1 kept it (see ``runs.upgrade_runs``)
REGISTRATION_TIMEOUT = 120.0  #: seconds to wait for another process registering the run
MERGE_LEASE = 300.0  #: seconds after which an unfinished merge claim may be taken over
HEARTBEAT = 60.0  #: seconds between refreshes of a live writer's claim and shard
CLAIM_LEASE = 5 * HEARTBEAT  #: seconds without a refresh after which a claim may be taken over
RUN = "run"  #: the claim of a run's one writer (budget search, evaluation)
_TOKEN = uuid.uuid4().hex  #: this process's writer token

logger = logging.getLogger(__name__)


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


# ------------------------------------------------------------------ the document

_INDEXED = []  #: databases (by client address) where the unique key index was ensured


def _coll():
    """FiftyOne's execution-store collection, with the unique index that makes claims atomic.

    FiftyOne creates that index only when its own store service is first used.
    """
    from fiftyone.core.odm import get_db_conn

    coll = get_db_conn()["execution_store"]
    if coll.database.client.address not in _INDEXED:
        coll.create_index([("store_name", 1), ("key", 1), ("dataset_id", 1)],
                          name="unique_store_index", unique=True)
        _INDEXED.append(coll.database.client.address)
    return coll


def _query(dataset, run_key, **extra):
    return dict({"store_name": STORE, "key": run_key, "dataset_id": dataset._doc.id}, **extra)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _update(dataset, run_key, update, **filters):
    """Apply ``update`` (paths relative to ``value``) to the run's document."""
    update = {op: {f"value.{k}": v for k, v in fields.items()} for op, fields in update.items()}
    update.setdefault("$set", {})["updated_at"] = _now()
    filters = {f"value.{k}" if not k.startswith("$") else k: v for k, v in filters.items()}
    return _coll().update_one(_query(dataset, run_key, **filters), update)


def get_state(dataset, run_key):
    """The run's state (the document's ``value``), or ``None``."""
    doc = _coll().find_one(_query(dataset, run_key))
    return None if doc is None else doc.get("value") or {}


def delete_state(dataset, run_key):
    _coll().delete_one(_query(dataset, run_key))


def rename_state(dataset, run_key, new_key):
    _coll().update_one(_query(dataset, run_key), {"$set": {"key": new_key, "updated_at": _now()}})


def _new_doc(dataset, run_key, **value):
    now = _now()
    state = dict(dataset=dataset.name, classes={}, claims={}, shards={}, registered=False,
                 merge={})
    state.update(value)
    return dict(_query(dataset, run_key), value=state, created_at=now, updated_at=now,
                expires_at=None, policy="persist")


def claim_registration(dataset, run_key):
    """Try to become the process that registers run ``run_key``; True if this one won.

    Exactly one of several processes that start the same new run at once wins
    (an insert into a unique index). A claim left by a process that died while
    registering (older than :data:`REGISTRATION_TIMEOUT`), or the state of a
    run deleted outside DsCo, is cleared first.
    """
    from pymongo.errors import DuplicateKeyError

    drop_stale_state(dataset, run_key)
    try:
        _coll().insert_one(_new_doc(dataset, run_key, claim=uuid.uuid4().hex,
                                    claimed_at=time.time()))
        return True
    except DuplicateKeyError:
        return False


def drop_stale_state(dataset, run_key):
    """Delete the state of a run ``run_key`` that is neither registered nor being registered
    (deleted outside DsCo, or its registering process died); True if no state is left."""
    state = get_state(dataset, run_key)
    if state is None:
        return True
    dataset.reload()
    if dataset.has_run(run_key) or not state.get("registered") and \
            time.time() - state.get("claimed_at", 0) <= REGISTRATION_TIMEOUT:
        return False
    _coll().delete_one(_query(dataset, run_key, **{"value.claim": state.get("claim")}))
    return get_state(dataset, run_key) is None


def mark_registered(dataset, run_key):
    _update(dataset, run_key, {"$set": {"registered": True}})


def wait_registered(dataset, run_key, timeout=REGISTRATION_TIMEOUT):
    """Wait until another process has registered run ``run_key`` on ``dataset``."""
    end = time.time() + timeout
    while time.time() < end:
        state = get_state(dataset, run_key)
        if state is not None and state.get("registered"):
            dataset.reload()
            if dataset.has_run(run_key):
                return
        time.sleep(0.2)
    raise RunError(f"Another process started registering run '{run_key}' and did not finish "
                   f"within {timeout:.0f} s; re-run this command to resume the run.")


def ensure_state(dataset, run_key, stored_classes=None, class_list=None):
    """Create the state of an existing run if it has none (cloned or upgraded runs).

    ``stored_classes`` (class name -> record, from FiftyOne's run results) seeds it.
    """
    from pymongo.errors import DuplicateKeyError

    classes = {}
    for k, c in enumerate(class_list or []):
        rec = (stored_classes or {}).get(c)
        if rec and rec.get("done"):
            classes[str(k)] = dict(rec, **{"class": c})
    doc = _new_doc(dataset, run_key, registered=True, classes=classes)
    try:
        _coll().update_one(_query(dataset, run_key), {"$setOnInsert": doc}, upsert=True)
    except DuplicateKeyError:  # another process created it at the same moment
        pass


def record_class(dataset, run_key, index, class_name, record):
    """Atomically store the record of class ``index``, only while this process holds its claim."""
    i = int(index)
    if _update(dataset, run_key,
               {"$set": {f"classes.{i}": jsonable(dict(record, **{"class": class_name}))}},
               **{f"claims.{i}.token": _TOKEN}).modified_count:
        return
    state = get_state(dataset, run_key)
    holder = (state or {}).get("claims", {}).get(str(i))
    if state is None:
        what = "the run was deleted meanwhile"
    elif holder:
        what = (f"pid {holder.get('pid')} on {holder.get('host')} took the class over (this "
                f"process's claim looked stale)")
    else:
        what = ("this process's claim is gone: the run was overwritten meanwhile (perhaps with "
                "other options), or another process took the class over and finished it")
    raise RunError(f"Class '{class_name}' of run '{run_key}' is not recorded: {what}. See "
                   f"'dsco runs info {shlex.quote(dataset.name)} {run_key}' before running this "
                   f"again.")


def class_records(dataset, run_key, class_list):
    """``{class name: record}`` in class order, for the classes recorded so far."""
    recs = (get_state(dataset, run_key) or {}).get("classes", {})
    out = {}
    for k, c in enumerate(class_list):
        rec = recs.get(str(k))
        if rec is not None:
            out[c] = {key: v for key, v in rec.items() if key != "class"}
    return out


def done_indices(dataset, run_key):
    recs = (get_state(dataset, run_key) or {}).get("classes", {})
    return {int(k) for k, r in recs.items() if r.get("done")}


# ------------------------------------------------------------------ claims

def _me():
    return dict(token=_TOKEN, host=socket.gethostname(), pid=os.getpid(), at=time.time())


def process_alive(host, pid):
    """False only when ``pid`` on this host is known to be gone (other hosts: unknown, True)."""
    if host != socket.gethostname() or not pid:
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _stale(claim):
    """This process's own claim, or one whose process is gone or not refreshed for CLAIM_LEASE s."""
    return claim.get("token") == _TOKEN or not process_alive(claim.get("host"), claim.get("pid")) \
        or time.time() - claim.get("at", 0) > CLAIM_LEASE


def claim(dataset, run_key, name):
    """Become the one writer of ``name`` (a class index or :data:`RUN`); False while another has it.

    A claim whose process is gone (same host) or not refreshed for
    :data:`CLAIM_LEASE` (any host: a pid may be reused) is taken over. Raises
    :class:`RunError` when the run's state is gone (the run was deleted).
    """
    path, held = f"claims.{name}", None
    while held is None:
        if _update(dataset, run_key, {"$set": {path: _me()}},
                   **{path: {"$exists": False}}).modified_count:
            return True
        state = get_state(dataset, run_key)
        if state is None:
            raise RunError(f"Run '{run_key}' of dataset '{dataset.name}' is gone: it was deleted "
                           f"(or overwritten) by another process.")
        held = state.get("claims", {}).get(str(name))  # None: released meanwhile, try again
    if not _stale(held):
        return False
    res = _update(dataset, run_key, {"$set": {path: _me()}}, **{f"{path}.token": held.get("token"),
                                                                f"{path}.at": held.get("at")})
    return res.modified_count == 1


def release(dataset, run_key, name):
    path = f"claims.{name}"
    _update(dataset, run_key, {"$unset": {path: ""}}, **{f"{path}.token": _TOKEN})


def heartbeat(dataset, run_key, names, every=HEARTBEAT):
    """Keep this process's claim ``names`` (one name or a list) fresh while the block runs
    (a background thread)."""
    names = list(names) if isinstance(names, (list, tuple)) else [names]

    def refresh():
        for name in names:
            _update(dataset, run_key, {"$set": {f"claims.{name}.at": time.time()}},
                    **{f"claims.{name}.token": _TOKEN})

    what = f"claim{'s' if len(names) > 1 else ''} {', '.join(map(str, names))} of run '{run_key}'"
    return _every(every, what, refresh)


@contextlib.contextmanager
def _every(seconds, what, refresh):
    """Call ``refresh`` every ``seconds`` in a background thread while the block runs."""
    stop = threading.Event()

    def beat():
        while not stop.wait(seconds):
            try:
                refresh()
            except Exception as e:  # not fatal: the claim goes stale only if this lasts
                logger.warning("Could not refresh the %s: %s", what, e)
    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def live_writers(dataset, run_key):
    """``"pid P on H"`` for each other process that holds a claim or runs a shard of the run."""
    st = get_state(dataset, run_key) or {}
    me, host = os.getpid(), socket.gethostname()
    live = [c for c in st.get("claims", {}).values() if not _stale(c)]
    live += [s for s in st.get("shards", {}).values()
             if s.get("state") == "running" and (s.get("host"), s.get("pid")) != (host, me)
             and not _stale(dict(s, at=s.get("updated", 0)))]
    return sorted({f"pid {w.get('pid')} on {w.get('host')}" for w in live})


# ------------------------------------------------------------------ shards and merge

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
    _update(dataset, run_key, update)


@contextlib.contextmanager
def attempt(dataset, run_key, shard=None, classes=None):
    """Record an attempt of ``shard``: ``running`` (its ``updated`` refreshed meanwhile), then
    ``done``, or ``failed`` with the error."""
    shard_update(dataset, run_key, shard, "running", classes=classes)
    path = f"shards.{shard_name(shard)}"
    try:
        with _every(HEARTBEAT, f"shard {shard_name(shard)} of run '{run_key}'", lambda: _update(
                dataset, run_key, {"$set": {f"{path}.updated": time.time()}},
                **{f"{path}.pid": os.getpid(), f"{path}.host": socket.gethostname()})):
            yield
    except BaseException as e:
        shard_update(dataset, run_key, shard, "failed", error=repr(e))
        raise
    shard_update(dataset, run_key, shard, "done")


def shard_states(dataset, run_key):
    """``{shard name: state}``; a ``running`` shard whose process is gone reads ``interrupted``."""
    out = {}
    for name, st in (get_state(dataset, run_key) or {}).get("shards", {}).items():
        st = dict(st)
        if st.get("state") == "running" and not process_alive(st.get("host"), st.get("pid")):
            st["state"] = "interrupted"
        out[name] = st
    return out


def claim_merge(dataset, run_key, lease=MERGE_LEASE):
    """Compare-and-set: True for the one process that may merge the finished run now.

    Returns False when the run is already merged or another process holds a
    fresh claim. A claim older than ``lease`` (its process died) is taken over.
    """
    now = time.time()
    res = _update(dataset, run_key,
                  {"$set": {"merge": {"state": "running", "at": now, "host": socket.gethostname(),
                                      "pid": os.getpid()}}},
                  **{"merge.state": {"$ne": "done"},
                     "$or": [{"value.merge.state": {"$ne": "running"}},
                             {"value.merge.at": {"$lt": now - lease}}]})
    return res.modified_count == 1


def mark_merged(dataset, run_key):
    _update(dataset, run_key, {"$set": {"merge.state": "done", "merge.at": time.time()}})


def release_merge(dataset, run_key):
    _update(dataset, run_key, {"$set": {"merge.state": "failed"}}, **{"merge.state": "running"})


def record_view(dataset, run_key, name):
    _update(dataset, run_key, {"$set": {"view": name}})


def add_child(dataset, run_key, child):
    """Atomically record ``child`` as a child run of ``run_key`` (a budget search's shard)."""
    _update(dataset, run_key, {"$addToSet": {"child_runs": child}})


def rename_child(dataset, run_key, child, new_child):
    """Rename ``child`` in ``run_key``'s recorded child runs (if it is there)."""
    _coll().update_one(_query(dataset, run_key, **{"value.child_runs": child}),
                       {"$set": {"value.child_runs.$": new_child, "updated_at": _now()}})


def merge_state(dataset, run_key):
    return (get_state(dataset, run_key) or {}).get("merge", {}).get("state")


# ------------------------------------------------------------------ legacy

def legacy_state(dataset, run_key):
    """The state that version 0.1 kept in its own collection (or ``None``)."""
    from fiftyone.core.odm import get_db_conn

    return get_db_conn()[LEGACY_COLLECTION].find_one({"_id": f"{dataset._doc.id}:{run_key}"})


def drop_legacy_state(dataset, run_key):
    from fiftyone.core.odm import get_db_conn

    get_db_conn()[LEGACY_COLLECTION].delete_one({"_id": f"{dataset._doc.id}:{run_key}"})


def drop_orphaned_legacy_states(alive):
    """Drop version 0.1 state documents of datasets (ids) not in ``alive``; returns their ids."""
    from fiftyone.core.odm import get_db_conn

    coll = get_db_conn()[LEGACY_COLLECTION]
    gone = [d["_id"] for d in coll.find({}, {"_id": 1}) if str(d["_id"]).split(":")[0] not in alive]
    coll.delete_many({"_id": {"$in": gone}})
    return gone


def jsonable(obj):
    """``obj`` with NumPy scalars and arrays turned into Python values (for JSON/BSON)."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj
