"""Every DsCo operator through FiftyOne's executor: SDK calls, forms, delegation."""

import asyncio
import inspect

import fiftyone.operators as foo
import pytest
from bson import ObjectId
from fiftyone import ViewField as F
from fiftyone.operators.delegated import DelegatedOperationService
from fiftyone.operators.executor import (ExecutionContext, ExecutionError,
                                         execute_or_delegate_operator)

from fiftyone_dsco import names, runs

P = "@dsco/fiftyone-dsco/"


@pytest.fixture(scope="module", autouse=True)
def plugin(installed_plugin):
    return installed_plugin


def form(uri, view, params):
    ctx = ExecutionContext(request_params={"dataset_name": view._dataset.name,
                                           "view": view._serialize(), "params": params})
    prop = foo.get_operator(uri).resolve_input(ctx)
    return {name: p for name, p in prop.type.properties.items()}


def test_synthesize_dope_concentrate_and_runs_via_sdk(digits_copy, prior_dir):
    view = digits_copy.view()
    out = foo.get_operator(P + "synthesize")(view, "ground_truth", prior_dir, 2, method="plain",
                                             run_key="op_plain", steps=2, extractor="random",
                                             step_fraction=0.5)
    assert digits_copy.get_run_info("op_plain").config.nopt["step_fraction"] == 0.5
    assert out["num_samples"] == 20 and out["saved_view"] == "dsco-op-plain"
    assert digits_copy.get_saved_view_info("dsco-op-plain")["description"]
    # the dsco fields are declared, so the App's sidebar filters on them
    schema = digits_copy.get_field_schema(flat=True)
    assert {f"dsco.{k}" for k in ("source", "run_key", "method", "seed", "class_index",
                                  "index")} <= set(schema)
    assert digits_copy.count_values("dsco.method") == {"plain": 20, None: 1797}
    # a dataset works where a view is expected
    out = foo.get_operator(P + "dope")(digits_copy, "ground_truth", "op_plain", 1,
                                       selector="random")
    assert out["num_selected"] == 10 and out["size"] == 30
    assert digits_copy.get_saved_view_info(out["saved_view"])["description"]
    listed = foo.get_operator(P + "manage_runs")(digits_copy)
    assert {r["key"] for r in listed["runs"]} == {"op_plain", "op_plain_dope1_random"}
    info = foo.get_operator(P + "manage_runs")(digits_copy, "inspect", "op_plain")
    assert info["config"]["ipc"] == 2 and "classes" in info["results"]
    foo.get_operator(P + "manage_runs")(digits_copy, "delete", "op_plain")
    assert not digits_copy.has_run("op_plain") and len(digits_copy) == 1797
    out = foo.get_operator(P + "dope")(view, "ground_truth", None, 2,
                                       prior=prior_dir)  # real samples only: a coreset
    assert out["num_selected"] == 20 and out["size"] == 20
    cfg = runs.run_config(digits_copy, names.doping_run_key(None, 2))  # the real-only defaults
    assert cfg["selector"] == names.default_selector(True)
    assert cfg.get("prefer_recognised", False) is names.default_prefer_recognised(True)
    foo.get_operator(P + "dope")(view, "ground_truth", None, 1, prior=prior_dir, bandwidth=0.5,
                                 selector="mmd-greedy", prefer_recognised=True,
                                 run_key="op_bandwidth")  # the form's options reach the run
    assert runs.run_config(digits_copy, "op_bandwidth")["selector_options"] == {"bandwidth": 0.5}
    assert runs.run_config(digits_copy, "op_bandwidth")["prefer_recognised"] is True


def test_forms_guard_against_mistakes(digits_copy, prior_dir):
    digits_copy.add_sample_field("other", fo_str_field())
    props = form(P + "synthesize", digits_copy.view(), {"ipc": 3, "run_key": "bad key"})
    assert "bad_key" in props and "preview" in props
    assert props["label_field"].type.values == ["ground_truth"]  # Classification fields only
    assert "1437 real train samples" in props["preview"].view.label
    assert "30 images" in props["preview"].view.label
    digits_copy.tag_samples("x")  # any dataset change is fine; now make a run exist
    foo.get_operator(P + "synthesize")(digits_copy.view(), "ground_truth", prior_dir, 1,
                                       method="plain", run_key="taken", steps=1, extractor="random")
    props = form(P + "synthesize", digits_copy.view(), {"run_key": "taken"})
    assert "key_taken" in props and "overwrite" in props
    # the conflict disables Execute before anything runs; 'Overwrite' lifts it
    assert props["run_key"].invalid and props["key_taken"].invalid
    assert "other options (extractor, ipc, method, steps)" in props["key_taken"].view.label
    props = form(P + "synthesize", digits_copy.view(), {"run_key": "taken", "overwrite": True})
    assert not any(p.invalid for p in props.values())
    same = {"run_key": "taken", "ipc": 1, "method": "plain", "steps": 1, "extractor": "random"}
    props = form(P + "synthesize", digits_copy.view(), same)  # complete: returned as it is
    assert not props["run_key"].invalid and "is complete" in props["key_taken"].view.label
    with pytest.raises(ExecutionError, match="Run 'taken' exists .*overwrite=True"):
        foo.get_operator(P + "synthesize")(digits_copy, "ground_truth", prior_dir, 2,
                                           method="plain", run_key="taken", steps=1,
                                           extractor="random")  # refused before it runs
    assert len(runs.run_samples(digits_copy, "taken")) == 10
    props = form(P + "evaluate", digits_copy.view(), {"eval_key": "taken"})
    assert props["eval_key"].invalid  # a synthesis run's key
    props = form(P + "dope", digits_copy.view(), {"synthetic_run": "taken", "budget": 500})
    assert "too_small" in props
    assert props["extractor"].type.values == ["reference", "random", "prior-latent"]
    assert "seed" in props
    assert props["synthetic_run"].type.values == ["taken", "(none: real samples only)"]
    assert "prior" not in props
    props = form(P + "dope", digits_copy.view(), {"synthetic_run": "(none: real samples only)"})
    assert "prior" in props  # real-only selection needs a prior's image size


