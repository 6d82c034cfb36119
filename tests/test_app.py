"""DsCo in the FiftyOne App: the App's HTTP operator endpoints and a real browser.

The App is started headless (``fo.launch_app(remote=True)``) on a tiny digits
dataset that already holds one DsCo synthesis run (tiny prior, plain sampler,
one image per class). Its server process shares this session's private
database and plugins dir.

The browser tests drive the operator browser and forms (``app_operators.js``), the
DsCo panel (``app_panel.js``) and a run scheduled in the App that a ``fiftyone delegated
launch`` worker completes (``app_delegated.js``) in Debian's chromium with the npm package
``playwright-core`` (``tests/browser``; ``npm ci --prefix tests/browser``).
Outside CI they skip, saying why, when node, chromium or playwright-core is
missing; in CI (``CI=true``) they fail instead. Their screenshots go to a
temporary folder, or to ``$DSCO_SCREENSHOT_DIR`` (``DSCO_SCREENSHOT_DIR=docs/img``
refreshes the ones in the docs).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

import fiftyone as fo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BROWSER_DIR = os.path.join(ROOT, "tests", "browser")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
P = "@dsco/fiftyone-dsco/"
DATASET = "dsco-app-test"
RUN = "plain_1ipc"
PRIOR = "app-test-tiny"
LOADED = "dsco-digits-2x1"  # what the browser loads: 2 train + 1 test per class


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _delete_dataset(name):
    if fo.dataset_exists(name):
        fo.load_dataset(name).delete()


@pytest.fixture(scope="module")
def app(installed_plugin):
    """(base url, dataset) of a headless App on a 70-sample digits set with one DsCo run."""
    import fiftyone.operators as foo

    from fiftyone_dsco.paths import priors_dir
    from fiftyone_dsco.data.builtin import load_builtin
    from fiftyone_dsco.priors import fit_prior

    _delete_dataset(LOADED)
    ds = load_builtin("digits", dataset_name=DATASET, train_per_class=5, test_per_class=2,
                      overwrite=True)
    prior = priors_dir(PRIOR)  # under $DSCO_HOME: the form's prior picker lists it
    fit_prior(ds, "ground_truth", output_dir=prior, steps=6, batch_size=8,
              block_out_channels=(8, 16, 16), recognisability=False, device="cpu")
    foo.get_operator(P + "synthesize")(ds.view(), "ground_truth", prior, 1, method="plain",
                                       run_key=RUN, steps=1, extractor="random")
    port = _free_port()
    session = fo.launch_app(ds, remote=True, address="127.0.0.1", port=port)
    # once connected (a retry 10 s later), the session pushes its dataset to every open
    # App page: wait for that, or a browser test's page could switch datasets midway
    deadline = time.monotonic() + 60
    while not session._client._connected and time.monotonic() < deadline:
        time.sleep(0.2)
    try:
        yield f"http://127.0.0.1:{port}", ds
    finally:
        session.close()
        _delete_dataset(LOADED)
        _delete_dataset(DATASET)
        shutil.rmtree(prior, ignore_errors=True)


def post(base, route, body, timeout=300):
    """POST JSON to the App server; returns (status, decoded body)."""
    req = urllib.request.Request(base + route, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:  # one JSON object, or JSON lines from a generator
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError:
        return status, text  # e.g. an error page
    return status, lines[0] if len(lines) == 1 else lines


def request(ds, uri, params, **extra):
    return dict(dataset_name=ds.name, operator_uri=uri, params=params, view=[], **extra)


# ---------------------------------------------------------------- HTTP endpoints


def test_operators_endpoint_lists_dsco_operators(app):
    import yaml

    base, ds = app
    status, body = post(base, "/operators", {"dataset_name": ds.name})
    assert status == 200
    ours = {op["uri"]: op["config"] for op in body["operators"] if op["uri"].startswith(P)}
    with open(os.path.join(ROOT, "fiftyone.yml")) as f:
        manifest = yaml.safe_load(f)
    assert set(ours) == {P + name for name in manifest["operators"] + manifest["panels"]}
    assert all(ours[P + name]["label"].startswith("DsCo: ") and ours[P + name]["can_execute"]
               for name in manifest["operators"])
    assert not [e for e in body["errors"] if "dsco" in json.dumps(e).lower()]
    # heavy operators default to delegated execution; listing and loading run at once
    assert ours[P + "concentrate"]["allow_delegated_execution"]
    assert ours[P + "load_builtin_dataset"]["allow_immediate_execution"]


def test_resolve_type_describes_forms(app):
    base, ds = app
    status, body = post(base, "/operators/resolve-type", request(
        ds, P + "synthesize", {"ipc": 3, "run_key": "bad key"}, target="inputs"))
    assert status == 200
    props = body["type"]["properties"]
    assert props["label_field"]["type"]["values"] == ["ground_truth"]  # Classification only
    assert "bad_key" in props  # invalid run key flagged before execution
    preview = props["preview"]["view"]["label"]
    assert "50 real train samples" in preview and "30 images" in preview
    # an existing run key is flagged, with an overwrite switch
    _, body = post(base, "/operators/resolve-type", request(
        ds, P + "synthesize", {"ipc": 1, "run_key": RUN}, target="inputs"))
    assert {"key_taken", "overwrite"} <= set(body["type"]["properties"])
    _, body = post(base, "/operators/resolve-type", request(
        ds, P + "manage_runs", {"action": "inspect"}, target="inputs"))
    assert body["type"]["properties"]["run_key"]["type"]["values"] == [RUN]
    _, body = post(base, "/operators/resolve-type", request(
        ds, P + "load_builtin_dataset", {}, target="outputs"))
    assert {"dataset", "num_samples"} <= set(body["type"]["properties"])


def test_execute_endpoints_run_dsco_operators(app):
    base, ds = app
    status, body = post(base, "/operators/execute/generator",
                        request(ds, P + "manage_runs", {"action": "list"}))
    assert status == 200 and body["error"] is None, body
    assert [r["key"] for r in body["result"]["runs"]] == [RUN]
    status, body = post(base, "/operators/execute",
                        request(ds, P + "manage_runs", {"action": "inspect", "run_key": RUN}))
    assert status == 200 and body["error"] is None, body
    assert body["result"]["config"]["ipc"] == 1
    assert body["result"]["results"]["num_samples"] == 10
    status, body = post(base, "/operators/execute",
                        request(ds, P + "no_such_operator", {}))
    assert status >= 400 and "no_such_operator" in str(body)  # FiftyOne answers 500


def test_app_server_blocks_bad_forms(app):
    """An invalid property is what disables Execute in the App; the server refuses it too."""
    base, ds = app
    _, body = post(base, "/operators/resolve-type", request(
        ds, P + "synthesize", {"ipc": 0}, target="inputs"))
    props = body["type"]["properties"]
    assert props["ipc"]["invalid"] and ">= 1" in props["ipc"]["error_message"]
    assert "preview" not in props and "view_target" in props
    _, body = post(base, "/operators/resolve-type", request(
        ds, P + "synthesize", {"ipc": 1, "run_key": RUN}, target="inputs"))
    assert body["type"]["properties"]["run_key"]["invalid"]  # exists, overwrite unchecked
    status, body = post(base, "/operators/execute", request(
        ds, P + "synthesize", dict(label_field="ground_truth", prior=PRIOR, ipc=2,
                                   method="plain", run_key=RUN, steps=1, extractor="random")))
    assert status >= 400 and f"Run '{RUN}' exists" in body["stack"]  # refused before it runs
    assert "Validation error. Path: run_key" in body["stack"]


def test_immediate_run_streams_progress_opens_its_view_and_notifies_in_the_app(app):
    """The App runs DsCo's long operators through ``/operators/execute/generator``: one
    JSON line per operation it triggers, progress first."""
    base, ds = app
    clone = ds.clone()  # the browser test below wants the one run of ``ds``
    try:
        status, lines = post(base, "/operators/execute/generator", request(
            clone, P + "synthesize", dict(label_field="ground_truth", prior=PRIOR, ipc=1,
                                          method="plain", run_key="in_app", steps=1,
                                          extractor="random")))
        assert status == 200 and isinstance(lines, list), lines
        triggered = [(m["body"]["operator_uri"], m["body"]["params"]) for m in lines]
        assert triggered[0][0] == "set_progress" and "Synthesis: " in triggered[0][1]["label"]
        shown = next(p for u, p in triggered if u == "show_output")
        assert shown["results"]["num_samples"] == 10  # the result, as the form's outputs
        assert ("set_view", {"name": "dsco-in-app"}) in triggered
        assert [u for u, _ in triggered][-2:] == ["notify", "reload_dataset"]
        clone.reload()
        assert clone.get_saved_view_info("dsco-in-app")["description"]
    finally:
        clone.delete()


# ---------------------------------------------------------------- a real browser


def _browser_missing():
    missing = []
    if shutil.which("node") is None:
        missing.append("node is not installed")
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        missing.append("playwright-core is not installed (npm ci --prefix tests/browser)")
    return missing


def _missing(why):
    """Skip, saying ``why``; under CI=true, fail instead."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("browser test cannot run in CI: " + why)
    pytest.skip("browser test skipped: " + why)


