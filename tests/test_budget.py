"""The budget search: ladder and bisection, validation split, resume, no test read before the end."""

import pytest

from fiftyone_dsco.budget import ladder as lad
from fiftyone_dsco.data import access
from fiftyone_dsco.errors import OptionError
from fiftyone_dsco.names import BUDGET_METHODS

# --- the search's logic (no FiftyOne, no training) ------------------------------


def _step(at, low=0.50, high=0.90, std=0.0):
    """A measure whose accuracy is a step function of the budget, counting its calls."""
    calls = []

    def measure(b):
        calls.append(b)
        return {"dsco": dict(mean=high if b >= at else low, std=std),
                "random": dict(mean=low, std=std)}
    return measure, calls


@pytest.mark.parametrize("at", [1, 3, 13, 40])
def test_search_returns_the_step_of_a_step_function(at):
    measure, calls = _step(at)
    out = lad.search(measure, lad.default_ladder(100), full_mean=0.90, tolerance=0.5,
                     resolution=0.01)
    assert (out["budget"], out["method"], out["stopped"]) == (at, "dsco", "found")
    assert len(calls) == len(set(calls))  # no budget measured twice


def test_a_tie_goes_to_the_first_method():
    row = {"dsco": dict(mean=0.9, std=0.0), "mmd-greedy": dict(mean=0.9, std=0.0),
           "herding": dict(mean=0.8, std=0.0)}
    assert lad.best_lossless(row, 0.9, 0.5) == "dsco"  # not the last name in sort order


def test_no_loss_asks_the_margin_one_std_below_the_mean():
    assert lad.no_loss(0.897, 0.0, 0.90, 0.5)
    assert not lad.no_loss(0.897, 0.003, 0.90, 0.5)  # a lucky seed does not choose a budget
    assert not lad.no_loss(0.89, 0.0, 0.90, 0.5)


def test_an_interrupted_search_does_not_measure_finished_budgets_again():
    measure, calls = _step(13)
    curve = {}

    def interrupted(b):
        if b == 8:
            raise KeyboardInterrupt
        return measure(b)
    with pytest.raises(KeyboardInterrupt):
        lad.search(interrupted, [1, 2, 4, 8, 16, 32], 0.90, curve=curve)
    assert sorted(curve) == [1, 2, 4]
    calls.clear()
    out = lad.search(measure, [1, 2, 4, 8, 16, 32], 0.90, resolution=0.01, curve=curve)
    assert out["budget"] == 13 and not {1, 2, 4} & set(calls)


def test_a_time_budget_stops_with_the_best_answer_so_far():
    measure, _ = _step(1)
    out = lad.search(measure, [1, 2], 0.90, deadline=0.0, curve={2: measure(2)})
    assert (out["budget"], out["stopped"]) == (2, "time budget")


@pytest.mark.parametrize("ladder, match", [([], "empty"), ([0, 2], "outside"), ([2.5], "whole"),
                                           (["x"], "list of")])
def test_bad_ladders_are_refused(ladder, match):
    with pytest.raises(OptionError, match=match):
        lad.check_ladder(ladder, 10)


@pytest.mark.parametrize("tolerance", [-1, 100, "0.5", float("nan"), True])
def test_bad_tolerances_are_refused(tolerance):
    with pytest.raises(OptionError, match="tolerance"):
        lad.check_tolerance(tolerance)


def test_a_tolerance_below_one_validation_image_is_named_in_the_answer():
    from fiftyone_dsco.budget import format_answer

    assert "0.70 points" in lad.coarse_tolerance(0.5, 142)  # digits' validation split
    assert lad.coarse_tolerance(1.0, 142) is None and lad.coarse_tolerance(0.5, 6000) is None
    res = dict(budget=None, stopped="ladder exhausted", plot="curve.png", tolerance=0.5,
               validation=dict(num_val=142))
    assert "0.70 points" in format_answer(res)
    assert "points" not in format_answer(dict(res, tolerance=1.0))
    assert "points" not in format_answer(dict(res, tolerance=None))  # a search made before


# --- on a dataset ---------------------------------------------------------------

FAST = dict(epochs=2, seeds=(0, 1), synthesis_options=dict(steps=4))


