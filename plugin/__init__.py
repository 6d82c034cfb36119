"""FiftyOne plugin entry of fiftyone-dsco.

FiftyOne executes this file on almost every operator lookup, so it only
registers the operator and panel classes: torch, diffusers and faiss load inside
``execute``. When ``fiftyone_dsco`` is not pip-installed, the copy that
``fiftyone plugins download`` placed beside this folder is used.
"""

import importlib.util
import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_OPERATORS_MODULE = "fiftyone_dsco_plugin_operators"


def _ensure_library_importable():
    if importlib.util.find_spec("fiftyone_dsco") is None and _ROOT not in sys.path:
        sys.path.insert(0, _ROOT)


def _load_operators():
    module = sys.modules.get(_OPERATORS_MODULE)
    if module is None:
        path = os.path.join(_ROOT, "operators", "__init__.py")
        spec = importlib.util.spec_from_file_location(
            _OPERATORS_MODULE, path, submodule_search_locations=[os.path.dirname(path)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[_OPERATORS_MODULE] = module
        spec.loader.exec_module(module)
    return module


def register(p):
    _ensure_library_importable()
    module = _load_operators()
    for cls in module.OPERATORS + module.PANELS:
        p.register(cls)