def _require_browser():
    """Skip when chromium, node or playwright-core is missing; under CI=true, fail instead."""
    missing = _browser_missing()
    if missing:
        _missing("; ".join(missing))


def _is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_browser_runs_dsco_operators_in_the_app(app, tmp_path):
    _require_browser()
    base, ds = app
    shots = os.path.abspath(os.environ.get("DSCO_SCREENSHOT_DIR") or str(tmp_path / "shots"))
    env = dict(os.environ, CHROMIUM_PATH=CHROMIUM, NO_PROXY="127.0.0.1,localhost")
    proc = subprocess.run(["node", os.path.join(BROWSER_DIR, "app_operators.js"),
                           base, ds.name, RUN, shots],
                          cwd=BROWSER_DIR, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])

    # the operator browser (backtick key) lists every DsCo operator
    _, body = post(base, "/operators", {"dataset_name": ds.name})
    labels = {op["config"]["label"] for op in body["operators"]
              if op["uri"].startswith(P) and not op["config"].get("unlisted")}  # not the panel
    assert labels <= set(seen["operator_browser"])
    # manage runs -> inspect: the run's config and results show in the App
    result = seen["manage_runs_result"]
    assert '"synthesis"' in result and '"dsco-plain-1ipc"' in result and "num_samples" in result
    # the synthesize form previews the set size and picks the fitted prior
    assert "50 real train samples" in seen["synthesize_form"]
    assert PRIOR in seen["synthesize_inputs"] and "ground_truth" in seen["synthesize_inputs"]
    # load built-in dataset: the App opens the new dataset and shows its size
    assert "dsco-digits-2x1" in seen["load_result"] and "30" in seen["load_result"]
    assert seen["url"].endswith("/datasets/" + LOADED)
    assert seen["dataset_selector"] == LOADED
    assert seen["entry_counts"].split() == ["30", "samples"]
    loaded = fo.load_dataset(LOADED)
    assert len(loaded) == 30 and loaded.count_sample_tags() == {"train": 20, "test": 10}
    for path in seen["screenshots"]:
        assert os.path.dirname(path) == shots and _is_png(path)
        assert 1000 < os.path.getsize(path) < 400_000, path


