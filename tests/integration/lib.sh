# Shared by the integration tests: the environment the fixture set up, and assertions.
# Sourced, not run. Every test runs against the real broker and database started by
# deploy/infra.sh, with its own topic prefix and database so runs never mix. A test that
# starts servers of its own sets MC_FIXTURE=none and gets the assertions only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
: "${MC_BUILD_DIR:?MC_BUILD_DIR must name the build directory}"
if [[ ${MC_FIXTURE:-itest} != none ]]; then
  ENV_FILE="$MC_BUILD_DIR/${MC_FIXTURE:-itest}/env"
  [[ -f $ENV_FILE ]] || { echo "FAIL: $ENV_FILE missing: the integration fixture did not run" >&2; exit 1; }
  # shellcheck disable=SC1090
  source "$ENV_FILE"
fi
MEDCLEAR="$MC_BUILD_DIR/services/tool/medclear"
FAILS=0
CHECKS=0

mc() { "$MEDCLEAR" -c "$ROOT/deploy/config/medclear.conf" "$@"; }
sql() { psql "$MEDCLEAR_DB_CONNINFO" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }

check() { # check NAME EXPECTED ACTUAL
  CHECKS=$((CHECKS + 1))
  if [[ "$2" == "$3" ]]; then
    echo "ok   $1"
  else
    echo "FAIL $1: expected '$2', got '$3'"
    FAILS=$((FAILS + 1))
  fi
}

# json_field JSON KEY: the value of a top-level scalar field of one JSON line.
json_field() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"; }

# reply_of FILE REQUEST_ID: the JSON line of that request's reply.
reply_of() { grep -F "\"request_id\":\"$2\"" "$1" | head -1; }

finish() {
  echo "$((CHECKS - FAILS)) passed, $FAILS failed"
  [[ $FAILS -eq 0 && $CHECKS -gt 0 ]]
}