def test_concentrate_form_takes_a_fraction_of_the_train_split(digits_copy):
    props = form(P + "concentrate", digits_copy.view(), {"images_per_class": 5})
    assert "images_per_class" in props and "fraction" not in props and "seed" in props
    assert "= 5 synthetic per class" in props["preview"].view.label
    props = form(P + "concentrate", digits_copy.view(),
                 {"budget_type": "fraction of the train split", "fraction": 0.1})
    assert "fraction" in props and "images_per_class" not in props
    # 10 % of 1437 train samples = 14 per class: between the caps, NOpt from real picks
    assert "140 images" in props["preview"].view.label
    assert "= 14 synthetic per class" in props["preview"].view.label
    props = form(P + "concentrate", digits_copy.view(),
                 {"budget_type": "fraction of the train split", "fraction": 0.2})
    # 20 % = 29 per class: above both caps, all selected real
    assert "290 images" in props["preview"].view.label
    assert "0 synthetic + 29 real" in props["preview"].view.label


def fo_str_field():
    import fiftyone as fo

    return fo.StringField


def test_synthesize_runs_delegated(digits_copy, prior_dir):
    foo.get_operator(P + "synthesize")(digits_copy.view(), "ground_truth", prior_dir, 1,
                                       method="plain", run_key="queued", steps=1,
                                       extractor="random", delegate=True)
    assert not digits_copy.has_run("queued")
    svc = DelegatedOperationService()
    svc.execute_queued_operations(operator=P + "synthesize")
    done = svc.list_operations(operator=P + "synthesize", run_state="completed")
    assert done and done[-1].result.result["num_samples"] == 10
    digits_copy.reload()
    assert len(runs.run_samples(digits_copy, "queued")) == 10


def test_immediate_run_opens_its_saved_view_and_notifies(digits_copy, prior_dir):
    res = foo.execute_operator(P + "synthesize", ctx=dict(dataset=digits_copy, params=dict(
        label_field="ground_truth", prior=prior_dir, ipc=1, method="plain", run_key="shown",
        steps=1, extractor="random")))
    triggered = [(r.operator_uri, r.params) for r in res.executor._requests]
    assert ("set_view", {"name": "dsco-shown"}) in triggered
    assert [u for u, _ in triggered][-2:] == ["notify", "reload_dataset"]
    notify = next(p for u, p in triggered if u == "notify")
    assert notify["variant"] == "success" and "'shown'" in notify["message"]


def test_immediate_run_in_the_app_streams_its_progress(digits_copy, prior_dir):
    """As the App runs it (``/operators/execute/generator``): a generator that yields
    ``set_progress`` while the job runs, then the result, its view, a notification."""
    params = dict(label_field="ground_truth", prior=prior_dir, ipc=1, method="plain",
                  run_key="streamed", steps=1, extractor="random")
    res = asyncio.run(execute_or_delegate_operator(P + "synthesize", dict(
        dataset_name=digits_copy.name, view=digits_copy.view()._serialize(), params=params)))
    assert inspect.isgenerator(res.result)
    sent = [m.body.to_json() for m in res.result]  # what the App receives, line by line
    uris = [m["operator_uri"] for m in sent]
    n = uris.count("set_progress")
    assert n and uris == ["set_progress"] * n + ["show_output", "set_view", "notify",
                                                 "reload_dataset"]
    progress = [m["params"] for m in sent[:n]]
    assert all(0 <= p["progress"] <= 1 and p["label"].startswith("Synthesis: ") for p in progress)
    assert progress[-1] == {"label": "Synthesis: 10/10 classes", "progress": 1.0}
    shown = sent[n]["params"]
    assert shown["results"]["num_samples"] == 10 and shown["results"]["complete"]
    assert "num_samples" in shown["outputs"]["type"]["properties"]
    assert sent[n + 1]["params"] == {"name": "dsco-streamed"}
    assert len(runs.run_samples(digits_copy, "streamed")) == 10


