"""DsCo runs on FiftyOne's runs framework: nothing is lost, nothing is left behind.

Before/after snapshots of samples, files, tags, saved views, fields and run
state around FiftyOne's own ``delete_run``, ``rename_run``, ``delete_dataset``,
clones and concurrent writers.
"""

import logging
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time

import pytest

import fiftyone as fo

from fiftyone_dsco import runs
from fiftyone_dsco.runs import state as run_state
from fiftyone_dsco.data.builtin import load_builtin
from fiftyone_dsco.selection.doping import dope
from fiftyone_dsco.errors import OptionError, RunError
from fiftyone_dsco.evaluation import evaluate
from fiftyone_dsco.synthesis import synthesize

FAST = dict(steps=2, extractor="random", device="cpu", method="plain")
FEW = ["0", "1"]


@pytest.fixture
def small(digits):
    """A small persistent dataset of its own (digits 0 and 1), deleted afterwards."""
    ds = digits.match(fo.ViewField("ground_truth.label").is_in(FEW)).clone(persistent=True)
    yield ds
    for name in fo.list_datasets():
        if name.startswith(ds.name):
            fo.delete_dataset(name)


def snapshot(ds):
    """Everything a run could have written to ``ds``: samples, tags, views, fields, files."""
    ds.reload()
    return dict(n=len(ds), tags=ds.count_sample_tags(), views=sorted(ds.list_saved_views()),
                fields=sorted(ds.get_field_schema()), evals=sorted(ds.list_evaluations()),
                info=sorted(ds.info), files=_media_files(ds))


def assert_same(before, after):
    for k in before:
        if isinstance(before[k], list):
            assert set(before[k]) ^ set(after[k]) == set(), k
        assert before[k] == after[k], k


def _media_files(ds):
    """Files in the dataset's own DsCo folders (run folders and the legacy layout), but the
    marker naming the dataset's database."""
    out = []
    for root in (os.path.join(fo.config.default_dataset_dir, "dsco", "runs", str(ds._doc.id)),
                 os.path.join(fo.config.default_dataset_dir, "dsco", ds.name)):
        out += [os.path.join(r, f) for r, _, fs in os.walk(root) for f in fs
                if f != ".dsco-database"]
    return sorted(out)


def _state_docs(ds):
    from fiftyone.core.odm import get_db_conn

    return list(get_db_conn()["execution_store"].find(
        {"store_name": run_state.STORE, "dataset_id": ds._doc.id}))


def _synth(ds, prior, key, **kw):
    return synthesize(ds, "ground_truth", prior, ipc=2, run_key=key, **dict(FAST, **kw))


def test_fiftyone_delete_run_leaves_nothing_of_each_kind(small, prior_dir):
    before = snapshot(small)
    res = _synth(small, prior_dir, "syn")
    dop = dope(small, "ground_truth", "syn", 2, selector="random", run_key="dop",
               extractor="random", device="cpu")
    evaluate(small, "ground_truth", {"s": small.load_saved_view(dop["saved_view"])},
             epochs=1, seeds=(0,),
             add_random=False, add_full=False, eval_key="ev")
    assert res["complete"] and len(_state_docs(small)) == 3
    assert snapshot(small) != before
    for key in ("ev", "dop", "syn"):  # FiftyOne's own API, not DsCo's
        small.delete_run(key)
    assert_same(before, snapshot(small))
    assert _state_docs(small) == []


def test_delete_on_a_clone_keeps_the_original_files(small, prior_dir):
    _synth(small, prior_dir, "syn")
    files = small.match_tags("dsco:syn").values("filepath")
    clone = small.clone(small.name + "-clone")
    clone.delete_run("syn")
    runs.delete(clone, "syn") if clone.has_run("syn") else None
    assert all(os.path.isfile(p) for p in files)
    assert len(small.match_tags("dsco:syn")) == 4
    # ... and the other way round: the clone still uses them
    clone2 = small.clone(small.name + "-clone2")
    small.delete_run("syn")
    assert all(os.path.isfile(p) for p in files)
    assert len(clone2.match_tags("dsco:syn")) == 4
    # the clone's own overwrite writes new files; deleting it removes only those
    _synth(clone2, prior_dir, "syn", seed=1, overwrite=True)
    new = clone2.match_tags("dsco:syn").values("filepath")
    assert not set(new) & set(files)
    runs.delete(clone2, "syn")
    assert not any(os.path.isfile(p) for p in new)
    assert all(os.path.isfile(p) for p in files)  # not in the clone's own folder


