"""Class shards: same result as one run, concurrent workers on the delegated queue, kill and re-queue.

Workers are separate Python processes that drain FiftyOne's delegated-operation
queue on the tests' private MongoDB (the environment set by conftest.py is
inherited), as `fiftyone delegated launch` workers on other machines would.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from click.testing import CliRunner
from fiftyone.operators.delegated import DelegatedOperationService
from fiftyone.operators.executor import ExecutionRunState

import fiftyone.operators as foo
from fiftyone import ViewField as F

from fiftyone_dsco import data, runs
from fiftyone_dsco.runs import state as shards
from fiftyone_dsco.cli import main
from fiftyone_dsco.selection.doping import dope
from fiftyone_dsco.errors import OptionError
from fiftyone_dsco.synthesis import synthesize

P = "@dsco/fiftyone-dsco/"
FAST = dict(steps=3, extractor="random", device="cpu")
CLASSES = [str(d) for d in range(10)]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Every process of these tests computes with one torch thread, the workers' count:
    float results (and so pixels) may differ between thread counts, and the tests
    compare the pixels that different processes wrote."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def ds(digits_copy):
    digits_copy.persistent = True  # seen by the worker processes; the fixture deletes it
    return digits_copy


def per_class(dataset, run_key):
    """class index -> (labels, seeds, pixels) of a synthesis run's samples, in sample order."""
    out = {}
    view = runs.run_samples(dataset, run_key).match(F("dsco.source") == "synthetic")
    for k in range(10):
        v = view.match(F("dsco.class_index") == k).sort_by("dsco.index")
        out[k] = (v.values("ground_truth.label"), v.values("dsco.seed"),
                  [np.asarray(data.read_image(p)) for p in v.values("filepath")])
    return out


def assert_same_samples(a, b):
    """Same labels, seeds and images per class. A shard batches its own classes together
    (``class_batch="auto"``), so a class may share its denoiser calls with other classes than
    in one run: float rounding then moves a pixel by at most one grey level, as in
    tests/test_class_batch.py. A wrong seed or class would change whole images."""
    assert a.keys() == b.keys()
    for k in a:
        (la, sa, pa), (lb, sb, pb) = a[k], b[k]
        assert la == lb and sa == sb and len(pa) == len(pb) > 0, k
        diff = np.abs(np.stack(pa).astype(int) - np.stack(pb).astype(int))
        assert diff.max() <= 1 and diff.mean() < 0.01, (k, diff.max(), diff.mean())


def assert_clean(dataset, run_key, ipc):
    """No duplicate sample, no orphan or temporary file in the run's media folder."""
    view = runs.run_samples(dataset, run_key).match(F("dsco.source") == "synthetic")
    paths = view.values("filepath")
    assert len(paths) == len(set(paths)) == 10 * ipc
    assert sorted(view.count_values("dsco.class_index").values()) == [ipc] * 10
    on_disk = set()
    for root, dirs, files in os.walk(runs.media_folder(dataset, run_key)):
        assert not any(d.endswith(".tmp") for d in dirs), dirs
        on_disk.update(os.path.join(root, f) for f in files)
    assert on_disk == set(paths)


def test_parse_and_split():
    assert shards.parse_shard("1/4") == (1, 4) and shards.check_shard([0, 2]) == (0, 2)
    for bad in ("4/4", "-1/2", "1", "a/b", "1/0"):
        with pytest.raises(OptionError):
            shards.parse_shard(bad)
    classes = list("abcdefg")
    parts = [shards.shard_classes(classes, (k, 3)) for k in range(3)]
    assert parts == [["a", "d", "g"], ["b", "e"], ["c", "f"]]
    assert sorted(sum(parts, [])) == classes
    r = CliRunner().invoke(main, ["synthesize", "x", "--prior", "p", "--ipc", "1", "--shard", "2/2"])
    assert r.exit_code != 0 and "0 <= K < N" in r.output


