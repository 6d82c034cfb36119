"""fiftyone_dsco.names is the one source of the CLI's, the operators' and the library's options."""

import ast
import glob
import importlib
import inspect
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
    real, synthetic = (names.default_selector(m).replace("-", "_") for m in (True, False))
    assert names.doping_run_key(None, 5) == f"real_dope5_{real}"  # the mode's selector
    assert names.doping_run_key("nopt_ipc2", 5) == f"nopt_ipc2_dope5_{synthetic}"
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
    ("dope", "selector", names.SELECTORS, None),  # per mode: PER_MODE
    ("concentrate", "selector", names.SELECTORS, None),
    ("concentrate", "joint_pool", names.JOINT_POOLS, names.DEFAULT_JOINT_POOL),
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
    ("synthesize", "class_batch", names.DEFAULT_CLASS_BATCH),
    ("concentrate", "class_batch", names.DEFAULT_CLASS_BATCH),
    ("synthesize", "step_fraction", names.DEFAULT_STEP_FRACTION),
    ("concentrate", "step_fraction", names.DEFAULT_STEP_FRACTION),
    ("datasets info", "label_field", names.DEFAULT_LABEL_FIELD),
])
def test_cli_defaults_are_the_names_defaults(path, name, default):
    assert _param(path, name).default == default


@pytest.mark.parametrize("path", ["synthesize", "dope", "concentrate"])
def test_cli_leaves_per_mode_defaults_to_the_library(path):
    cmd = main.commands[path]
    found = [name for name in PER_MODE if any(p.name == name for p in cmd.params)]
    assert found
    for name in found:
        default = _param(path, name).default
        assert default is None or "UNSET" in repr(default), (name, default)


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


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Files that must take every option list and default from names.py.
SOURCES = [os.path.join(ROOT, "fiftyone_dsco", "cli.py")] + sorted(
    glob.glob(os.path.join(ROOT, "operators", "*.py")))
#: Option names whose names.py default has another name.
ALIASES = {"arch": "DEFAULT_ARCHITECTURE", "candidates_per_image": "DEFAULT_CANDIDATES"}
#: Options whose default is None everywhere: the library resolves it per mode from names.py.
PER_MODE = {"guidance": names.default_guidance, "selector": names.default_selector,
            "prefer_recognised": names.default_prefer_recognised,
            "match_histograms": names.default_match_histograms}
#: Library functions and their modules; the CLI command or operator of the same name takes
#: their options.
LIBRARY = {"synthesize": "synthesis", "dope": "selection.doping", "plan_doping": "selection.doping",
           "concentrate": "concentrate", "evaluate": "evaluation", "measure": "evaluation.protocol",
           "budget_search": "budget", "fit_prior": "priors"}


def names_default(option):
    """The names.py constant that holds ``option``'s default (None: names.py has none)."""
    keys = [ALIASES.get(option), "DEFAULT_" + option.upper()] + \
        ([option.upper()] if option in ("synthetic_cap", "real_start_cap") else [])
    return next((k for k in keys if k and hasattr(names, k)), None)