def test_resuming_a_cloned_run_writes_its_own_files(small, prior_dir):
    _synth(small, prior_dir, "part", classes=["0"])
    original = small.match_tags("dsco:part").values("filepath")
    clone = small.clone(small.name + "-clone")
    res = _synth(clone, prior_dir, "part")  # resumes: class 1 is new
    assert res["complete"] and len(clone.match_tags("dsco:part")) == 4
    assert all(os.path.isfile(p) for p in original)
    clone.delete_run("part")
    assert all(os.path.isfile(p) for p in original)


def test_rename_run_keeps_the_run_usable(small, prior_dir):
    _synth(small, prior_dir, "a")
    before_dope = dope(small, "ground_truth", "a", 1, selector="random", run_key="d",
                       extractor="random", device="cpu")
    run_state.ensure_state(small, "b")  # a stale state document: run "b" was deleted outside DsCo
    small.rename_run("a", "b")
    assert not small.match_tags("dsco:a") and len(small.match_tags("dsco:b")) == 4
    assert small.has_saved_view("dsco-b") and not small.has_saved_view("dsco-a")
    assert len(small.load_saved_view("dsco-b")) == 4
    assert runs.load_results(small, "b")["saved_view"] == "dsco-b"
    assert run_state.get_state(small, "b") is not None and run_state.get_state(small, "a") is None
    # the doping run built on it follows, and a new one finds its synthetic images
    assert runs.run_config(small, "d")["synthetic_run"] == "b"
    assert len(small.load_saved_view(before_dope["saved_view"])) == before_dope["size"] == 6
    again = dope(small, "ground_truth", "b", 1, selector="random", run_key="d2",
                 extractor="random", device="cpu")
    assert again["size"] == 6 and all(r["synthetic"] == 2 for r in again["classes"].values())
    before = snapshot(small)
    runs.delete(small, "d2")
    runs.delete(small, "d")
    runs.delete(small, "b")
    after = snapshot(small)
    assert after["n"] == before["n"] - 4 and "dsco:b" not in after["tags"]
    assert not [v for v in after["views"] if v.startswith("dsco-")]
    assert _state_docs(small) == []


def test_rename_evaluation_carries_fields(small, prior_dir):
    evaluate(small, "ground_truth", {"s": small.match_tags("train").limit(10)},
             epochs=1, seeds=(0,),
             add_random=False, add_full=False, eval_key="e1")
    small.rename_run("e1", "e2")
    from fiftyone_dsco.evaluation import load_evaluation

    res = load_evaluation(small, "e2")
    assert small.has_sample_field(res["pred_fields"]["s"]) and res["pred_fields"]["s"] == "e2_s"
    assert small.has_evaluation("e2_s_eval") and not small.has_evaluation("e1_s_eval")
    assert "e2" in small.info["dsco_evaluations"] and "e1" not in small.info["dsco_evaluations"]
    assert run_state.get_state(small, "e2") is not None and run_state.get_state(small, "e1") is None
    small.delete_run("e2")
    assert not small.has_sample_field("e2_s") and "dsco_evaluations" not in small.info


def test_delete_dataset_leaves_no_state(small, prior_dir):
    _synth(small, prior_dir, "syn")
    assert _state_docs(small)
    doc_id = small._doc.id
    fo.delete_dataset(small.name)
    from fiftyone.core.odm import get_db_conn

    assert not list(get_db_conn()["execution_store"].find({"dataset_id": doc_id}))
    folder = os.path.join(fo.config.default_dataset_dir, "dsco", "runs", str(doc_id))
    assert os.path.isdir(folder)  # FiftyOne does not call cleanup(): a later run prunes it
    assert runs.prune_orphans() == [] and os.path.isdir(folder)  # changed within the hour
    assert str(doc_id) in runs.prune_orphans(min_age=0) and not os.path.exists(folder)


