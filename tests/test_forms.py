"""Forms that block bad input: an invalid property disables Execute in the App.

FiftyOne's App disables Execute when a property of the resolved form has
``invalid`` set (it shows ``error_message``); a bare ``types.Error`` view does
not. Each form is resolved with a real ExecutionContext on a real dataset.
"""

import sys

import fiftyone as fo
import fiftyone.operators as foo
import pytest
from fiftyone.operators.executor import ExecutionContext

from fiftyone_dsco import names

P = "@dsco/fiftyone-dsco/"
HEAVY = ("fit_prior", "synthesize", "dope", "concentrate", "evaluate")


@pytest.fixture(scope="module", autouse=True)
def plugin(installed_plugin):
    return installed_plugin


@pytest.fixture(scope="module")
def dataset(digits):
    ds = digits.clone()
    ds.save_view("a-set", ds.match_tags("train").limit(20))
    yield ds
    ds.delete()


def form(name, view, params=None, **request):
    ctx = ExecutionContext(request_params=dict(dataset_name=view._dataset.name,
                                               view=view._serialize(), params=params or {},
                                               **request))
    return foo.get_operator(P + name).resolve_input(ctx).type.properties


def blocked(props):
    return [name for name, p in props.items() if p.invalid]


@pytest.mark.parametrize("name", ["synthesize", "dope", "concentrate", "fit_prior", "evaluate"])
def test_valid_forms_are_not_blocked(dataset, name):
    assert blocked(form(name, dataset.view())) == []


def test_invalid_run_key_blocks_execute(dataset):
    for name in ("synthesize", "dope", "concentrate"):
        props = form(name, dataset.view(), {"run_key": "bad key"})
        assert props["run_key"].invalid and props["bad_key"].invalid
        assert "Invalid run key 'bad key'" in props["run_key"].error_message


def test_ipc_below_one_blocks_execute_and_the_preview(dataset):
    props = form("synthesize", dataset.view(), {"ipc": 0})
    assert props["ipc"].invalid and ">= 1" in props["ipc"].error_message
    assert props["ipc"].type.min == 1
    assert "preview" not in props  # no "10 synthetic per class" for IPC 0
    assert "= 3 synthetic per class" in form("synthesize", dataset.view(),
                                             {"ipc": 3})["preview"].view.label


def test_unknown_prior_blocks_execute(dataset):
    for name in ("synthesize", "concentrate"):
        props = form(name, dataset.view(), {"prior": "/no/such/prior"})
        assert props["prior"].invalid and props["unknown_prior"].invalid


def test_no_classification_field_stops_every_form(dataset):
    view = dataset.exclude_fields("ground_truth")
    for name in ("fit_prior", "synthesize", "dope", "concentrate"):
        props = form(name, view)
        assert blocked(props) == ["no_label_field"], name
        assert not {"name", "ipc", "budget", "prior", "train_views"} & set(props), name


def test_no_train_split_stops_the_form(dataset):
    test_only = dataset.match_tags("test")
    for name in ("fit_prior", "synthesize", "dope", "concentrate"):
        props = form(name, test_only)
        assert blocked(props) == ["no_train_split"], name
        assert "'train'" in props["no_train_split"].view.description


def test_evaluate_bad_inputs_block_execute(dataset):
    props = form("evaluate", dataset.view(), {"eval_key": "not valid"})
    assert props["eval_key"].invalid and props["bad_key"].invalid
    ds = fo.Dataset()
    try:
        ds.add_sample(fo.Sample(filepath="/x.png", tags=["train"]))
        assert blocked(form("evaluate", ds.view())) == ["no_label_field"]
        ds.add_sample(fo.Sample(filepath="/y.png", tags=["train"],
                                ground_truth=fo.Classification(label="a")))
        assert blocked(form("evaluate", ds.view())) == ["no_saved_views"]
        ds.save_view("s", ds.limit(1))
        assert blocked(form("evaluate", ds.view())) == ["no_test_split"]
    finally:
        ds.delete()


def test_forms_offer_the_view_target(dataset):
    for name in ("fit_prior", "synthesize", "dope", "concentrate"):
        assert "view_target" in form(name, dataset.view())
    # the selection is a target, and the size preview counts what it holds
    ids = dataset.match_tags("train").limit(30).values("id")
    props = form("synthesize", dataset.view(), {"ipc": 1, "view_target": "SELECTED_SAMPLES"},
                 selected=ids)
    assert "30 real train samples" in props["preview"].view.label


def test_forms_say_when_schedule_is_unavailable(dataset, monkeypatch):
    monkeypatch.setattr(fo.config, "allow_legacy_orchestrators", False)
    for name in HEAVY:
        notice = form(name, dataset.view())["no_delegation"]
        assert "FIFTYONE_ALLOW_LEGACY_ORCHESTRATORS=true" in notice.view.description
        assert not notice.invalid  # Execute stays available for small jobs
    monkeypatch.setattr(fo.config, "allow_legacy_orchestrators", True)
    assert "no_delegation" not in form("synthesize", dataset.view())