PANEL_DS = "dsco-app-panel"
EVAL = "app_eval"
SEARCH = "app_search"


def test_browser_drives_the_dsco_panel(app, tmp_path):
    """The DsCo panel in chromium on a copy of the App's dataset with one synthesis run
    and one evaluation: runs table, charts and grid against the database, a class
    from the dropdown, delete with confirmation, Open <saved view>, and bad forms."""
    import fiftyone.operators as foo

    from fiftyone_dsco import runs

    _require_browser()
    base, ds = app
    _delete_dataset(PANEL_DS)
    clone = ds.clone(PANEL_DS)
    try:
        view = runs.load_results(clone, RUN)["saved_view"]
        foo.get_operator(P + "evaluate")(clone, "ground_truth", [view], epochs=1, num_seeds=1,
                                         add_full=False, eval_key=EVAL)
        per_class = {a["name"]: a["per_class"]
                     for a in runs.load_results(clone, EVAL)["arms"].values()}
        search = foo.get_operator(P + "budget_search")(
            clone, "ground_truth", runs.run_config(clone, RUN)["prior"], run_key=SEARCH,
            tolerance=99, methods=["herding", "random"], seeds=2, epochs=1, ladder=[1, 2])
        shots = os.path.abspath(os.environ.get("DSCO_SCREENSHOT_DIR") or str(tmp_path / "shots"))
        env = dict(os.environ, CHROMIUM_PATH=CHROMIUM, NO_PROXY="127.0.0.1,localhost")
        proc = subprocess.run(["node", os.path.join(BROWSER_DIR, "app_panel.js"), base,
                               clone.name, RUN, view, EVAL, shots,
                               str(clone.load_saved_view(view).count())], cwd=BROWSER_DIR, env=env,
                              capture_output=True, text=True, timeout=400)
        assert proc.returncode == 0, proc.stderr[-4000:]
        seen = json.loads(proc.stdout.strip().splitlines()[-1])

        # the runs table: both runs, with the synthesis run's size
        assert f"{RUN}\tsynthesis\tcomplete\t10" in seen["runs_table"]
        assert f"{EVAL}\tevaluation\tcomplete" in seen["runs_table"]
        # the accuracy-vs-budget chart and the per-class bars, as stored
        # plots: accuracy vs budget, per-class bars of each evaluation (app_eval, then the
        # search's test evaluation), the search's validation curve
        budget, bars, curve = seen["plots"][0], seen["plots"][1], seen["plots"][-1]
        assert len(seen["plots"]) == 4
        assert {t["name"] for t in budget["traces"]} >= set(per_class)
        for t in bars["traces"]:
            assert t["type"] == "bar" and t["x"] == list(per_class[t["name"]])
            assert t["y"] == [round(100 * v, 2) for v in per_class[t["name"]].values()]
        assert {t["name"] for t in bars["traces"]} == set(per_class)
        # the budget search: its answer and its validation curve, as stored
        assert f"{SEARCH}\tbudget_search\tcomplete" in seen["runs_table"]
        assert f"{search['budget']} images per class" in seen["search_answer"]
        curve_runs = runs.load_results(clone, SEARCH)["curve"]
        for t in curve["traces"][:-1]:  # one line per method, then the full reference
            assert t["y"] == [round(100 * curve_runs[b][t["name"]]["mean"], 2)
                              for b in sorted(curve_runs, key=int)]
        assert curve["traces"][-1]["name"].startswith("full")

        # the grid: the run's IPC synthetic images of the class beside real train ones
        ipc = runs.run_config(clone, RUN)["ipc"]
        classes = runs.run_config(clone, RUN)["classes"]

        def synthetic(k):
            return runs.synthetic_samples(clone, RUN).match(
                fo.ViewField("dsco.class_index") == k).sort_by("dsco.index").values("filepath")

        def real(name):
            return set(clone.match_tags("train").match(
                fo.ViewField("ground_truth.label") == name).values("filepath"))

        shown, picked = seen["shown_class"], seen["picked_class"]
        assert shown == classes[0] and picked in classes and picked != shown
        assert len(seen["synthetic"]) == ipc and seen["synthetic"] == synthetic(0)
        assert seen["real"] and set(seen["real"]) <= real(shown)
        assert seen["synthetic_picked"] == synthetic(classes.index(picked))
        assert seen["real_picked"] and set(seen["real_picked"]) <= real(picked)

        # delete with confirmation: Cancel kept the run, "Yes, delete" removed it
        assert seen["cancel_kept"] and EVAL not in seen["runs_table_after_delete"]
        clone.reload()
        assert not clone.has_run(EVAL) and clone.has_run(RUN)
        # Open <saved view>: the App shows the run's saved view
        assert f"view={view}" in seen["url"]
        assert seen["entry_counts"].split()[0] == str(clone.load_saved_view(view).count())
        # bad forms in the page: Execute stays disabled
        assert seen["ipc0_disabled"] and seen["taken_disabled"]
        assert "check 'Overwrite'" in seen["taken_form"]
        for path in seen["screenshots"]:
            assert os.path.dirname(path) == shots and _is_png(path)
            assert 1000 < os.path.getsize(path) < 400_000, path
    finally:
        _delete_dataset(PANEL_DS)