def test_shards_in_sequence_equal_one_run(ds, prior_dir):
    kw = dict(ipc=2, method="nopt", iterations=1, seed=3, **FAST)
    one = synthesize(ds, "ground_truth", prior_dir, run_key="one", **kw)
    assert one["complete"]
    with pytest.raises(OptionError, match="overwrite"):
        synthesize(ds, "ground_truth", prior_dir, run_key="two", shard=(0, 2), overwrite=True, **kw)
    # a shard reads only its own classes: the other shard's images are unreadable
    other = data.train_view(ds).match(F("ground_truth.label").is_in(CLASSES[1::2]))
    good = other.values("filepath")
    other.set_values("filepath", [f"/nonexistent/{i}.png" for i in range(len(good))])
    first = synthesize(ds, "ground_truth", prior_dir, run_key="two", shard=(0, 2), **kw)
    assert not first["complete"] and first["saved_view"] is None
    assert set(first["classes"]) == set(CLASSES[0::2])
    assert not ds.has_saved_view(runs.saved_view_name("two"))
    other.set_values("filepath", good)
    second = synthesize(ds, "ground_truth", prior_dir, run_key="two", shard="1/2", **kw)
    assert second["complete"] and second["num_samples"] == 20
    assert list(second["classes"]) == CLASSES  # the merge: every class, in class order
    assert {k: s["state"] for k, s in second["shards"].items()} == {"0_2": "done", "1_2": "done"}
    for c in CLASSES:
        assert second["classes"][c]["seed"] == one["classes"][c]["seed"]
        assert second["classes"][c]["mmd"] == pytest.approx(one["classes"][c]["mmd"], rel=1e-5)
    stored = ds.load_run_results("two", cache=False).data  # FiftyOne's own record is complete
    assert stored["complete"] and len(stored["classes"]) == 10
    assert len(ds.load_saved_view(second["saved_view"])) == 20
    assert_same_samples(per_class(ds, "one"), per_class(ds, "two"))
    assert_clean(ds, "two", 2)
    # doping in shards selects exactly what one doping run selects
    d1 = dope(ds, "ground_truth", "one", 3, selector="mmd-greedy", run_key="d_one", **_dope_kw())
    part = dope(ds, "ground_truth", "two", 3, selector="mmd-greedy", run_key="d_two",
                shard=(1, 2), **_dope_kw())
    assert not part["complete"] and set(part["classes"]) == set(CLASSES[1::2])
    d2 = dope(ds, "ground_truth", "two", 3, selector="mmd-greedy", run_key="d_two",
              shard=(0, 2), **_dope_kw())
    assert d2["complete"] and d1["num_selected"] == d2["num_selected"] == 30
    assert d2["size"] == d1["size"] == 50
    assert sorted(runs.run_samples(ds, "d_one").values("id")) == \
        sorted(runs.run_samples(ds, "d_two").values("id"))
    assert len(ds.load_saved_view(d2["saved_view"])) == 50
    # deleting a sharded run removes its state document too
    runs.delete_run(ds, "d_two")
    assert shards.get_state(ds, "d_two") is None


def _dope_kw():
    return dict(extractor="random", device="cpu")


class Crash(Exception):
    pass


def test_shard_that_raises_mid_class_is_rerun_cleanly(ds, prior_dir, monkeypatch):
    from PIL import Image

    kw = dict(ipc=3, method="plain", seed=1, **FAST)
    synthesize(ds, "ground_truth", prior_dir, run_key="ref", **kw)
    save, calls = Image.Image.save, []

    def crash_on_8th_file(self, *a, **k):  # class 2 of the shard, its 2nd file
        calls.append(1)
        if len(calls) == 8:
            raise Crash
        return save(self, *a, **k)

    monkeypatch.setattr(Image.Image, "save", crash_on_8th_file)
    with pytest.raises(Crash):
        synthesize(ds, "ground_truth", prior_dir, run_key="crash", shard=(1, 2), **kw)
    monkeypatch.setattr(Image.Image, "save", save)
    state = shards.shard_states(ds, "crash")["1_2"]
    assert state["state"] == "failed" and "Crash" in state["error"]
    assert len(runs.run_samples(ds, "crash")) == 6  # two whole classes, nothing partial
    synthesize(ds, "ground_truth", prior_dir, run_key="crash", shard=(0, 2), **kw)
    res = synthesize(ds, "ground_truth", prior_dir, run_key="crash", shard=(1, 2), **kw)
    assert res["complete"] and res["shards"]["1_2"]["attempts"] == 2
    assert_clean(ds, "crash", 3)
    assert_same_samples(per_class(ds, "ref"), per_class(ds, "crash"))


WORKER = textwrap.dedent("""
    import os, sys, time
    import fiftyone_dsco  # noqa: F401
    from fiftyone.operators.delegated import DelegatedOperationService
    if os.environ.get("DSCO_TEST_KILL_AT_FILE"):  # die (SIGKILL) in the middle of a class
        from PIL import Image
        save, n = Image.Image.save, [0]
        def dying_save(self, *a, **k):
            n[0] += 1
            if n[0] == int(os.environ["DSCO_TEST_KILL_AT_FILE"]):
                os.kill(os.getpid(), 9)
            return save(self, *a, **k)
        Image.Image.save = dying_save
    go = sys.argv[2]
    while not os.path.exists(go):  # start draining together
        time.sleep(0.05)
    DelegatedOperationService().execute_queued_operations(operator=sys.argv[1])
""")


