"""The plugin as FiftyOne sees it: registry, execution, SDK call, delegation."""

import fiftyone.operators as foo
import pytest

URI = "@dsco/fiftyone-dsco/load_builtin_dataset"


@pytest.fixture(scope="module", autouse=True)
def plugin(installed_plugin):
    return installed_plugin


def test_operators_listed_by_fiftyone_registry():
    import os

    import yaml

    registry = foo.OperatorRegistry()
    uris = {op.uri for op in registry.list_operators()}
    root = os.path.dirname(os.path.dirname(__file__))
    with open(os.path.join(root, "fiftyone.yml")) as f:
        declared = yaml.safe_load(f)["operators"]
    assert {f"@dsco/fiftyone-dsco/{name}" for name in declared} <= uris


def test_plugin_entry_imports_nothing_heavy(tmp_path):
    import os
    import subprocess
    import sys

    code = (
        "import sys, fiftyone.operators as foo;"
        "foo.OperatorRegistry().list_operators();"
        "print(sorted(m for m in ('torch','diffusers','faiss','timm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ),
                         capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_execute_operator_and_sdk_call(digits):
    result = foo.execute_operator(URI, ctx={"params": {"name": "digits"}})
    result.raise_exceptions()
    assert result.result == {"dataset": "dsco-digits", "num_samples": 1797}
    op = foo.get_operator(URI)
    assert op(name="digits") == {"dataset": "dsco-digits", "num_samples": 1797}


def test_delegated_execution_through_fiftyone_service(digits):
    from fiftyone.operators.delegated import DelegatedOperationService

    op = foo.get_operator(URI)
    op(name="digits", delegate=True)
    svc = DelegatedOperationService()
    queued = svc.list_operations(operator=URI, run_state="queued")
    assert queued
    svc.execute_queued_operations(operator=URI)
    done = svc.list_operations(operator=URI, run_state="completed")
    assert done and done[-1].run_state == "completed"
    assert done[-1].result.result["num_samples"] == 1797


def test_public_api_resolves_lazily():
    import subprocess
    import sys

    code = ("import sys, fiftyone_dsco as d; assert 'torch' not in sys.modules; "
            "names = [n for n in dir(d) if not n.startswith('_')]; "
            "[getattr(d, n) for n in names]; print(len(names))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    import fiftyone_dsco as dsco
    from fiftyone_dsco import runs

    assert dsco.delete_run is runs.delete and callable(dsco.synthesize) and callable(dsco.evaluate)