def _run_folders(dataset_id, marker, age):
    """A dataset's run folders: one image, ``marker`` as their database, changed ``age`` s ago."""
    folder = os.path.join(fo.config.default_dataset_dir, "dsco", "runs", dataset_id)
    os.makedirs(os.path.join(folder, "k-0a1b2c3d"))
    files = [os.path.join(folder, "k-0a1b2c3d", "00000.png")] + (
        [os.path.join(folder, ".dsco-database")] if marker else [])
    for path, text in zip(files, ["", marker]):
        with open(path, "w") as f:
            f.write(text)
    for path in files + [folder, os.path.dirname(files[0])]:
        os.utime(path, (time.time() - age,) * 2)
    return folder


def test_pruning_removes_only_this_databases_old_orphans(small, prior_dir):
    from bson import ObjectId

    me = runs.database_id()
    other = _run_folders(str(ObjectId()), "otherdb/" + str(ObjectId()), 7200)
    legacy = _run_folders(str(ObjectId()), None, 7200)  # no marker: which database is unknown
    fresh = _run_folders(str(ObjectId()), me, 0)
    orphan = _run_folders(str(ObjectId()), me, 7200)
    alive = _run_folders(str(small._doc.id), None, 7200)
    runs.prune_orphans()
    with open(os.path.join(alive, ".dsco-database")) as f:  # provably this database's
        assert f.read() == me
    assert not os.path.exists(orphan)
    _synth(small, prior_dir, "syn")  # a new run's start prunes too
    assert all(os.path.isfile(os.path.join(f, "k-0a1b2c3d", "00000.png"))
               for f in (other, legacy, fresh, alive))
    for folder in (other, legacy, fresh):
        shutil.rmtree(folder)


def test_colliding_saved_view_names_are_refused(small, prior_dir):
    _synth(small, prior_dir, "Kc")
    with pytest.raises(RunError, match="saved view"):
        _synth(small, prior_dir, "kc")
    assert not small.has_run("kc") and small.has_saved_view("dsco-Kc")
    small.save_view("dsco-mine", small.limit(3))
    with pytest.raises(RunError, match="dsco-mine"):
        _synth(small, prior_dir, "mine")
    assert len(small.load_saved_view("dsco-mine")) == 3


def test_absurd_ipc_is_refused_before_the_run_exists(small, prior_dir):
    before = snapshot(small)
    with pytest.raises(OptionError, match="does not fit"):
        synthesize(small, "ground_truth", prior_dir, ipc=10 ** 9, run_key="huge", **FAST)
    assert not small.has_run("huge")
    assert_same(before, snapshot(small))


def test_reloading_a_builtin_keeps_files_of_its_clones():
    ds = load_builtin("digits", dataset_name="dsco-reload-test", train_per_class=3,
                      test_per_class=1)
    clone = ds.clone("dsco-reload-test-clone")
    files = clone.values("filepath")
    load_builtin("digits", dataset_name="dsco-reload-test", train_per_class=3, test_per_class=1,
                 overwrite=True)
    assert all(os.path.isfile(p) for p in files)
    fo.delete_dataset("dsco-reload-test-clone")
    fo.delete_dataset("dsco-reload-test")


def test_interrupted_run_shows_interrupted(small, prior_dir):
    res = _synth(small, prior_dir, "intr", classes=["0"])
    assert runs.run_status(small, "intr") == "incomplete"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    run_state._update(small, "intr", {"$set": {"shards.all.state": "running",
                                                "shards.all.pid": int(dead)}})
    assert runs.load_results(small, "intr")["shards"]["all"]["state"] == "interrupted"
    assert runs.run_status(small, "intr") == "interrupted"
    assert not res["complete"]


