"""fiftyone_dsco.names is the one source of the CLI's, the operators' and the library's options."""

import os
import subprocess
import sys
from types import SimpleNamespace

import fiftyone.operators as foo
import pytest
from click.testing import CliRunner
from fiftyone.operators.executor import ExecutionContext

from fiftyone_dsco import names
from fiftyone_dsco.cli import main

P = "@dsco/fiftyone-dsco/"


def test_importing_names_loads_nothing_heavy():
    code = ("import sys, fiftyone_dsco.names; "
            "print(sorted(m for m in ('torch', 'faiss', 'fiftyone', 'timm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ),
                         capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_run_key_formulas():
    assert names.synthesis_run_key("nopt", 10, data_free=True) == "nopt_df_ipc10"
    assert names.doping_run_key(None, 5, "mmd-greedy") == "real_dope5_mmd_greedy"
    assert names.doping_run_key("plain_ipc1", 2, "random") == "plain_ipc1_dope2_random"
    assert names.concentrate_synthesis_key(names.DEFAULT_CONCENTRATE_KEY) == "dsco_syn"


def _param(path, name):
    cmd = main
    for part in path.split():
        cmd = cmd.commands[part]
    return next(p for p in cmd.params if p.name == name)


@pytest.mark.parametrize("path, name, choices, default", [
    ("synthesize", "method", names.METHODS, names.DEFAULT_METHOD),
    ("concentrate", "method", names.METHODS, names.DEFAULT_METHOD),
    ("dope", "selector", names.SELECTORS, names.DEFAULT_SELECTOR),
    ("concentrate", "selector", names.SELECTORS, names.DEFAULT_SELECTOR),
    ("synthesize", "extractor", names.EXTRACTORS, names.DEFAULT_EXTRACTOR),
    ("dope", "extractor", names.EXTRACTORS, names.DEFAULT_EXTRACTOR),
    ("concentrate", "extractor", names.EXTRACTORS, names.DEFAULT_EXTRACTOR),
    ("synthesize", "kernel", names.KERNELS, names.DEFAULT_KERNEL),
    ("concentrate", "kernel", names.KERNELS, names.DEFAULT_KERNEL),
    ("dope", "backend", names.SELECTION_BACKENDS, None),
    ("evaluate", "arch", names.ARCHITECTURES, names.DEFAULT_ARCHITECTURE),
    ("datasets load", "name", names.BUILTIN_DATASETS, None),
    ("demo", "builtin", names.BUILTIN_DATASETS, names.DEFAULT_DATASET),
    ("prior fit", "preset", tuple(names.PRIOR_PRESETS), None),
])
def test_cli_choices_are_the_names_lists(path, name, choices, default):
    param = _param(path, name)
    assert tuple(param.type.choices) == choices
    if default is not None:
        assert param.default == default


@pytest.mark.parametrize("path, name, default", [
    ("concentrate", "run_key", names.DEFAULT_CONCENTRATE_KEY),
    ("evaluate", "eval_key", names.DEFAULT_EVAL_KEY),
    ("synthesize", "label_field", names.DEFAULT_LABEL_FIELD),
    ("datasets info", "label_field", names.DEFAULT_LABEL_FIELD),
])
def test_cli_defaults_are_the_names_defaults(path, name, default):
    assert _param(path, name).default == default


def test_library_lists_are_the_names_lists():
    from fiftyone_dsco import mmd
    from fiftyone_dsco.features import extractors as features
    from fiftyone_dsco.data import builtin as datasets
    from fiftyone_dsco.evaluation import classifiers as models
    from fiftyone_dsco.selection import selectors

    assert features.EXTRACTORS is names.EXTRACTORS
    assert mmd.KERNELS is names.KERNELS
    assert models.ARCHITECTURES is names.ARCHITECTURES
    assert tuple(selectors.SELECTORS) == names.SELECTORS
    assert datasets.list_builtin() == list(names.BUILTIN_DATASETS)


@pytest.fixture(scope="module")
def dataset(digits, installed_plugin):
    ds = digits.clone()
    ds.save_view("a-set", ds.limit(10))
    yield ds
    ds.delete()


def form(name, view, params):
    ctx = ExecutionContext(request_params={"dataset_name": view._dataset.name,
                                           "view": view._serialize(), "params": params})
    return foo.get_operator(P + name).resolve_input(ctx).type.properties


@pytest.mark.parametrize("operator, field, attr", [
    ("synthesize", "method", "METHODS"),
    ("synthesize", "extractor", "EXTRACTORS"),
    ("dope", "selector", "SELECTORS"),
    ("dope", "extractor", "EXTRACTORS"),
    ("concentrate", "method", "METHODS"),
    ("concentrate", "selector", "SELECTORS"),
    ("evaluate", "arch", "ARCHITECTURES"),
    ("load_builtin_dataset", "name", "BUILTIN_DATASETS"),
])
def test_operator_forms_offer_the_names_lists(dataset, monkeypatch, operator, field, attr):
    monkeypatch.setattr(names, attr, getattr(names, attr) + ("new-choice",))
    values = form(operator, dataset.view(), {})[field].type.values
    # timm needs a checkpoint path, an SDK/CLI option
    assert values == [v for v in getattr(names, attr) if v != "timm"]


def test_fit_prior_form_offers_the_presets(dataset):
    props = form("fit_prior", dataset.view(), {})
    assert props["preset"].type.values == ["auto", *names.PRIOR_PRESETS]
    assert {"more_steps", "patience"} <= set(props)


def test_operator_forms_use_the_names_run_keys(dataset, monkeypatch):
    monkeypatch.setattr(names, "synthesis_run_key", lambda m, ipc, df=False: f"s_{m}_{ipc}_{df}")
    monkeypatch.setattr(names, "doping_run_key", lambda run, budget, sel: f"d_{run}_{budget}_{sel}")
    monkeypatch.setattr(names, "DEFAULT_CONCENTRATE_KEY", "c_key")
    monkeypatch.setattr(names, "DEFAULT_EVAL_KEY", "e_key")
    view = dataset.view()
    props = form("synthesize", view, {"method": "plain", "ipc": 3, "data_free": True})
    assert props["run_key"].default == "s_plain_3_True"
    props = form("dope", view, {"budget": 4, "selector": "kcenter"})  # real samples only
    assert props["run_key"].default == "d_None_4_kcenter"
    assert form("concentrate", view, {})["run_key"].default == "c_key"
    assert form("evaluate", view, {})["eval_key"].default == "e_key"


def test_cli_dope_passes_the_timm_checkpoint(dataset, monkeypatch, tmp_path):
    calls = []

    def fake_dope(*args, **kwargs):
        calls.append(kwargs)
        return {"complete": True, "num_selected": 0, "saved_view": "v", "size": 0}

    monkeypatch.setitem(sys.modules, "fiftyone_dsco.selection.doping", SimpleNamespace(dope=fake_dope))
    ckpt = tmp_path / "backbone.pth"
    ckpt.write_bytes(b"")
    r = CliRunner().invoke(main, ["dope", dataset.name, "--synthetic-run", "s", "--budget", "1",
                                  "--extractor", "timm", "--timm-checkpoint", str(ckpt)])
    assert r.exit_code == 0, r.output
    assert calls[0]["extractor"] == "timm"
    assert calls[0]["extractor_options"] == {"model": "resnet18", "checkpoint": str(ckpt)}