def test_sdk_call_inside_a_running_event_loop(digits_copy):
    async def notebook_cell():
        pending = foo.get_operator(P + "manage_runs")(digits_copy)
        assert inspect.isawaitable(pending)  # FiftyOne's Task, returned unchanged
        return await pending

    result = asyncio.run(notebook_cell())
    assert result.error is None and result.result == {"runs": []}
    assert foo.get_operator(P + "manage_runs")(digits_copy.limit(5)) == {"runs": []}


def test_dsco_panel_lists_runs_opens_views_and_shows_evaluations(digits_copy, prior_dir):
    op = lambda name: foo.get_operator(P + name)  # noqa: E731
    op("synthesize")(digits_copy, "ground_truth", prior_dir, 1, method="plain", run_key="pan",
                     steps=1, extractor="random")
    op("evaluate")(digits_copy, "ground_truth", ["dsco-pan"], epochs=1, num_seeds=1,
                   add_full=False, eval_key="pan_eval")

    def panel(method, **params):
        res = foo.execute_operator(P + "dsco_panel", ctx=dict(dataset=digits_copy, params=dict(
            __method__=method, panel_id="p1", state={}, **params)))
        return {r.operator_uri: r.params for r in res.executor._requests}

    out = panel("on_load")
    traces = out["patch_panel_data"]["data"]["chart"]
    assert {t["name"] for t in traces} == {"dsco-pan", "random"}
    shown = out["show_panel_output"]["output"]["type"]["properties"]
    runs_md = shown["runs"]["default"]
    assert "| pan | synthesis | complete | 10 |" in runs_md
    assert "| pan_eval | evaluation |" in runs_md
    assert shown["open_pan"]["view"]["params"] == {"name": "dsco-pan"}
    table = shown["eval_pan_eval"]["default"]
    arm = runs.load_results(digits_copy, "pan_eval")["arms"]
    first = next(iter(arm.values()))
    assert f"{100 * first['acc_mean']:.2f} ± " in table and "one seed's model" in table
    assert "chart" in shown
    assert panel("open_view", name="dsco-pan")["set_view"] == {"name": "dsco-pan"}


def test_budget_search_operator_runs_the_search_and_guards_its_form(digits_copy, prior_dir):
    props = form(P + "budget_search", digits_copy.view(), {"prior": prior_dir, "methods": ["random"]})
    assert props["bad_methods"].invalid and "run_key" in props and "tolerance" in props
    out = foo.get_operator(P + "budget_search")(
        digits_copy, "ground_truth", prior_dir, run_key="op_bs", tolerance=99,
        methods=["herding", "random"], seeds=2, epochs=2, ladder=[1, 2])
    assert out["budget"] == 1 and out["saved_view"] == "dsco-op-bs"
    assert out["chart"] and "images per class" in out["answer"]
    assert runs.run_status(digits_copy, "op_bs") == "complete"
    # the same key with other options is refused in the form
    props = form(P + "budget_search", digits_copy.view(),
                 {"prior": prior_dir, "run_key": "op_bs", "tolerance": 1.0})
    assert props["run_key"].invalid and "other options" in props["run_key"].error_message


def test_budget_search_operator_queues_class_shards_then_the_search(digits_copy, prior_dir):
    props = form(P + "budget_search", digits_copy.view(), {"prior": prior_dir, "num_shards": 11})
    assert props["num_shards"].invalid and "at most 10 shards" in props["num_shards"].error_message
    two = digits_copy.match(F("ground_truth.label").is_in(["0", "1"]))  # a small, fast search
    out = foo.get_operator(P + "budget_search")(
        two, "ground_truth", prior_dir, run_key="op_sh", tolerance=99, methods=["dsco"],
        seeds=2, epochs=2, ladder=[1], num_shards=2)
    assert out["queued"] == 3 and not digits_copy.has_run("op_sh")
    svc, ids = DelegatedOperationService(), [ObjectId(i) for i in out["operation_ids"]]
    params = [svc.get(i).context.request_params["params"] for i in ids]
    assert [(p["shard"], p["num_shards"]) for p in params] == [([0, 2], 2), ([1, 2], 2), (None, 1)]
    for i in ids[:2]:  # a worker runs the shards; the search (tested in test_budget.py) stays
        svc.execute_operation(svc.get(i))
    assert [svc.get(i).run_state for i in ids] == ["completed", "completed", "queued"]
    assert "Shard 1/2 done" in svc.get(ids[1]).result.result["answer"]
    svc.delete_operation(ids[2])
    digits_copy.reload()
    assert runs.load_results(digits_copy, "op_sh_syn1")["complete"]
    assert runs.load_results(digits_copy, "op_sh")["child_runs"] == ["op_sh_syn1"]
    digits_copy.delete_run("op_sh")
    assert digits_copy.list_runs() == []