def test_legacy_runs_keep_working_and_upgrade(small, prior_dir):
    _synth(small, prior_dir, "old")
    # what version 0.1 stored: a plain fo.RunConfig with dsco_kind
    cfg = dict(runs._raw_config(small, "old"))
    for k in ("cls", "type", "media_folder"):
        cfg.pop(k, None)
    small.update_run_config("old", fo.RunConfig(**cfg))
    legacy = os.path.join(fo.config.default_dataset_dir, "dsco", small.name, "runs", "old")
    view = small.match_tags("dsco:old")
    moved = [os.path.join(legacy, os.path.basename(os.path.dirname(p)), os.path.basename(p))
             for p in view.values("filepath")]
    for a, b in zip(view.values("filepath"), moved):
        os.renames(a, b)
    view.set_values("filepath", moved)
    assert runs.is_legacy_run(small, "old")
    assert runs.load_results(small, "old")["complete"]
    from click.testing import CliRunner
    from fiftyone_dsco.cli import main

    upgraded = CliRunner().invoke(main, ["runs", "upgrade", small.name])
    assert upgraded.exit_code == 0 and "Upgraded 1 run(s): old" in upgraded.output
    assert not runs.is_legacy_run(small, "old")
    small.update_run_config("old", fo.RunConfig(**cfg))  # old again: listing runs upgrades it
    assert [sorted(r) for r in runs.list_runs(small)] == [["config", "key", "kind", "timestamp"]]
    assert not runs.is_legacy_run(small, "old")
    files = small.match_tags("dsco:old").values("filepath")
    small.delete_run("old")  # FiftyOne's own API cleans up
    assert not small.match_tags("dsco:old") and not any(os.path.isfile(p) for p in files)


def test_legacy_state_of_deleted_datasets_is_dropped(small):
    from bson import ObjectId
    from fiftyone.core.odm import get_db_conn

    coll = get_db_conn()[run_state.LEGACY_COLLECTION]
    gone, kept = f"{ObjectId()}:old", f"{small._doc.id}:old"
    coll.insert_many([{"_id": gone}, {"_id": kept}])
    runs.prune_orphans()
    assert [d["_id"] for d in coll.find()] == [kept]
    coll.delete_one({"_id": kept})


RACER = textwrap.dedent("""
    import sys
    import fiftyone as fo
    from fiftyone_dsco.synthesis import synthesize
    ds = fo.load_dataset(sys.argv[1])
    res = synthesize(ds, "ground_truth", sys.argv[2], ipc=3, run_key="race", method="plain",
                     steps=2, extractor="random", device="cpu")
    print("COMPLETE", res["complete"], res["num_samples"])
""")


def test_two_processes_one_run_key_no_duplicates(small, prior_dir, tmp_path):
    script = tmp_path / "racer.py"
    script.write_text(RACER)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, str(script), small.name, prior_dir], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert all("COMPLETE True 6" in o for o, _ in outs), outs
    small.reload()
    view = small.match_tags("dsco:race")
    paths = view.values("filepath")
    assert len(paths) == len(set(paths)) == 6
    assert sorted(view.count_values("dsco.class_index").values()) == [3, 3]
    assert len(small.load_saved_view("dsco-race")) == 6


def test_a_users_view_with_the_runs_name_is_not_replaced(small, prior_dir):
    _synth(small, prior_dir, "part", classes=["0"])
    small.save_view("dsco-part", small.limit(3))  # the user's, made while the run is incomplete
    with pytest.raises(RunError, match="'dsco-part' that the run did not save"):
        _synth(small, prior_dir, "part")
    assert len(small.load_saved_view("dsco-part")) == 3
    small.delete_saved_view("dsco-part")
    res = _synth(small, prior_dir, "part")
    assert res["complete"] and len(small.load_saved_view("dsco-part")) == 4
    assert runs.save_view(small, "part", small.limit(1), "again") == "dsco-part"  # its own view


