#!/usr/bin/env bash
#
# deploy/test.sh - the whole test suite from a fresh machine: installs what is missing,
# builds, runs each fuzz target for a bounded run (build-fuzz, clang and libFuzzer), the
# unit and integration tests under AddressSanitizer and UBSan (build-asan: the services
# the fixture starts are the sanitized ones), then the unit, integration, end-to-end and
# fault tests of the normal build against the real Kafka and PostgreSQL that
# deploy/infra.sh starts. Servers this script started are stopped again at the end.
#
# Usage: deploy/test.sh [ctest arguments...]     e.g. deploy/test.sh -L unit
# (the arguments select the tests of the normal build; the fuzz and sanitizer stages
# always run)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
# The tests run the services with the configuration they set themselves: overrides the
# calling shell may carry (MEDCLEAR_<KEY>, from a benchmark or a deployment's profile)
# would change what they check, so none is passed on.
unset "${!MEDCLEAR_@}"

deploy/infra.sh install
started_here=0
if ! deploy/infra.sh status >/dev/null 2>&1; then started_here=1; fi
cleanup() {
  if [[ $started_here -eq 1 ]]; then deploy/infra.sh stop || true; fi
}
trap cleanup EXIT

jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMC_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMC_FUZZ=ON >/dev/null
cmake --build build-fuzz -j "$jobs" --target fuzz

echo "== fuzz targets, a bounded run each (tests/fuzz)"
ctest --test-dir build-fuzz --output-on-failure -j "$jobs" -L fuzz
echo "== unit and integration tests under AddressSanitizer and UndefinedBehaviorSanitizer"
ctest --test-dir build-asan --output-on-failure -L 'unit|integration'
echo "== unit and integration tests"
if [[ $# -eq 0 ]]; then set -- -L 'unit|integration|e2e|fault'; fi
ctest --test-dir build --output-on-failure "$@"
