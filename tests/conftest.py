"""Test isolation: a private FiftyOne database, media folder, DsCo home and plugins dir.

The environment is set before FiftyOne is imported, so every test session
starts its own MongoDB (FiftyOne's bundled one) in a temporary directory.
"""

import atexit
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_TMP = tempfile.mkdtemp(prefix="dsco-tests-")


def _start_private_mongod(dbpath):
    """Start FiftyOne's bundled mongod on a free port; return (process, uri).

    FiftyOne's own database service attaches to *any* running FiftyOne
    database process whatever its FIFTYONE_DATABASE_DIR, so tests that start
    it beside another FiftyOne process would share that process's database.
    A private mongod reached through FIFTYONE_DATABASE_URI cannot mix.
    """
    pkg = importlib.util.find_spec("fiftyone").submodule_search_locations[0]
    mongod = os.path.join(pkg, "db", "bin", "mongod")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.makedirs(dbpath)
    proc = subprocess.Popen(
        [mongod, "--dbpath", dbpath, "--port", str(port), "--bind_ip", "127.0.0.1",
         "--logpath", os.path.join(dbpath, "mongod.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"mongodb://127.0.0.1:{port}"
        if proc.poll() is not None:
            raise RuntimeError(f"mongod exited; see {dbpath}/mongod.log")
        time.sleep(0.1)
    raise RuntimeError("mongod did not start listening within 30 s")


def _stop_private_mongod():
    _MONGOD.terminate()
    try:
        _MONGOD.wait(timeout=30)
    except subprocess.TimeoutExpired:
        _MONGOD.kill()
    shutil.rmtree(_TMP, ignore_errors=True)


_MONGOD, _URI = _start_private_mongod(os.path.join(_TMP, "db"))
# atexit runs last-registered first: FiftyOne's own exit cleanup (registered
# when it connects, later) still finds the database running.
atexit.register(_stop_private_mongod)
os.environ["FIFTYONE_DATABASE_URI"] = _URI
os.environ.pop("FIFTYONE_PRIVATE_DATABASE_PORT", None)
os.environ["FIFTYONE_DEFAULT_DATASET_DIR"] = os.path.join(_TMP, "media")
os.environ["FIFTYONE_PLUGINS_DIR"] = os.path.join(_TMP, "plugins")
os.environ["DSCO_HOME"] = os.path.join(_TMP, "dsco-home")
os.environ["FIFTYONE_DATABASE_VALIDATION"] = "false"
os.environ["FIFTYONE_DO_NOT_TRACK"] = "true"
os.environ["FIFTYONE_SHOW_PROGRESS_BARS"] = "false"
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # tests run on the CPU

import pytest  # noqa: E402

import fiftyone as fo  # noqa: E402

import torch  # noqa: E402

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", min(2, os.cpu_count() or 1))))


@pytest.fixture(scope="session")
def tmp_root():
    return _TMP


@pytest.fixture(scope="session")
def digits():
    """The built-in digits dataset (loaded once per session; do not modify it)."""
    from fiftyone_dsco.data.builtin import load_builtin

    return load_builtin("digits")


@pytest.fixture(scope="session")
def prior_dir(digits, tmp_path_factory):
    """A tiny prior fitted on digits (30 steps): for tests of runs, not of sample quality."""
    from fiftyone_dsco.priors import fit_prior

    out = str(tmp_path_factory.mktemp("prior") / "p")
    fit_prior(digits, "ground_truth", output_dir=out, steps=30, batch_size=16,
              block_out_channels=(8, 16, 16), recognisability=False, device="cpu")
    return out


@pytest.fixture
def digits_copy(digits):
    """A private, writable clone of digits (media files shared, read-only)."""
    ds = digits.clone()
    yield ds
    if fo.dataset_exists(ds.name):
        ds.delete()


@pytest.fixture(scope="session")
def installed_plugin():
    """The repo's plugin files copied into FiftyOne's plugins dir, as a download would."""
    dest = os.path.join(os.environ["FIFTYONE_PLUGINS_DIR"], "fiftyone-dsco")
    if not os.path.isdir(dest):
        files = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=_ROOT, capture_output=True, text=True, check=True,
        ).stdout.split()
        for rel in files:
            if rel.startswith(("fiftyone_dsco/", "operators/", "plugin/")) or rel == "fiftyone.yml":
                os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
                shutil.copy2(os.path.join(_ROOT, rel), os.path.join(dest, rel))
    return dest
