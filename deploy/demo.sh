#!/usr/bin/env bash
#
# deploy/demo.sh - the demo network on one machine: installs what is missing, builds,
# starts Kafka and PostgreSQL (deploy/infra.sh), creates a fresh demo database with the
# sample network (four provinces, their hospitals, catalogs, policies and insured
# persons), starts the treating, insuring and clearing services, submits the sample
# claims of README.md and prints their replies, then a day of claims from the sample
# hospitals, then closes the clearing window and prints its statement, what each party
# receives, pays and nets, the prepayment usage and the centre's ledger balances.
#
# Usage: deploy/demo.sh [NUMBER_OF_DAY_CLAIMS]   (default 200)
# The servers stay up afterwards for exploring; deploy/infra.sh stop ends them.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
DAY_CLAIMS=${1:-200}
[[ $DAY_CLAIMS =~ ^[0-9]+$ ]] || { echo "demo: the number of claims must be a number" >&2; exit 2; }

step() { printf '\n== %s\n' "$*"; }

step "installing what is missing and building"
deploy/infra.sh install
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
echo "built build/services/{treating,insuring,clearing}/medclear-* and build/services/tool/medclear"

step "starting Kafka and PostgreSQL"
deploy/infra.sh start
eval "$(deploy/infra.sh env)"

step "creating the demo database"
export MEDCLEAR_DB_CONNINFO="${MC_DB_CONNINFO/dbname=medclear/dbname=medclear_demo}"
export MEDCLEAR_KAFKA_BOOTSTRAP_SERVERS="$MC_KAFKA_BROKERS"
export MEDCLEAR_TOPIC_PREFIX="demo$(date +%s)" # fresh topics: nothing from an earlier run
export MC_RUN_DIR="$MC_STATE_DIR/demo"
# A broker started with access control (MC_KAFKA_AUTH=scram) needs the ACLs of this prefix.
if [[ ${MC_KAFKA_AUTH:-none} == scram ]]; then deploy/infra.sh acl "$MEDCLEAR_TOPIC_PREFIX"; fi
deploy/network.sh stop >/dev/null
psql "$MC_DB_CONNINFO" -XAtq -v ON_ERROR_STOP=1 \
  -c "DROP DATABASE IF EXISTS medclear_demo WITH (FORCE)" -c "CREATE DATABASE medclear_demo"
medclear() { build/services/tool/medclear -c deploy/config/medclear.conf "$@"; }
medclear db migrate
medclear data load deploy/sample

step "starting the treating, insuring and clearing services"
deploy/network.sh start

step "placing the year's prepayments (5000.00 yuan per pair)"
for ins in 310000 320000 330000 340000; do
  for trt in 310000 320000 330000 340000; do
    [[ $ins == "$trt" ]] && continue
    medclear prepay record --insuring "$ins" --treating "$trt" --kind PLACEMENT \
      --amount 500000 --reference "Q2026-$ins-$trt" >/dev/null
  done
done
echo "12 quotas recorded"

step "the sample claims of README.md"
medclear submit --wait deploy/sample/claims/*.claim

step "a day of claims from the sample hospitals ($DAY_CLAIMS)"
day=$(mktemp)
trap 'rm -f "$day"' EXIT
# Persons with a long-term registration, each visiting hospitals of the region they live in.
psql "$MEDCLEAR_DB_CONNINFO" -XAtq -F ' ' -c \
  "SELECT r.person_id, p.region, r.treating_region FROM insuring.registrations r
   JOIN insuring.persons p USING (person_id) WHERE r.reg_type = 'LONG_TERM' ORDER BY 1" >"$day.persons"
awk -v n="$DAY_CLAIMS" -v day="$(date +%Y-%m-%d)" '
  { person[NR] = $1; insuring[NR] = $2; treating[NR] = $3 }
  END {
    srand(20261123)
    split("001201000010000 002101000010000 003105030010000 XJ01CAA040A001010100001 XC10AAA050A001010100002 ZA01AAA0001010100000004 XA10BAB010A001010100005", code, " ")
    split("2500 30000 5000 2345 401 5000 120", price, " ")
    for (i = 1; i <= n; i++) {
      k = int(rand() * NR) + 1
      inpatient = rand() < 0.2
      printf "treating_region = %s\nhospital = H%s%05d\nperson = %s\ninsuring_region = %s\n", treating[k], treating[k], int(rand() * 3) + 1, person[k], insuring[k]
      printf "visit_type = %s\nvisit_date = %s\n", inpatient ? "INPATIENT" : "OUTPATIENT", day
      lines = inpatient ? 8 + int(rand() * 12) : 2 + int(rand() * 6)
      for (l = 1; l <= lines; l++) {
        c = int(rand() * 7) + 1
        q = (c == 3 && !inpatient) ? 1000 : 1000 * (int(rand() * 5) + 1)
        printf "line = %d, %s, item %d, %d, %d\n", l, code[c], c, q, price[c]
      }
      print "---"
    }
  }' "$day.persons" >"$day"
rm -f "$day.persons"
medclear submit --wait --json --timeout-ms 120000 "$day" >"$day.replies"
accepted=$(grep -c '"status":"ACCEPTED"' "$day.replies" || true)
echo "$DAY_CLAIMS requests, $accepted settled, $((DAY_CLAIMS - accepted)) rejected"
rm -f "$day.replies"

step "closing the clearing window and issuing its statement"
medclear window close >/dev/null
window=$(psql "$MEDCLEAR_DB_CONNINFO" -XAtq -c "SELECT window_id FROM clearing.windows WHERE status = 'CLOSED' ORDER BY period_start DESC LIMIT 1")
medclear window issue "$window" >/dev/null
medclear window list
echo
psql "$MEDCLEAR_DB_CONNINFO" -XAtq -c "SELECT clearing.statement_text('$window')"
echo "sha256 $(psql "$MEDCLEAR_DB_CONNINFO" -XAtq -c "SELECT statement_sha256 FROM clearing.windows WHERE window_id = '$window'")"

step "receivable, payable and net of each party in $window (fen)"
medclear ledger statement "$window"

step "prepayment quotas and usage (fen; usage in basis points)"
medclear prepay show

step "the clearing centre's ledger: trial balance (fen)"
medclear ledger balance

step "the treating regions' ledger for the claims of $window (fen)"
medclear ledger statement "$window" --ledger treating

step "the month-end report of $window"
medclear report window "$window" --html "$MC_RUN_DIR/report-$window.html"
medclear report window "$window"
echo "HTML page: $MC_RUN_DIR/report-$window.html"

step "done"
cat <<MSG
The network is still running (logs in $MC_RUN_DIR). Try:
  export MEDCLEAR_DB_CONNINFO='$MEDCLEAR_DB_CONNINFO' MEDCLEAR_TOPIC_PREFIX=$MEDCLEAR_TOPIC_PREFIX
  build/services/tool/medclear -c deploy/config/medclear.conf submit --wait deploy/sample/claims/3-emergency-outpatient.claim
  build/services/tool/medclear -c deploy/config/medclear.conf dlq list
Stop it with: MC_RUN_DIR=$MC_RUN_DIR deploy/network.sh stop && deploy/infra.sh stop
MSG