def test_validation_split_is_seeded_per_class_and_disjoint(digits):
    from fiftyone_dsco.data.splits import validation_split

    a = validation_split(digits, "ground_truth", 0.1, seed=3)
    b = validation_split(digits, "ground_truth", 0.1, seed=3)
    c = validation_split(digits, "ground_truth", 0.1, seed=4)
    assert a.val_ids == b.val_ids != c.val_ids
    train = set(access.train_view(digits).values("id"))
    assert set(a.val_ids) <= train
    assert not set(a.val_ids) & set(access.train_view(a.fit).values("id"))
    labels = a.val.count_values("ground_truth.label")
    assert len(labels) == 10 and min(labels.values()) >= 1
    with pytest.raises(OptionError, match="fraction"):
        validation_split(digits, "ground_truth", 1.0)


@pytest.mark.parametrize("options, match", [(dict(tolerance=-0.5), "tolerance"),
                                            (dict(ladder=[]), "empty"),
                                            (dict(methods=["random"]), "methods"),
                                            (dict(max_hours=0), "max_hours"),
                                            (dict(epochs=0), "epochs"),
                                            (dict(epochs="2"), "epochs"),
                                            (dict(synthesis_options={"ipc": 3}), "synthesis_opt"),
                                            (dict(synthesis_options={"stepz": 3}), "synthesis_opt"),
                                            (dict(synthesis_options=[1]), "synthesis_opt")])
def test_bad_options_fail_before_a_run_exists(digits_copy, prior_dir, options, match):
    from fiftyone_dsco import budget_search

    with pytest.raises(OptionError, match=match):
        budget_search(digits_copy, "ground_truth", prior_dir, **options)
    assert digits_copy.list_runs() == []


@pytest.fixture
def reads(monkeypatch):
    """Every image read of the pipeline as ``(event, ids)``, and the final evaluate() call."""
    import fiftyone_dsco.data.access as access
    import fiftyone_dsco.evaluation.protocol as protocol
    import fiftyone_dsco.features.extractors as extractors
    import fiftyone_dsco.features.reference as reference
    import fiftyone_dsco.selection.doping as doping
    import fiftyone_dsco.synthesis.sampling as sampling

    log = []

    def spy(module, name):
        real = getattr(module, name)

        def wrapper(view, ids, *args, **kwargs):
            log.append((module.__name__, set(ids)))
            return real(view, ids, *args, **kwargs)
        monkeypatch.setattr(module, name, wrapper)
    for module in (access, reference, sampling, doping):
        spy(module, "image_array")
    spy(extractors, "iter_image_batches")
    evaluate = protocol.evaluate

    def final(*args, **kwargs):
        log.append(("evaluate", set()))
        return evaluate(*args, **kwargs)
    monkeypatch.setattr(protocol, "evaluate", final)
    return log


def test_search_reads_the_test_split_only_at_the_end(digits_copy, prior_dir, reads):
    from fiftyone_dsco import budget_search, runs

    ds = digits_copy
    n = len(ds)
    out = budget_search(ds, "ground_truth", prior_dir, run_key="bs", tolerance=99, ladder=[1, 2],
                        **FAST)
    assert (out["budget"], out["stopped"]) == (1, "found") and out["method"] in BUDGET_METHODS
    test_ids, val_ids = set(access.test_view(ds).values("id")), set(out["validation"]["val_ids"])
    end = [e for e, _ in reads].index("evaluate")
    assert not any(ids & test_ids for _, ids in reads[:end])
    assert any(ids & test_ids for _, ids in reads[end:])  # the one test measurement
    assert any(ids & val_ids for _, ids in reads[:end])  # measured on validation
    assert not any(ids & val_ids for m, ids in reads if m != "fiftyone_dsco.data.access")
    # the answer: a saved view, a test evaluation, a plot; deleting the run removes them all
    assert ds.has_saved_view(out["saved_view"]) and out["test"]["eval_key"] == "bs_test"
    assert set(out["test"]["arms"]) >= {"random", "full"}
    assert runs.run_status(ds, "bs") == "complete"
    ds.delete_run("bs")
    assert ds.list_runs() == [] and not ds.has_saved_view(out["saved_view"])
    assert len(ds) == n  # the synthetic samples went with their runs


