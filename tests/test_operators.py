"""Every DsCo operator through FiftyOne's executor: SDK calls, forms, delegation."""

import fiftyone.operators as foo
import pytest
from fiftyone.operators.delegated import DelegatedOperationService
from fiftyone.operators.executor import ExecutionContext

from fiftyone_dsco import runs
from fiftyone_dsco.priors import fit_prior

P = "@dsco/fiftyone-dsco/"


@pytest.fixture(scope="module", autouse=True)
def plugin(installed_plugin):
    return installed_plugin


@pytest.fixture(scope="module")
def prior_dir(digits, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("prior") / "p")
    fit_prior(digits, "ground_truth", output_dir=out, steps=6, batch_size=8,
              block_out_channels=(8, 16, 16), recognisability=False, device="cpu")
    return out


def form(uri, view, params):
    ctx = ExecutionContext(request_params={"dataset_name": view._dataset.name,
                                           "view": view._serialize(), "params": params})
    prop = foo.get_operator(uri).resolve_input(ctx)
    return {name: p for name, p in prop.type.properties.items()}


def test_synthesize_dope_concentrate_and_runs_via_sdk(digits_copy, prior_dir):
    view = digits_copy.view()
    out = foo.get_operator(P + "synthesize")(view, "ground_truth", prior_dir, 2, method="plain",
                                             run_key="op_plain", steps=2, extractor="random")
    assert out["num_samples"] == 20 and out["saved_view"] == "dsco-op-plain"
    out = foo.get_operator(P + "dope")(view, "ground_truth", "op_plain", 1, selector="random")
    assert out["num_selected"] == 10 and out["size"] == 30
    listed = foo.get_operator(P + "manage_runs")(digits_copy)
    assert {r["key"] for r in listed["runs"]} == {"op_plain", "op_plain_dope1_random"}
    info = foo.get_operator(P + "manage_runs")(digits_copy, "inspect", "op_plain")
    assert info["config"]["ipc"] == 2 and "classes" in info["results"]
    foo.get_operator(P + "manage_runs")(digits_copy, "delete", "op_plain")
    assert not digits_copy.has_run("op_plain") and len(digits_copy) == 1797
    out = foo.get_operator(P + "dope")(view, "ground_truth", None, 2, selector="random",
                                       prior=prior_dir)  # real samples only: a coreset
    assert out["num_selected"] == 20 and out["size"] == 20
    assert digits_copy.has_run("real_dope2_random")


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
    # 10 % of 1437 train samples = 14 per class = 10 synthetic + 4 selected real
    assert "140 images" in props["preview"].view.label
    assert "10 synthetic + 4 real" in props["preview"].view.label


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
