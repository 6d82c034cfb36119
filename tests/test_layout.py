"""The package layout: modules by pipeline stage, and no import cycle between them."""

import ast
import os

import fiftyone_dsco

PKG_DIR = os.path.dirname(fiftyone_dsco.__file__)


def _modules():
    out = {}
    for root, _, files in os.walk(PKG_DIR):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(root, f), os.path.dirname(PKG_DIR))[:-3]
                name = rel.replace(os.sep, ".")
                is_pkg = name.endswith(".__init__")
                out[name[:-9] if is_pkg else name] = (os.path.join(root, f), is_pkg)
    return out


def import_graph():
    """``{module: {imported fiftyone_dsco modules}}``, lazy (in-function) imports included."""
    mods, graph = _modules(), {}
    for name, (path, is_pkg) in mods.items():
        here = name.split(".") if is_pkg else name.split(".")[:-1]
        edges = set()
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.ImportFrom):
                base = here[:len(here) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    edges.add(sub if sub in mods else target)
            elif isinstance(node, ast.Import):
                edges.update(a.name for a in node.names)
        graph[name] = {e for e in edges if e in mods and e != name}
    return graph


def find_cycle(graph):
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                cycle = visit(m)
                if cycle:
                    return cycle
        state[n] = 2
        stack.pop()
        return None

    for n in sorted(graph):
        if n not in state:
            cycle = visit(n)
            if cycle:
                return cycle
    return None


def test_module_graph_has_no_cycle():
    graph = import_graph()
    assert "fiftyone_dsco.runs.driver" in graph and graph["fiftyone_dsco.runs"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_a_cycle_is_found():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_modules_by_pipeline_stage():
    stages = {"data", "features", "priors", "synthesis", "selection", "evaluation", "runs"}
    assert stages <= {d for d in os.listdir(PKG_DIR) if os.path.isdir(os.path.join(PKG_DIR, d))
                      and os.path.isfile(os.path.join(PKG_DIR, d, "__init__.py"))}
    flat = {f[:-3] for f in os.listdir(PKG_DIR) if f.endswith(".py")}
    assert flat == {"__init__", "cli", "concentrate", "devices", "errors", "mmd", "names", "paths"}


def test_run_class_paths_stay_importable():
    """FiftyOne stores these class paths in the database: they must never move."""
    import fiftyone.core.runs as fors

    from fiftyone_dsco import runs

    for kind in ("Synthesis", "Doping", "Evaluation", "BudgetSearch"):
        cfg = getattr(runs, f"{kind}RunConfig")()
        assert cfg.cls == f"fiftyone_dsco.runs.{kind}RunConfig"
        assert cfg.run_cls is getattr(runs, f"{kind}Run") and issubclass(cfg.run_cls, fors.Run)
