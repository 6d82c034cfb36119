"""DsCo runs on FiftyOne's runs framework: nothing is lost, nothing is left behind.

Before/after snapshots of samples, files, tags, saved views, fields and run
state around FiftyOne's own ``delete_run``, ``rename_run``, ``delete_dataset``,
clones and concurrent writers.
"""

import os
import subprocess
import sys
import textwrap

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
    """Files in the dataset's own DsCo folders (run folders and the legacy layout)."""
    out = []
    for root in (os.path.join(fo.config.default_dataset_dir, "dsco", "runs", str(ds._doc.id)),
                 os.path.join(fo.config.default_dataset_dir, "dsco", ds.name)):
        out += [os.path.join(r, f) for r, _, fs in os.walk(root) for f in fs]
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
    assert os.path.isdir(folder)  # FiftyOne does not call cleanup(): the next run prunes it
    assert str(doc_id) in runs.prune_orphans() and not os.path.exists(folder)


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
    assert [r["legacy"] for r in runs.list_runs(small)] == [True]
    assert runs.load_results(small, "old")["complete"]
    from click.testing import CliRunner
    from fiftyone_dsco.cli import main

    listed = CliRunner().invoke(main, ["runs", "list", small.name])
    assert "complete" in listed.output and "dsco runs upgrade" in listed.output, listed.output
    upgraded = CliRunner().invoke(main, ["runs", "upgrade", small.name])
    assert upgraded.exit_code == 0 and "Upgraded 1 run(s): old" in upgraded.output
    assert not runs.is_legacy_run(small, "old")
    files = small.match_tags("dsco:old").values("filepath")
    small.delete_run("old")
    assert not small.match_tags("dsco:old") and not any(os.path.isfile(p) for p in files)


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