def test_operators_have_icons():
    for op in foo.OperatorRegistry().list_operators():
        if op.uri.startswith(P):
            assert op.config.icon, op.uri


def test_synthesize_real_starts_in_the_form(dataset):
    props = form("synthesize", dataset.view(), {"init": "real"})
    assert {"strength", "init_selector"} <= set(props) and "init" not in blocked(props)
    props = form("synthesize", dataset.view(), {"init": "real", "data_free": True})
    assert "init" in blocked(props) and "data-free" in props["init"].error_message
    assert "strength" not in form("synthesize", dataset.view(), {})


def _limits():
    """The plugin's IMMEDIATE_LIMITS (its modules load under FiftyOne's plugin loader)."""
    module = type(foo.get_operator(P + "synthesize")).__module__
    return sys.modules[module.rsplit(".", 1)[0] + "._common"].IMMEDIATE_LIMITS


def options(name, view, params, **request):
    ctx = ExecutionContext(request_params=dict(dataset_name=view._dataset.name,
                                               view=view._serialize(), params=params, **request))
    return foo.get_operator(P + name).resolve_execution_options(ctx)


def test_large_jobs_are_only_scheduled(dataset, monkeypatch):
    """Above IMMEDIATE_LIMITS, a form offers only Schedule and says why; small jobs keep both."""
    monkeypatch.setattr(fo.config, "allow_legacy_orchestrators", True)
    limits, view = _limits(), dataset.view()
    images = limits["synthetic images"] // 10 + 1  # per class, on digits' 10 classes
    epochs = limits["training images seen"] // 40 + 1  # "a-set" and its random twin: 20 each
    cases = [("synthesize", {"ipc": 1}, {"ipc": images}),
             ("evaluate", dict(train_views=["a-set"], num_seeds=1, add_full=False, epochs=1),
              dict(train_views=["a-set"], num_seeds=1, add_full=False, epochs=epochs))]
    for name, small, large in cases:
        assert options(name, view, small).allow_immediate_execution, name
        assert "too_large" not in form(name, view, small), name
        opts = options(name, view, large)
        assert not opts.allow_immediate_execution and opts.allow_delegated_execution, name
        notice = form(name, view, large)["too_large"]
        assert "only Schedule" in notice.view.description and not notice.invalid, name
    assert "synthetic images (more than" in form("synthesize", view, cases[0][2])[
        "too_large"].view.label
    # the real train split counts for doping (digits has 1,437 train samples)
    monkeypatch.setitem(limits, "real train samples", 1000)
    for name, params in (("dope", {}), ("concentrate", {"images_per_class": 20})):
        assert not options(name, view, params).allow_immediate_execution, name
        assert "1,437 real train samples" in form(name, view, params)["too_large"].view.label
    cap = names.SYNTHETIC_CAP  # a budget of the cap: all synthetic, no real sample counts
    assert "too_large" not in form("concentrate", view, {"images_per_class": cap})
    # joint selection synthesises K candidates per kept image: they count
    k = limits["synthetic images"] // (10 * cap) + 1  # 10 classes x cap synthetic
    assert "synthetic images" in form("concentrate", view, {"images_per_class": cap,
                                                            "candidates_per_image": k})[
        "too_large"].view.label
    # SDK calls are never limited; without Schedule, Execute stays (the notice says why)
    assert options("dope", view, {}, dsco_sdk_call=True).allow_immediate_execution
    monkeypatch.setattr(fo.config, "allow_legacy_orchestrators", False)
    assert options("synthesize", view, {"ipc": images}).allow_immediate_execution
    assert "turn on Schedule" in form("synthesize", view, {"ipc": images})[
        "too_large"].view.description


def test_evaluate_form_trains_the_full_split_to_convergence_on_request(dataset):
    view, params = dataset.view(), dict(train_views=["a-set"], num_seeds=1, epochs=40)
    assert "full_epochs" in form("evaluate", view, params)
    props = form("evaluate", view, dict(params, converge=True))
    assert "converge_max_epochs" in props and "full_epochs" not in props
    assert f"from {names.CONVERGE_START_EPOCHS} until" in props["converge"].view.description
    module = sys.modules[type(foo.get_operator(P + "evaluate")).__module__]
    p = dict(params, converge=True, converge_max_epochs=20)
    assert module._full_epochs(p).max_epochs == 20 and module._full_epochs(params) is None
    ctx = ExecutionContext(request_params=dict(dataset_name=dataset.name, params=p))
    assert module._work(ctx)["training images seen"] == 40 * 40 + (5 + 10 + 20) * 1437