def test_an_interrupted_search_resumes_its_full_reference(digits_copy, prior_dir, monkeypatch):
    import fiftyone_dsco.evaluation.protocol as protocol
    from fiftyone_dsco import budget_search, runs

    ds, calls, measure = digits_copy, [], protocol.measure

    def counted(view, label_field, sets, held_out, **kwargs):
        calls.append(sorted(sets) or ["full"])
        return measure(view, label_field, sets, held_out, **kwargs)
    monkeypatch.setattr(protocol, "measure", counted)
    out = budget_search(ds, "ground_truth", prior_dir, run_key="bs", methods=["herding", "random"],
                        ladder=[1, 2], tolerance=99, max_hours=1e-9, **FAST)
    assert out["stopped"] == "time budget" and runs.run_status(ds, "bs") == "incomplete"
    assert calls == [["full"]]
    calls.clear()
    out = budget_search(ds, "ground_truth", prior_dir, run_key="bs", methods=["herding", "random"],
                        ladder=[1, 2], tolerance=99, **FAST)
    assert calls == [["herding"]] and out["budget"] == 1  # the full reference was not retrained
    with pytest.raises(Exception, match="other options"):
        budget_search(ds, "ground_truth", prior_dir, run_key="bs", ladder=[1, 4], **FAST)
    # DsCo's sets depend on concentrate's synthetic cap: a search made under another default
    # is refused, not resumed with sets of another split
    import fiftyone_dsco.budget.search as search

    monkeypatch.setattr(search, "SYNTHETIC_CAP", search.SYNTHETIC_CAP - 1)
    with pytest.raises(Exception, match="synthetic_cap"):
        budget_search(ds, "ground_truth", prior_dir, run_key="bs", methods=["herding", "random"],
                      ladder=[1, 2], tolerance=99, **FAST)
    monkeypatch.setattr(search, "SYNTHETIC_CAP", search.SYNTHETIC_CAP + 1)
    monkeypatch.setattr(search, "REAL_START_CAP", search.REAL_START_CAP - 1)
    with pytest.raises(Exception, match="real_start_cap"):
        budget_search(ds, "ground_truth", prior_dir, run_key="bs", methods=["herding", "random"],
                      ladder=[1, 2], tolerance=99, **FAST)


def test_mmd_greedy_subsets_are_nested_and_an_equal_set_is_trained_once(digits_copy, prior_dir,
                                                                        monkeypatch):
    """mmd-greedy's real picks are a method of the search; where DsCo's set is all real and the
    real-only default is mmd-greedy's picks (pinned here: the default is per mode), it is the
    same set, so one arm is trained for both."""
    import fiftyone_dsco.budget.search as search
    import fiftyone_dsco.evaluation.protocol as protocol
    from fiftyone_dsco import budget_search, runs
    from fiftyone_dsco.concentrate import split_budget
    from fiftyone_dsco.names import REAL_START_CAP, SYNTHETIC_CAP, budget_child_keys
    from fiftyone_dsco.selection.doping import concentrated_view

    ds, calls, measure = digits_copy, [], protocol.measure
    monkeypatch.setattr(search, "default_selector", lambda real_only: "mmd-greedy")
    monkeypatch.setattr(search, "default_prefer_recognised", lambda real_only: False)

    def counted(view, label_field, sets, held_out, **kwargs):
        calls.append(sorted(sets))
        return measure(view, label_field, sets, held_out, **kwargs)
    monkeypatch.setattr(protocol, "measure", counted)
    top = max(SYNTHETIC_CAP, REAL_START_CAP) + 1  # DsCo's set is all real from here
    assert split_budget(top).synthetic == 0
    out = budget_search(ds, "ground_truth", prior_dir, run_key="bs", tolerance=0,  # one rung
                        methods=["dsco", "mmd-greedy"], ladder=[top], **FAST)
    assert calls[:2] == [[], ["dsco"]]  # the full reference, then one arm for the two methods
    row = out["curve"][str(top)]
    assert list(row) == ["dsco", "mmd-greedy"] and row["dsco"] == row["mmd-greedy"]
    order = runs.load_results(ds, "bs")["mmd-greedy_order"]
    doped = concentrated_view(ds, budget_child_keys("bs", top, 0)[1])
    assert {i for ids in order.values() for i in ids[:top]} == set(doped.values("id"))


