#!/usr/bin/env bash
# Stops the services the integration fixture started; the servers stay for the next run
# (deploy/test.sh stops them when it started them). Fails when a service was no longer
# running, or when a log of this run holds a sanitizer report (a build with
# -DMC_SANITIZE=ON: AddressSanitizer, LeakSanitizer at exit, UndefinedBehaviorSanitizer).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
: "${MC_BUILD_DIR:?}"
env="$MC_BUILD_DIR/${MC_FIXTURE:-itest}/env"
[[ -f $env ]] || exit 0
# shellcheck disable=SC1090
source "$env"
rc=0
if ! "$ROOT/deploy/network.sh" status; then
  echo "FAIL: a service was no longer running at the end of the tests"
  rc=1
fi
"$ROOT/deploy/network.sh" stop
shopt -s nullglob
for log in "$MC_RUN_DIR"/*.log "$MC_RUN_DIR"/*.log.prev; do
  if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log"; then
    echo "FAIL: sanitizer report in $log:"
    grep -m1 -A40 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log" | sed 's/^/  | /'
    rc=1
  fi
done
exit $rc
