#!/usr/bin/env bash
# Stops the services the integration fixture started; the servers stay for the next run
# (deploy/test.sh stops them when it started them).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
: "${MC_BUILD_DIR:?}"
if [[ -f $MC_BUILD_DIR/itest/env ]]; then
  # shellcheck disable=SC1091
  source "$MC_BUILD_DIR/itest/env"
  "$ROOT/deploy/network.sh" stop
fi