def test_dscos_all_real_sets_are_concentrates_real_only_selection(digits_copy, prior_dir):
    """Above the cap DsCo's set is what concentrate() selects there: the real-only defaults,
    recorded with the search and its doping run."""
    from fiftyone_dsco import budget_search, runs
    from fiftyone_dsco.names import (DEFAULT_SELECTOR, REAL_START_CAP, SYNTHETIC_CAP,
                                     budget_child_keys, default_prefer_recognised,
                                     default_selector)

    top = max(SYNTHETIC_CAP, REAL_START_CAP) + 1
    budget_search(digits_copy, "ground_truth", prior_dir, run_key="bs", tolerance=0,
                  methods=["dsco", "random"], ladder=[top], **FAST)
    cfg = runs.run_config(digits_copy, "bs")
    assert cfg.get("real_selector", DEFAULT_SELECTOR) == default_selector(True)
    assert cfg["prefer_recognised"] is default_prefer_recognised(True)
    dope_cfg = runs.run_config(digits_copy, budget_child_keys("bs", top, 0)[1])
    assert dope_cfg["selector"] == default_selector(True)
    assert dope_cfg.get("prefer_recognised", False) is default_prefer_recognised(True)


def test_dscos_sets_between_the_caps_are_nopt_from_the_real_only_picks(digits_copy, prior_dir):
    """Between the caps DsCo's set is what concentrate() makes there: NOpt started from the
    real-only selection's picks."""
    from fiftyone_dsco import budget_search, runs
    from fiftyone_dsco.names import (DEFAULT_SELECTOR, SYNTHETIC_CAP, budget_synthesis_key,
                                     default_selector)

    band = SYNTHETIC_CAP + 1
    out = budget_search(digits_copy, "ground_truth", prior_dir, run_key="bs", tolerance=0,
                        methods=["dsco", "random"], ladder=[band], **FAST)
    assert runs.run_config(digits_copy, "bs").get("real_selector", DEFAULT_SELECTOR) == \
        default_selector(True)
    syn = runs.run_config(digits_copy, budget_synthesis_key("bs", band))
    assert (syn["init"], syn["init_selector"]) == ("real", default_selector(True))
    assert syn["ipc"] == band and "dsco" in out["curve"][str(band)]


@pytest.mark.parametrize("view", ["dsco-bs", "dsco-bs-b2", "DSCO-BS-SYN1"])
def test_a_users_view_named_like_the_search_or_a_child_is_refused(digits_copy, prior_dir, view):
    from fiftyone_dsco import budget_search
    from fiftyone_dsco.errors import RunError

    digits_copy.save_view(view, digits_copy.limit(3))
    with pytest.raises(RunError, match=view):
        budget_search(digits_copy, "ground_truth", prior_dir, run_key="bs", ladder=[1, 2], **FAST)
    assert digits_copy.list_runs() == [] and len(digits_copy.load_saved_view(view)) == 3


def test_one_process_at_a_time_runs_a_search(digits_copy, prior_dir, monkeypatch):
    import subprocess
    import sys

    from fiftyone_dsco import budget_search, runs
    from fiftyone_dsco.budget import search
    from fiftyone_dsco.errors import RunError
    from fiftyone_dsco.runs import state as run_state

    monkeypatch.setattr(search._Search, "run", lambda self, deadline: "searched")
    ds, kw = digits_copy, dict(run_key="bs", ladder=[1, 2], **FAST)
    assert budget_search(ds, "ground_truth", prior_dir, **kw) == "searched"
    assert runs.run_status(ds, "bs") == "incomplete"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:  # another live process holds the search
        run_state._update(ds, "bs", {"$set": {"claims.run": dict(host=run_state.socket.gethostname(),
                                                                 pid=other.pid, token="x",
                                                                 at=run_state.time.time()),
                                              "shards.all.state": "running",
                                              "shards.all.pid": other.pid}})
        assert runs.run_status(ds, "bs") == "running"
        with pytest.raises(RunError, match=f"pid {other.pid}"):
            budget_search(ds, "ground_truth", prior_dir, **kw)
    finally:
        other.kill()
        other.wait()
    assert runs.run_status(ds, "bs") == "interrupted"
    assert budget_search(ds, "ground_truth", prior_dir, **kw) == "searched"  # taken over
    assert "run" not in run_state.get_state(ds, "bs")["claims"]


# --- class shards ---------------------------------------------------------------