def _sleeper():
    """A live process that is not this one."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_overwrite_is_refused_while_another_process_writes(small, prior_dir):
    _synth(small, prior_dir, "busy", classes=["0"])
    other = _sleeper()
    try:
        run_state._update(small, "busy", {"$set": {"shards.all.state": "running",
                                                    "shards.all.pid": other.pid}})
        assert runs.run_status(small, "busy") == "running"
        with pytest.raises(RunError, match=f"being written by pid {other.pid}"):
            _synth(small, prior_dir, "busy", seed=1, overwrite=True)
        assert runs.run_config(small, "busy")["seed"] == 0
    finally:
        other.kill()
        other.wait()
    assert runs.run_status(small, "busy") == "interrupted"
    assert _synth(small, prior_dir, "busy", seed=1, overwrite=True)["complete"]


def test_a_class_record_needs_this_process_claim(small, prior_dir):
    _synth(small, prior_dir, "cl")
    with pytest.raises(RunError, match="the run was overwritten meanwhile"):
        run_state.record_class(small, "cl", 0, "0", {"done": True})
    assert run_state.claim(small, "cl", 0)
    with run_state.heartbeat(small, "cl", 0, every=0.05):
        at = run_state.get_state(small, "cl")["claims"]["0"]["at"]
        time.sleep(0.5)
    assert run_state.get_state(small, "cl")["claims"]["0"]["at"] > at
    run_state.record_class(small, "cl", 0, "0", {"done": True})
    run_state.release(small, "cl", 0)


def test_deleting_a_synthesis_run_deletes_the_doping_runs_on_it(small, prior_dir, caplog):
    before = snapshot(small)
    _synth(small, prior_dir, "syn")
    dope(small, "ground_truth", "syn", 1, selector="random", run_key="dop",
         extractor="random", device="cpu")
    with caplog.at_level(logging.WARNING, logger="fiftyone_dsco"):
        small.delete_run("syn")
    assert "Deleting doping run 'dop' too" in caplog.text
    assert not small.has_run("dop")
    assert_same(before, snapshot(small))


def test_a_rename_that_cannot_complete_changes_nothing(small, caplog):
    evaluate(small, "ground_truth", {"s": small.match_tags("train").limit(10)},
             epochs=1, seeds=(0,), add_random=False, add_full=False, eval_key="e1")
    small.add_sample_field("e2_s", fo.StringField)  # the user's field, named like e2's
    with caplog.at_level(logging.WARNING):
        small.rename_run("e1", "e2")  # FiftyOne renames its record whatever rename() says
    assert "e2_s already exist" in caplog.text and "rename_run('e2', 'e1')" in caplog.text
    assert small.has_sample_field("e1_s") and small.has_evaluation("e1_s_eval")
    assert "e1" in small.info["dsco_evaluations"]
    small.rename_run("e2", "e1")  # back, as the message says
    from fiftyone_dsco.evaluation import load_evaluation

    assert load_evaluation(small, "e1")["pred_fields"] == {"s": "e1_s"}
    small.rename_run("e1", "bad key")
    assert "Invalid run key 'bad key'" in caplog.text and small.has_sample_field("e1_s")


def test_a_renamed_child_goes_with_its_budget_search(small, prior_dir):
    runs.begin_run(small, "bs", runs.BUDGET_SEARCH, {})
    runs.save_results(small, "bs", {"child_runs": ["kid"]})
    _synth(small, prior_dir, "kid")
    small.rename_run("kid", "kid2")
    assert runs.stored_results(small, "bs")["child_runs"] == ["kid2"]
    small.delete_run("bs")
    assert small.list_runs() == [] and not small.match_tags("dsco:kid2")


def test_delete_runs_deletes_every_run_and_what_depends_on_it(small, prior_dir, caplog):
    before = snapshot(small)
    _synth(small, prior_dir, "syn")
    dope(small, "ground_truth", "syn", 1, selector="random", run_key="syn_dope",
         extractor="random", device="cpu")
    runs.begin_run(small, "bs", runs.BUDGET_SEARCH, {})
    runs.save_results(small, "bs", {"child_runs": ["syn"]})  # listed before its dependants
    with caplog.at_level(logging.WARNING):
        small.delete_runs()  # FiftyOne's loop over the keys it listed first
    assert "Failed to run cleanup()" not in caplog.text
    assert small.list_runs() == [] and _state_docs(small) == []
    assert_same(before, snapshot(small))


def test_deleting_a_run_keeps_a_users_view_of_its_name(small, prior_dir):
    _synth(small, prior_dir, "part", classes=["0"])  # incomplete: it saved no view
    small.save_view("dsco-part", small.limit(3))
    small.delete_run("part")
    assert len(small.load_saved_view("dsco-part")) == 3


def test_pruning_is_best_effort_and_keeps_the_marker_while_files_stay(small, monkeypatch,
                                                                        caplog):
    from bson import ObjectId

    me, root = runs.database_id(), os.path.join(fo.config.default_dataset_dir, "dsco", "runs")
    os.makedirs(root, exist_ok=True)
    stray = os.path.join(root, ".DS_Store")
    open(stray, "w").close()
    used = _run_folders(str(ObjectId()), me, 7200)
    image = os.path.join(used, "k-0a1b2c3d", "00000.png")
    small.add_sample(fo.Sample(filepath=image))  # a clone's sample, say
    vanishing = _run_folders(str(ObjectId()), me, 7200)
    _run_folders(str(small._doc.id), None, 0)
    marker = runs._marker

    def pruned_meanwhile(folder):  # by another process, right after this one listed it
        owner = marker(folder)
        shutil.rmtree(vanishing) if folder == vanishing else None
        return owner

    def unwritable(folder):
        raise PermissionError(folder)

    monkeypatch.setattr(runs, "_marker", pruned_meanwhile)
    monkeypatch.setattr(runs, "_mark", unwritable)
    with caplog.at_level(logging.WARNING):
        gone = runs.prune_orphans()
    assert "Could not prune run folder" in caplog.text
    assert os.path.basename(used) not in gone and os.path.isfile(image)
    with open(os.path.join(used, ".dsco-database")) as f:  # a later prune retries it
        assert f.read() == me
    small.delete_samples(small.match(fo.ViewField("filepath") == image))
    assert os.path.basename(used) in runs.prune_orphans(min_age=0) and not os.path.exists(used)
    os.remove(stray)


def test_stale_claims_and_claims_of_a_deleted_run(small, monkeypatch, caplog):
    runs.begin_run(small, "bs", runs.BUDGET_SEARCH, {})
    here = dict(token="other", host=socket.gethostname(), pid=os.getpid())  # alive: a reused pid
    run_state._update(small, "bs", {"$set": {"claims.run": dict(here, at=time.time())}})
    assert not run_state.claim(small, "bs", run_state.RUN)
    with pytest.raises(RunError, match=r"stop it\.$"):  # no hint to wait or delete
        runs.check_idle(small, "bs")
    run_state._update(small, "bs", {"$set": {"claims.run.host": "elsewhere"}})
    with pytest.raises(RunError, match=f"dsco runs delete {small.name} bs"):
        runs.check_idle(small, "bs")
    old = time.time() - 10 * run_state.HEARTBEAT
    run_state._update(small, "bs", {"$set": {"claims.run": dict(here, at=old)}})
    assert run_state.claim(small, "bs", run_state.RUN)  # not refreshed: stale on any host

    def down(*args, **kwargs):
        raise ConnectionError("database down")

    monkeypatch.setattr(run_state, "_update", down)
    with caplog.at_level(logging.WARNING), run_state.heartbeat(small, "bs", "run", every=0.05):
        time.sleep(0.3)
    assert "Could not refresh the claim run of run 'bs': database down" in caplog.text
    monkeypatch.undo()
    small.delete_run("bs")
    with pytest.raises(RunError, match="'bs' of dataset .* is gone"):
        run_state.claim(small, "bs", 0)