def _workers(tmp_path, n, env_extra=None):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    go = tmp_path / f"go{time.time()}"
    env = dict(os.environ, OMP_NUM_THREADS="1", **(env_extra or {}))
    procs = [subprocess.Popen([sys.executable, str(script), P + "synthesize", str(go)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(n)]
    time.sleep(0.5)
    go.write_text("")
    return procs


def _wait(procs, timeout=600):
    outs = []
    for p in procs:
        out, _ = p.communicate(timeout=timeout)
        outs.append((p.returncode, out))
    return outs


def _ops(run_key, state=None):
    svc = DelegatedOperationService()
    return [op for op in svc.list_operations(operator=P + "synthesize", run_state=state)
            if op.context.request_params["params"].get("run_key") == run_key]


def test_two_workers_drain_the_queue_and_merge(ds, prior_dir, installed_plugin, tmp_path):
    kw = dict(ipc=2, method="nopt", iterations=1, seed=5, steps=3, extractor="random")
    synthesize(ds, "ground_truth", prior_dir, run_key="single", device="cpu", **kw)
    out = foo.get_operator(P + "synthesize")(ds.view(), "ground_truth", prior_dir, run_key="multi",
                                             num_shards=4, **kw)
    assert out["queued"] == 4 and len(out["operation_ids"]) == 4
    assert len(_ops("multi", ExecutionRunState.QUEUED)) == 4
    outs = _wait(_workers(tmp_path, 2))
    assert all(rc == 0 for rc, _ in outs), outs
    done = _ops("multi", ExecutionRunState.COMPLETED)
    assert len(done) == 4 and not _ops("multi", ExecutionRunState.FAILED)
    assert sorted(tuple(op.context.request_params["params"]["shard"]) for op in done) == \
        [(k, 4) for k in range(4)]
    ds.reload()
    res = runs.load_results(ds, "multi")
    assert res["complete"] and res["num_samples"] == 20 and res["merge"]["state"] == "done"
    states = res["shards"]
    assert sorted(states) == ["0_4", "1_4", "2_4", "3_4"]
    assert all(s["state"] == "done" and s["attempts"] == 1 for s in states.values())
    assert len({s["pid"] for s in states.values()}) == 2, states  # both workers ran shards
    assert sum(op.result.result["complete"] for op in done) >= 1
    assert_same_samples(per_class(ds, "single"), per_class(ds, "multi"))
    assert_clean(ds, "multi", 2)
    assert len(ds.load_saved_view(res["saved_view"])) == 20


def test_killed_worker_then_requeued_shard_completes(ds, prior_dir, installed_plugin, tmp_path):
    kw = dict(ipc=2, method="plain", seed=7, steps=3, extractor="random")
    synthesize(ds, "ground_truth", prior_dir, run_key="alone", device="cpu", **kw)
    foo.get_operator(P + "synthesize")(ds.view(), "ground_truth", prior_dir, run_key="killed",
                                       num_shards=2, **kw)
    # one worker dies (SIGKILL) while writing its 3rd file: the 2nd class of its first shard
    (rc, out), = _wait(_workers(tmp_path, 1, {"DSCO_TEST_KILL_AT_FILE": "3"}))
    assert rc == -signal.SIGKILL, out
    stuck = _ops("killed", ExecutionRunState.RUNNING)
    assert len(stuck) == 1 and len(_ops("killed", ExecutionRunState.QUEUED)) == 1
    ds.reload()
    assert not runs.load_results(ds, "killed").get("complete")
    assert len(runs.run_samples(ds, "killed")) == 2  # the first class only: nothing partial
    # re-queue the dead worker's shard (what `fiftyone delegated fail` + `rerun` do)
    svc = DelegatedOperationService()
    svc.set_failed(stuck[0].id, result=None)
    svc.rerun_operation(stuck[0].id)
    outs = _wait(_workers(tmp_path, 2))
    assert all(rc == 0 for rc, _ in outs), outs
    assert len(_ops("killed", ExecutionRunState.COMPLETED)) == 2
    ds.reload()
    res = runs.load_results(ds, "killed")
    assert res["complete"] and res["num_samples"] == 20
    shard = "_".join(map(str, stuck[0].context.request_params["params"]["shard"]))
    assert res["shards"][shard]["attempts"] == 2 and res["shards"][shard]["state"] == "done"
    assert_clean(ds, "killed", 2)
    assert_same_samples(per_class(ds, "alone"), per_class(ds, "killed"))