SHARDED = dict(run_key="bs", ladder=[1, 2], tolerance=99, methods=["dsco"], **FAST)


def _synthetic_ids(ds, keys):
    from fiftyone_dsco import runs

    return {k: sorted(runs.synthetic_samples(ds, k).values("id")) for k in keys}


def test_shards_synthesise_and_the_search_resumes_them(digits_copy, prior_dir):
    from fiftyone_dsco import budget_search, runs

    ds, keys = digits_copy, {"bs_syn1", "bs_syn2"}
    first = budget_search(ds, "ground_truth", prior_dir, shard=(0, 2), **SHARDED)
    assert first["synthesis_runs"] == {"bs_syn1": False, "bs_syn2": False}
    assert "curve" not in first and runs.run_status(ds, "bs") == "incomplete"
    second = budget_search(ds, "ground_truth", prior_dir, shard="1/2", **SHARDED)  # another worker
    assert second["synthesis_runs"] == {"bs_syn1": True, "bs_syn2": True}
    assert set(second["child_runs"]) == keys
    assert {n: s["state"] for n, s in second["shards"].items()} == {"0_2": "done", "1_2": "done"}
    before = _synthetic_ids(ds, keys)
    assert all(len(ids) == 10 * int(k[-1]) for k, ids in before.items())
    out = budget_search(ds, "ground_truth", prior_dir, **SHARDED)
    assert (out["budget"], out["method"], out["stopped"]) == (1, "dsco", "found")
    assert _synthetic_ids(ds, keys) == before  # nothing synthesised again
    syn1 = runs.load_results(ds, "bs_syn1")["shards"]
    assert syn1["all"]["classes"] == [] and syn1["0_2"]["attempts"] == 1  # the search: no class
    assert set(out["child_runs"]) == keys | {"bs_b1", "bs_test"}
    assert runs.run_status(ds, "bs") == "complete"


def test_deleting_a_search_deletes_its_shards_runs(digits_copy, prior_dir):
    from fiftyone_dsco import budget_search, runs

    ds, n = digits_copy, len(digits_copy)
    budget_search(ds, "ground_truth", prior_dir, shard=(1, 3), **SHARDED)  # one shard only
    assert sorted(ds.list_runs()) == ["bs", "bs_syn1", "bs_syn2"]
    assert len(runs.synthetic_samples(ds, "bs_syn2")) == 2 * 3  # classes 1, 4, 7
    ds.rename_run("bs_syn2", "renamed")  # a renamed child stays the search's
    assert runs.load_results(ds, "bs")["child_runs"] == ["bs_syn1", "renamed"]
    ds.delete_run("bs")
    assert ds.list_runs() == [] and len(ds) == n


@pytest.mark.parametrize("options, match", [
    (dict(shard=(2, 2)), "0 <= K < N"), (dict(shard="1"), "K/N"),
    (dict(shard=(0, 11)), "at most 10 shards"),
    (dict(shard=(0, 2), overwrite=True), "overwrite"),
    (dict(shard=(0, 2), methods=["herding"]), "without a shard"),
    (dict(shard=(0, 2), ladder=[50]), "without a shard")])
def test_bad_shards_fail_before_a_run_exists(digits_copy, prior_dir, options, match):
    from fiftyone_dsco import budget_search

    with pytest.raises(OptionError, match=match):
        budget_search(digits_copy, "ground_truth", prior_dir, **dict(SHARDED, **options))
    assert digits_copy.list_runs() == []


def test_a_search_warns_at_its_start_when_the_tolerance_is_below_one_validation_image(
        digits_copy, prior_dir, caplog):
    from fiftyone_dsco import budget_search

    with caplog.at_level("WARNING", logger="fiftyone_dsco.budget.search"):
        with pytest.raises(OptionError, match="overwrite"):  # fails after the check, writes nothing
            budget_search(digits_copy, "ground_truth", prior_dir,
                          **dict(SHARDED, shard=(0, 2), overwrite=True, tolerance=0.5))
    assert any("One validation image" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level("WARNING", logger="fiftyone_dsco.budget.search"):
        with pytest.raises(OptionError, match="overwrite"):
            budget_search(digits_copy, "ground_truth", prior_dir,
                          **dict(SHARDED, shard=(0, 2), overwrite=True, tolerance=1.0))
    assert not any("One validation image" in r.getMessage() for r in caplog.records)
