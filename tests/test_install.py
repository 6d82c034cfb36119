"""`fiftyone plugins download` of the repository archive gives a working plugin.

The repository (its tracked and untracked-but-not-ignored files, as a GitHub
archive would hold them under one top folder) is zipped, served offline by
``python -m http.server`` on 127.0.0.1 and downloaded with FiftyOne's own CLI
into an empty plugins dir. Fresh Python processes pointed at that dir then
list the plugin with FiftyOne's registry and run DsCo operators from it: once
with the pip-installed ``fiftyone_dsco`` and once without it, when the plugin
must fall back on the library copy that came with the download.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLUGIN = "@dsco/fiftyone-dsco"
FIFTYONE_CLI = os.path.join(os.path.dirname(sys.executable), "fiftyone")


def _repo_files():
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    # --cached lists files deleted in the work tree too: archive what exists
    return sorted(f for f in out.split("\0") if f and os.path.isfile(os.path.join(ROOT, f)))


def _build_archive(path, prefix="fiftyone-dsco-main/"):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel in _repo_files():
            zf.write(os.path.join(ROOT, rel), prefix + rel)
    return path


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(plugins_dir):
    env = dict(os.environ)
    env["FIFTYONE_PLUGINS_DIR"] = str(plugins_dir)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["PYTHONNOUSERSITE"] = "1"
    return env


@pytest.fixture(scope="module")
def downloaded(tmp_path_factory):
    """The plugin installed by ``fiftyone plugins download http://127.0.0.1:<port>/repo.zip``."""
    serve_dir = tmp_path_factory.mktemp("serve")
    plugins_dir = tmp_path_factory.mktemp("plugins")
    archive = _build_archive(str(serve_dir / "fiftyone-dsco.zip"))
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port),
         "--directory", str(serve_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/fiftyone-dsco.zip"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    assert r.status == 200
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("http.server did not start serving the archive")
                time.sleep(0.2)
        proc = subprocess.run([FIFTYONE_CLI, "plugins", "download", url],
                              env=_env(plugins_dir), cwd=str(plugins_dir),
                              capture_output=True, text=True, timeout=300)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"plugins_dir": str(plugins_dir), "archive": archive, "log": proc.stdout + proc.stderr}


def _run_python(code, plugins_dir, cwd):
    proc = subprocess.run([sys.executable, "-c", code], env=_env(plugins_dir), cwd=str(cwd),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_archive_holds_one_manifest_and_the_library(downloaded):
    with zipfile.ZipFile(downloaded["archive"]) as zf:
        names = zf.namelist()
    manifests = [n for n in names if os.path.basename(n) in ("fiftyone.yml", "fiftyone.yaml")]
    # a stray manifest (e.g. a test fixture) would be installed as a second plugin
    assert manifests == ["fiftyone-dsco-main/fiftyone.yml"]
    assert "fiftyone-dsco-main/fiftyone_dsco/__init__.py" in names
    assert not any("node_modules/" in n or n.endswith((".pyc", ".pt", ".safetensors"))
                   for n in names)


def test_download_copies_the_whole_plugin(downloaded):
    plugins_dir = downloaded["plugins_dir"]
    assert "Copying plugin '@dsco/fiftyone-dsco'" in downloaded["log"], downloaded["log"]
    manifests = [os.path.join(d, "fiftyone.yml") for d, _, files in os.walk(plugins_dir)
                 if "fiftyone.yml" in files]
    assert len(manifests) == 1, manifests  # one plugin, at <plugins dir>/@dsco/fiftyone-dsco
    dest = os.path.dirname(manifests[0])
    assert dest == os.path.join(plugins_dir, "@dsco", "fiftyone-dsco")
    for rel in ("fiftyone.yml", "plugin/__init__.py", "operators/__init__.py",
                "fiftyone_dsco/__init__.py", "pyproject.toml"):
        assert os.path.isfile(os.path.join(dest, rel)), rel
    out = subprocess.run([FIFTYONE_CLI, "plugins", "list"], env=_env(plugins_dir),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and PLUGIN in out.stdout, out.stdout + out.stderr


# Lists the plugin's operators with FiftyOne's registry, then runs two light
# operators from the downloaded copy on a tiny dataset; prints JSON.
_CHECK = r"""
import json, sys
HIDE = {hide}
if HIDE:  # forget the pip (editable) install: the plugin must use its own copy
    sys.meta_path[:] = [f for f in sys.meta_path
                        if "editable" not in (getattr(f, "__module__", "") or "")]
    for k in [k for k in sys.modules if k.split(".")[0] == "fiftyone_dsco"]:
        del sys.modules[k]
import fiftyone as fo
import fiftyone.operators as foo
import fiftyone.plugins as fop

plugins = {{p.name: p.directory for p in fop.list_plugins()}}
uris = sorted(op.uri for op in foo.OperatorRegistry().list_operators()
              if op.uri.startswith("{plugin}/"))
res = foo.execute_operator("{plugin}/load_builtin_dataset", ctx=dict(params=dict(
    name="digits", train_per_class=2, test_per_class=1, overwrite=True)))
res.raise_exceptions()
loaded = res.result
ds = fo.load_dataset(loaded["dataset"])
runs = foo.execute_operator("{plugin}/manage_runs", ctx=dict(view=ds.view(),
                            params=dict(action="list")))
runs.raise_exceptions()
import fiftyone_dsco
print(json.dumps(dict(plugins=plugins, uris=uris, loaded=loaded,
                      tags=ds.count_sample_tags(), runs=runs.result,
                      operators_file=sys.modules["fiftyone_dsco_plugin_operators"].__file__,
                      library_file=fiftyone_dsco.__file__)))
ds.delete()
"""


def _declared():
    with open(os.path.join(ROOT, "fiftyone.yml")) as f:
        return yaml.safe_load(f)["operators"]


@pytest.mark.parametrize("hide_pip_install", [False, True], ids=["pip-installed", "plugin-copy"])
def test_fiftyone_lists_and_runs_the_downloaded_operators(downloaded, hide_pip_install, tmp_path):
    plugins_dir = downloaded["plugins_dir"]
    code = _CHECK.format(hide=hide_pip_install, plugin=PLUGIN, tag=int(hide_pip_install))
    out = _run_python(code, plugins_dir, cwd=tmp_path)  # cwd outside the checkout
    assert out["plugins"][PLUGIN] == os.path.join(plugins_dir, "@dsco", "fiftyone-dsco")
    assert out["uris"] == sorted(f"{PLUGIN}/{name}" for name in _declared())
    assert out["operators_file"].startswith(plugins_dir + os.sep)
    # 10 classes: 2 train + 1 test image each
    assert out["loaded"]["num_samples"] == 30
    assert out["tags"] == {"train": 20, "test": 10}
    assert out["runs"] == {"runs": []}
    if hide_pip_install:
        assert out["library_file"].startswith(plugins_dir + os.sep)
    else:
        assert out["library_file"].startswith(os.path.join(ROOT, "fiftyone_dsco"))