DELEGATED_DS = "dsco-app-delegated"
SCHEDULED = "scheduled_2ipc"


def _wait_until_done(svc, op_id, timeout=300):
    """The delegated operation ``op_id`` once it has completed or failed."""
    from fiftyone.operators.executor import ExecutionRunState

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        op = svc.get(op_id)
        if op.run_state in ExecutionRunState.TERMINAL_STATES:
            return op
        time.sleep(1)
    raise AssertionError(f"delegated operation {op_id} not done after {timeout} s: {op.run_state}")


def test_browser_schedules_a_run_that_a_worker_completes(app, tmp_path):
    """Schedule in the App's execute menu queues a synthesis; a real `fiftyone delegated
    launch` worker runs it; the DsCo panel shows it after Refresh, and opens its view.
    On the way, a large IPC leaves Schedule as the only choice, and the form says why."""
    import fiftyone.operators as foo
    from fiftyone.operators.delegated import DelegatedOperationService

    from fiftyone_dsco import names, runs

    _require_browser()
    if not fo.config.allow_legacy_orchestrators:  # what scripts/setup.sh turns on
        _missing("Schedule is off: FiftyOne's allow_legacy_orchestrators is not set "
                 "(bash scripts/setup.sh --fiftyone-config)")
    base, ds = app
    _delete_dataset(DELEGATED_DS)
    clone = ds.clone(DELEGATED_DS)
    view = names.saved_view_name(SCHEDULED)
    module = type(foo.get_operator(P + "synthesize")).__module__.rsplit(".", 1)[0]
    large = sys.modules[module + "._common"].IMMEDIATE_LIMITS["synthetic images"] // 10 + 1
    shots = os.path.abspath(os.environ.get("DSCO_SCREENSHOT_DIR") or str(tmp_path / "shots"))
    env = dict(os.environ, CHROMIUM_PATH=CHROMIUM, NO_PROXY="127.0.0.1,localhost")
    svc, worker = DelegatedOperationService(), None
    log = open(tmp_path / "browser.log", "w+")
    node = subprocess.Popen(["node", os.path.join(BROWSER_DIR, "app_delegated.js"), base,
                             clone.name, SCHEDULED, view, str(large), shots], cwd=BROWSER_DIR,
                            env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        line = node.stdout.readline()  # the App has queued it
        log.seek(0)
        assert line.strip() == "scheduled", log.read()[-4000:]
        queued = svc.list_operations(operator=P + "synthesize", dataset_name=clone.name)
        assert [op.run_state for op in queued] == ["queued"] and not clone.has_run(SCHEDULED)
        assert queued[0].context.request_params["params"]["ipc"] == 2
        worker = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "fiftyone"),
                                   "delegated", "launch"], stdout=log, stderr=log)
        op = _wait_until_done(svc, queued[0].id)
        assert op.run_state == "completed", op.result
        assert op.result.result["num_samples"] == 20
        out, _ = node.communicate("worker done\n", timeout=300)
        log.seek(0)
        assert node.returncode == 0, log.read()[-4000:]
        seen = json.loads(out.strip().splitlines()[-1])
    finally:
        for proc in (worker, node):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        log.close()

    try:
        # a large job: Schedule only (no menu), and the form says why
        assert seen["large_primary"] == "Schedule" and seen["large_menu"] == 0
        assert f"{10 * large:,} synthetic images" in seen["large_notice"]
        assert "only Schedule is offered" in seen["large_notice"]
        # a small one: Schedule is the default of a menu that also offers Execute; queued
        assert seen["primary"] == "Schedule" and seen["menu"] == 1 and not seen["form_disabled"]
        assert "successfully scheduled" in seen["toast"]
        # the worker wrote the run: 2 images per class, its saved view
        clone.reload()
        assert runs.run_status(clone, SCHEDULED) == "complete"
        assert runs.run_config(clone, SCHEDULED)["ipc"] == 2
        assert len(runs.synthetic_samples(clone, SCHEDULED)) == 20
        assert clone.load_saved_view(view).count() == 20
        # the panel: not there before, there after Refresh, with its size; Open shows it
        assert SCHEDULED not in seen["runs_before"]
        assert f"{SCHEDULED}\tsynthesis\tcomplete\t20" in seen["runs_after"]
        assert f"Open {view}" in seen["buttons"]
        assert f"view={view}" in seen["url"] and seen["entry_counts"].split()[0] == "20"
        for path in seen["screenshots"]:
            assert os.path.dirname(path) == shots and _is_png(path)
            assert 1000 < os.path.getsize(path) < 400_000, path
    finally:
        _delete_dataset(DELEGATED_DS)
