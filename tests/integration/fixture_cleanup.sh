#!/usr/bin/env bash
# Stops the services the integration fixture started; the servers stay for the next run
# (deploy/test.sh stops them when it started them).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
: "${MC_BUILD_DIR:?}"
env="$MC_BUILD_DIR/${MC_FIXTURE:-itest}/env"
if [[ -f $env ]]; then
  # shellcheck disable=SC1090
  source "$env"
  "$ROOT/deploy/network.sh" stop
fi
