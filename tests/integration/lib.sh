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

# outpatient_claim FILE HOSPITAL INSURING PERSON LINE [FIELD]: a claim file of an
# outpatient visit in region 310000 on 2026-11-21 with one fee line; FIELD is one more
# "key = value" line (a request_id, say).
outpatient_claim() {
  {
    [[ -n ${6:-} ]] && echo "$6"
    cat <<CLAIM
treating_region = 310000
hospital = $2
person = $4
insuring_region = $3
visit_type = OUTPATIENT
visit_date = 2026-11-21
line = $5
CLAIM
  } >"$1"
}

# encode: an envelope in protobuf text format (stdin) as signed bytes (stdout), signed as
# its source region, for messages built by hand.
encode() { protoc --encode=medclear.Envelope -I "$ROOT/proto" "$ROOT/proto/medclear.proto" | mc envelope sign; }

# rejection FILE MESSAGE_ID CLAIM_ID: a result built by hand, insuring region 330000
# rejecting claim CLAIM_ID of treating region 310000 (NO_POLICY), signed, into FILE.
rejection() {
  echo "message_id: \"$2\" created_at_ms: $(date +%s%3N) schema_version: 1 source_region: \"330000\"
    result { claim_id: \"$3\" request_id: \"$3\" kind: SETTLE treating_region: \"310000\"
    insuring_region: \"330000\" status: REJECTED reason_code: \"NO_POLICY\"
    reason_text: \"hand-built\" }" | encode >"$1"
}

# wait_for SQL VALUE [SECONDS]: waits until SQL gives VALUE, for SECONDS (default 10) and
# at most a second more (the caller checks).
wait_for() {
  local end=$((SECONDS + ${3:-10}))
  while ((SECONDS <= end)); do
    [[ $(sql "$1") == "$2" ]] && return 0
    sleep 0.05
  done
}

# json_field JSON KEY: the value of a top-level scalar field of one JSON line.
# metrics_port ROLE: where ROLE serves /metrics. deploy/network.sh records the base port
# it gave the services (clearing, insuring, treating from there); without one, ROLE.conf's.
metrics_port() {
  local roles=(clearing insuring treating) i
  if [[ -f $MC_RUN_DIR/metrics.base ]]; then
    for i in 0 1 2; do
      [[ ${roles[$i]} == "$1" ]] && echo $(($(cat "$MC_RUN_DIR/metrics.base") + i))
    done
    return 0
  fi
  sed -n 's/^metrics\.port *= *//p' "$ROOT/deploy/config/$1.conf"
}
# batches ROLE OUTCOME: ROLE's medclear_batches_total for OUTCOME (fast, split or lost)
# since it started; 0 when none, "unreachable" when ROLE does not answer
batches() {
  local body
  body=$(curl -fsS --max-time 10 "http://127.0.0.1:$(metrics_port "$1")/metrics") || {
    echo unreachable
    return 0
  }
  awk -v o="outcome=\"$2\"" '/^medclear_batches_total[{]/ && index($0, o) {s += $NF}
    END {printf "%d\n", s}' <<<"$body"
}
json_field() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"; }

# reply_of FILE REQUEST_ID: the JSON line of that request's reply.
reply_of() { grep -F "\"request_id\":\"$2\"" "$1" | head -1; }

# long_term_persons FILE: "person insuring_region treating_region" of every long-term
# registration (but one person the tests keep for other cases), one a line.
long_term_persons() {
  psql "$MEDCLEAR_DB_CONNINFO" -XAtq -F ' ' -c "SELECT r.person_id, p.region, r.treating_region
    FROM insuring.registrations r JOIN insuring.persons p USING (person_id)
    WHERE r.reg_type = 'LONG_TERM' AND r.person_id NOT IN ('P320000000008') ORDER BY 1, 3" >"$1"
}

# inpatient_claims N SEED PERSONS FILE: N inpatient claims (medclear submit format) over
# the registrations of PERSONS in turn, with amounts drawn from SEED.
inpatient_claims() {
  awk -v n="$1" -v seed="$2" '
    { person[NR] = $1; insuring[NR] = $2; treating[NR] = $3 }
    END {
      srand(seed)
      for (i = 0; i < n; i++) {
        k = i % NR + 1
        printf "treating_region = %s\nhospital = H%s%05d\nperson = %s\ninsuring_region = %s\n", treating[k], treating[k], i % 3 + 1, person[k], insuring[k]
        printf "visit_type = INPATIENT\nvisit_date = 2026-11-10\n"
        printf "line = 1, 003105030010000, Ward bed per day, %d, 4000\n", 1000 * (1 + int(rand() * 5))
        printf "line = 2, 002101000010000, CT scan single site, 1000, %d\n---\n", 20000 + int(rand() * 20000)
      }
    }' "$3" >"$4"
}

# ids_on_one_partition TOPIC STEM N: N request ids STEM0000, STEM0001, ... that all fall
# on the partition of TOPIC where the first does (by CRC-32, librdkafka's partitioner), so
# that messages keyed by them wait there in the order sent.
ids_on_one_partition() {
  local parts
  parts=$(kcat -L -b "$MC_KAFKA_BROKERS" -t "$1" 2>/dev/null | grep -c 'partition [0-9]*, leader')
  python3 - "$parts" "$2" "$3" <<'PY'
import sys, zlib
parts, stem, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
part = lambda s: zlib.crc32(s.encode()) % parts
ids = [stem + "%04d" % k for k in range(10000)]
print(" ".join([i for i in ids if part(i) == part(ids[0])][:n]))
PY
}

# outpatient_request REQUEST_ID FILE [FIELD...]: a request of region 330000 (medclear
# submit format) for a CT scan of 120 yuan, with FIELDs added (kind, original ids).
outpatient_request() {
  local id=$1 file=$2
  shift 2
  printf '%s\n' "request_id = $id" "treating_region = 330000" "hospital = H33000000001" \
    "person = P340000000003" "insuring_region = 340000" "visit_type = OUTPATIENT" \
    "visit_date = 2026-11-20" "line = 1, 002101000010000, CT scan single site, 1000, 12000" \
    "$@" >"$file"
}

# ledger_posted SCHEMA ACCOUNT_PREFIX: SQL of what SCHEMA's ledger posted for each claim
# to its accounts named ACCOUNT_PREFIX:..., as (claim_id, fen), debits less credits. The
# three sides of a claim's fund amount are clearing receivable, treating due_from and
# insuring fund_expense (`medclear verify` compares them over a whole database).
ledger_posted() {
  echo "SELECT j.claim_id, sum(p.debit_fen - p.credit_fen) AS fen FROM $1.journal j
          JOIN $1.postings p USING (entry_id) WHERE p.account LIKE '$2:%' GROUP BY 1"
}

# second_instance ROLE LOG [OPTION...]: starts one more instance of ROLE's service in the
# fixture's consumer group (so that the two share the role's partitions), logging to LOG,
# with -o OPTIONs; sets $second to its pid and checks that it runs. The test's EXIT trap
# calls stop_second.
second_instance() {
  local role=$1 log=$2 opt args=()
  shift 2
  for opt in "$@"; do args+=(-o "$opt"); done
  "$MC_BUILD_DIR/services/$role/medclear-$role" -c "$ROOT/deploy/config/$role.conf" "${args[@]}" \
    >"$log" 2>&1 </dev/null &
  second=$!
  for _ in $(seq 300); do grep -q 'msg="running"' "$log" && break; sleep 0.1; done
  check "second $role instance running" 1 "$(grep -c 'msg="running"' "$log")"
}
stop_second() { if [[ -n ${second:-} ]]; then kill "$second" 2>/dev/null || true; fi; }

finish() {
  echo "$((CHECKS - FAILS)) passed, $FAILS failed"
  [[ $FAILS -eq 0 && $CHECKS -gt 0 ]]
}
