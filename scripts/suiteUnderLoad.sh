#!/usr/bin/env bash
# The whole suite RUNS times in a row (default 3) while two CPU-bound processes spin beside it, as on a
# busy CI machine: a calm suite stays green. Each run's log is kept in $TMPDIR/suite-under-load-<n>.log.
set -uo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-3}"
spin() { node -e 'for (;;) {}' & }
spin; first=$!
spin; second=$!
trap 'kill "$first" "$second" 2>/dev/null' EXIT

failed=0
printf '| run | result | tests | seconds | load (1, 5, 15 min) at the end |\n| --- | --- | --- | --- | --- |\n'
for run in $(seq 1 "$runs"); do
  log="${TMPDIR:-/tmp}/suite-under-load-$run.log"
  start=$(date +%s)
  if npx vitest run >"$log" 2>&1; then result=passed; else result=FAILED; failed=1; fi
  tests=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^ +Tests ' | sed -E 's/^ +Tests +//')
  printf '| %s | %s | %s | %s | %s |\n' "$run" "$result" "$tests" "$(($(date +%s) - start))" "$(cut -d' ' -f1-3 /proc/loadavg)"
done
exit "$failed"