def _literal_defaults(tree):
    """``(option, default node)`` of the options in ``tree``: function parameters,
    ``click.option``/``inputs.x(name, default=...)`` and ``params.get(name, default)``."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.Lambda)):
            a = node.args
            pairs = list(zip(a.args[len(a.args) - len(a.defaults):], a.defaults))
            pairs += [(k, d) for k, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None]
            yield from ((arg.arg, d) for arg, d in pairs)
        elif isinstance(node, ast.Call):
            strings = [x.value for x in node.args
                       if isinstance(x, ast.Constant) and isinstance(x.value, str)]
            if not strings:
                continue
            plain = [x for x in strings if not x.startswith("-")]
            option = (plain or [max(strings, key=len).split("/")[0]])[0]
            option = option.lstrip("-").replace("-", "_")
            default = next((k.value for k in node.keywords if k.arg == "default"), None)
            if default is None and len(node.args) == 2 and \
                    isinstance(node.func, ast.Attribute) and node.func.attr == "get":
                default = node.args[1]
            if default is not None:
                yield option, default


@pytest.mark.parametrize("path", SOURCES, ids=os.path.basename)
def test_cli_and_operators_retype_no_names_list_or_default(path):
    """A list or a default copied into the CLI or an operator would drift: take it from names."""
    tree = ast.parse(open(path).read())
    lists = {k: set(v) for k, v in vars(names).items() if k.isupper() and isinstance(v, tuple)
             and len(v) > 1 and all(isinstance(x, str) for x in v)}
    lists["PRIOR_PRESETS"] = set(names.PRIOR_PRESETS)
    defaults = {v for k, v in vars(names).items()
                if k.startswith("DEFAULT_") and isinstance(v, str)}
    keys = {v for k, v in vars(names).items() if k.endswith("_KEY") and isinstance(v, str)
            and not any(v in choices for choices in lists.values())}  # "dsco" is a recipe too
    found = [f"line {node.lineno}: {node.value!r} (a names.py run key)" for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and node.value in keys]
    for node in ast.walk(tree):
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)) and len(node.elts) > 1 and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
            found += [f"line {node.lineno}: names.{k}" for k, v in lists.items()
                      if {e.value for e in node.elts} == v]
    for option, default in _literal_defaults(tree):
        if not isinstance(default, ast.Constant) or default.value is None:
            continue
        if names_default(option) or default.value in defaults:
            found.append(f"line {default.lineno}: {option}={default.value!r} "
                         f"(names.{names_default(option) or 'DEFAULT_*'})")
    assert not found, found


def _signature(function):
    module = importlib.import_module("fiftyone_dsco." + LIBRARY[function])
    return inspect.signature(getattr(module, function)).parameters.values()


@pytest.mark.parametrize("function", sorted(LIBRARY))
def test_library_defaults_are_the_names_defaults(function):
    for p in _signature(function):
        if p.name in PER_MODE:
            assert p.default is None, p.name
        elif p.default is not inspect.Parameter.empty and names_default(p.name):
            assert p.default == getattr(names, names_default(p.name)), p.name


def _library_defaults(function):
    return {p.name: p.default for p in _signature(function)
            if p.default not in (None, inspect.Parameter.empty)}


def _same(cli_or_operator, library):
    """Equal defaults; a number of seeds stands for the seeds ``0..n-1``, text for a list."""
    if isinstance(library, tuple) and isinstance(cli_or_operator, int):
        return tuple(range(cli_or_operator)) == library
    if isinstance(library, tuple) and isinstance(cli_or_operator, str):
        return tuple(cli_or_operator.split(",")) == library
    return cli_or_operator == library


@pytest.mark.parametrize("path", ["synthesize", "dope", "concentrate", "evaluate",
                                  "budget-search", "prior fit"])
def test_cli_defaults_are_the_library_defaults(path):
    lib = _library_defaults("fit_prior" if path == "prior fit" else path.replace("-", "_"))
    cmd = main
    for part in path.split():
        cmd = cmd.commands[part]
    shared = [p for p in cmd.params if p.name in lib and p.default is not None
              and not getattr(p, "is_flag", False)]  # a flag is off by default
    assert shared
    assert [p.name for p in shared if not _same(p.default, lib[p.name])] == []


@pytest.mark.parametrize("operator", ["synthesize", "dope", "concentrate", "evaluate",
                                      "budget_search", "fit_prior"])
def test_operator_call_defaults_are_the_library_defaults(operator):
    module = importlib.import_module("operators." + operator)
    cls = next(c for c in vars(module).values() if isinstance(c, type)
               and issubclass(c, foo.Operator) and c is not foo.Operator)
    lib = _library_defaults(operator)
    sig = inspect.signature(cls.__call__).parameters.values()
    differ = [p.name for p in sig if p.name in lib and p.default is not None
              and not _same(p.default, lib[p.name])]
    assert differ == []


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
