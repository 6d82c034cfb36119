#!/usr/bin/env bash
# Every table of docs/benchmarks.md, one command each, then the report.
#   bash benchmarks/run_all.sh           # the full suite (about 2 h on 2 CPU cores)
#   bash benchmarks/run_all.sh --quick   # checks that nothing broke (< 15 min once priors are cached)
# Priors, reference classifiers and features are cached under $DSCO_HOME, so a
# second run skips their training. Logs go to benchmarks/logs/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
Q=${1:-}
mkdir -p benchmarks/logs
run() { echo "== $*"; "$PY" "$@" 2>&1 | tee "benchmarks/logs/$(basename "$1" .py)${Q:+-quick}.log" | tail -25; }

run benchmarks/eval_throughput.py --threads "$(nproc)"
run benchmarks/nopt_cost.py --dataset digits
run benchmarks/selection_scale.py $Q
run benchmarks/low_volume.py --dataset digits --ipc 1 10 50 $Q
run benchmarks/high_volume.py --dataset digits $Q
run benchmarks/low_volume.py --dataset fashion-mnist --ipc 10 $Q
"$PY" benchmarks/report.py