def test_progress_reports_name_their_unit_and_delegated_runs_write_every_10_s():
    import time

    import fiftyone.core.utils as fou
    from fiftyone.operators.executor import ExecutionContext

    from operators._common import PROGRESS_EVERY, progress_callback

    assert PROGRESS_EVERY == {"immediate": 1.0, "delegated": 10.0}
    for delegated, expected in ((False, 3), (True, 1)):
        seen = []
        cb = progress_callback(ExecutionContext(request_params={"delegated": delegated}),
                               "Synthesis", lambda fraction, text: seen.append(text))
        with fou.ProgressBar(total=3, progress=cb, iters_str="classes") as outer:
            for _ in range(3):
                with fou.ProgressBar(total=2, progress=cb) as inner:  # e.g. reading samples
                    time.sleep(1.05)
                    inner.update(2)
                outer.update()
        assert seen[-1] == "Synthesis: 3/3 classes"
        assert "Synthesis: 2/2 samples" in seen
        assert len([t for t in seen if t.endswith("classes")]) == expected


def test_synthesize_form_offers_ddim_inversion_for_real_starts(dataset):
    props = form("synthesize", dataset.view(), {"ipc": 2})
    assert "init_noising" not in props  # only for real starts
    props = form("synthesize", dataset.view(), {"ipc": 2, "init": "real"})
    assert list(props["init_noising"].type.values) == list(names.INIT_NOISINGS)
    assert props["init_noising"].default == names.DEFAULT_INIT_NOISING
    assert form("concentrate", dataset.view(), {})["candidates_per_image"].default == \
        names.DEFAULT_CANDIDATES


def test_synthesize_form_matches_histograms_except_data_free(dataset):
    props = form("synthesize", dataset.view(), {"ipc": 2})
    assert props["match_histograms"].default is True  # from noise
    props = form("synthesize", dataset.view(), {"ipc": 2, "init": "real"})
    assert props["match_histograms"].default is True  # real starts
    assert not blocked(form("synthesize", dataset.view(), {"ipc": 2, "match_histograms": True}))
    props = form("synthesize", dataset.view(), {"ipc": 2, "data_free": True,
                                                "match_histograms": True})
    assert blocked(props) and props["match_histograms"].default is False


def test_concentrate_form_offers_the_joint_pool_and_refuses_union_without_greedy_mmd(dataset):
    props = form("concentrate", dataset.view(), {})
    assert list(props["joint_pool"].type.values) == list(names.JOINT_POOLS)
    assert props["joint_pool"].default == names.DEFAULT_JOINT_POOL and not blocked(props)
    assert not blocked(form("concentrate", dataset.view(), {"joint_pool": "union"}))
    props = form("concentrate", dataset.view(), {"joint_pool": "union", "selector": "herding"})
    assert blocked(props) == ["joint_pool"]


def test_synthesize_form_offers_the_nopt_levers_behind_a_toggle(dataset):
    assert "step_fraction" not in form("synthesize", dataset.view(), {})
    props = form("synthesize", dataset.view(), {"levers": True})
    assert {"step_fraction", "diversity", "augment", "random_nets"} <= set(props)
    assert props["random_nets"].default == 0
    props = form("synthesize", dataset.view(), {"levers": True, "data_free": True})
    assert props["random_nets"].default == names.DEFAULT_DATA_FREE_RANDOM_NETS


def test_synthesize_form_offers_class_batch_and_autocast(dataset):
    props = form("synthesize", dataset.view(), {})
    assert props["class_batch"].default == names.DEFAULT_CLASS_BATCH
    assert props["autocast"].default is True
    for value, bad in (("4", False), ("auto", False), ("0", True), ("two", True)):
        assert bool(form("synthesize", dataset.view(), {"class_batch": value})[
            "class_batch"].invalid) is bad, value


def test_dope_form_offers_mmd_greedys_bandwidth_and_refuses_a_bad_one(dataset):
    mmd = {"selector": "mmd-greedy"}
    props = form("dope", dataset.view(), mmd)
    assert props["bandwidth"].default == names.DEFAULT_BANDWIDTH and not blocked(props)
    assert "bandwidth" not in form("dope", dataset.view(), {"selector": "herding"})
    assert blocked(form("dope", dataset.view(), {**mmd, "bandwidth": 0.0})) == ["bandwidth"]


@pytest.mark.parametrize("operator, params, real_only", [
    ("dope", {}, True),  # no synthesis run on the dataset: real samples only
    ("dope", {"synthetic_run": "a_run"}, False),
    ("concentrate", {"images_per_class": names.SYNTHETIC_CAP + 1}, True),  # NOpt's real starts
    ("concentrate", {"images_per_class": names.REAL_START_CAP + 1}, True),  # all real
    ("concentrate", {"images_per_class": names.SYNTHETIC_CAP}, False),
])
def test_doping_forms_default_to_the_modes_selector_and_recognised_first(dataset, operator,
                                                                         params, real_only):
    props = form(operator, dataset.view(), params)
    assert props["selector"].default == names.default_selector(real_only)
    assert props["prefer_recognised"].default is names.default_prefer_recognised(real_only)


def test_synthesize_form_leaves_guidance_to_the_mode_and_refuses_a_bad_one(dataset):
    props = form("synthesize", dataset.view(), {})
    assert props["guidance"].default is None and not blocked(props)  # the library's, per mode
    assert blocked(form("synthesize", dataset.view(), {"guidance": 0.0})) == ["guidance"]
