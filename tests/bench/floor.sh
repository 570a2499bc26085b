#!/usr/bin/env bash
#
# tests/bench/floor.sh - the PostgreSQL floor of a request (a figure, never pass/fail): the
# CPU PostgreSQL spends per request on only the rows DESIGN.md asks of the three parties
# (tests/bench/floor.sql), written as well as they can be: 1,000 requests a transaction,
# made by the server itself from generate_series (no parameters to parse), with fsync and
# synchronous_commit on. Three pgbench clients at once, one a party, each commit
# MC_FLOOR_BATCHES (default 300) of its party's batches on a scratch database,
# medclear_floor.
#
# Per request the parties write 23 rows, each with its primary key: treating 2 inbox,
# 2 outbox, its record of the request, its fee lines, an entry and 2 postings; insuring
# 1 inbox, 1 outbox, its settlement, an entry and 2 postings; the centre 2 inbox,
# 2 outbox, its claim, an entry and 2 postings. The services write these and more
# (secondary indexes, a request and a claim apart, accumulators, the updates of claims
# and usage, reads, checks): the figure bounds from below what the design costs
# PostgreSQL on this machine. Compare it with PostgreSQL's CPU a request in run.sh's table.
#
# Needs the local servers (deploy/infra.sh start) and pgbench.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
cd "$ROOT"
BATCHES=${MC_FLOOR_BATCHES:-300}
BATCH=1000
[[ $BATCHES =~ ^[1-9][0-9]*$ ]] || { echo "floor: MC_FLOOR_BATCHES must be a positive number" >&2; exit 2; }
command -v pgbench >/dev/null || { echo "floor: pgbench not found (package postgresql-client)" >&2; exit 2; }
eval "$(deploy/infra.sh env)"
conninfo="${MC_DB_CONNINFO/dbname=medclear/dbname=medclear_floor}"
psql "$MC_DB_CONNINFO" -XAtq -c "SET client_min_messages = warning" \
  -c "DROP DATABASE IF EXISTS medclear_floor WITH (FORCE)" -c "CREATE DATABASE medclear_floor"
psql "$conninfo" -XAtq -v ON_ERROR_STOP=1 -f tests/bench/floor.sql

work="$(mktemp -d)"
trap 'rm -rf "$work"; psql "$MC_DB_CONNINFO" -XAtq -c "DROP DATABASE IF EXISTS medclear_floor WITH (FORCE)"' EXIT

# party, inbox rows a request, outbox rows a request, its own rows: one pgbench script.
# A batch's inbox and outbox rows take their bodies from floor.bodies, BATCH rows.
party_script() {
  cat <<EOF
\\set n $BATCH
BEGIN;
SELECT nextval('floor.request_seq') * :n AS base \\gset
INSERT INTO floor.$1_inbox SELECT md5(random()::text) || k, sha256(b.message), 'mc.topic', b.g % 4, b.g
  FROM floor.bodies b, generate_series(1, $2) k;
$4
WITH e AS (INSERT INTO floor.$1_journal (ref) SELECT 'R' || (:base + g) FROM generate_series(1, :n) g
           RETURNING entry_id)
INSERT INTO floor.$1_postings (entry_id, account, amount_fen)
  SELECT entry_id, a, 100 FROM e, (VALUES ('fund'), ('receivable')) v(a);
INSERT INTO floor.$1_outbox (cause_id, topic, msg_key, payload)
  SELECT 'R' || (:base + b.g), 'mc.topic', 'R' || b.g, b.message FROM floor.bodies b, generate_series(1, $3) k;
COMMIT;
EOF
}
state() { # table: the party's record of each request of the batch
  echo "INSERT INTO floor.$1 SELECT 'R' || (:base + g), 'P', 'B' || g, g, g, g, g, g, md5(g::text) FROM generate_series(1, :n) g;"
}
party_script t 2 2 "$(state t_state)
INSERT INTO floor.t_lines SELECT 'R' || (:base + g), lines FROM floor.bodies;" >"$work/t.sql"
party_script i 1 1 "$(state i_state)" >"$work/i.sql"
party_script c 2 2 "$(state c_state)" >"$work/c.sql"

# PostgreSQL's CPU is counted as tests/bench/run.sh counts it
source tests/bench/cpu.sh
postmaster=$(pg_postmaster "$conninfo")
# all cores' busy and idle ticks (iowait counts as idle)
cpu_total() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat; }

# Three pgbench processes of one client each, one a party, each commit BATCHES batches:
# every request gets all its parties' rows, and the CPU is that of exactly the requests.
t0=$(pg_ticks "$postmaster")
read -r busy0 idle0 < <(cpu_total)
start_ns=$(date +%s%N)
pids=()
for p in t i c; do
  pgbench "$conninfo" -n -c 1 -t "$BATCHES" -f "$work/$p.sql" >"$work/$p.txt" 2>&1 &
  pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
elapsed_ms=$((($(date +%s%N) - start_ns) / 1000000))
read -r busy1 idle1 < <(cpu_total)
if ((failed)); then
  cat "$work"/[tic].txt >&2
  echo "floor: pgbench failed" >&2
  exit 1
fi
# The clients' backends count once they have exited and the postmaster has reaped them
# (read earlier, a backend still exiting is in neither figure).
for _ in $(seq 50); do
  [[ $(psql "$MC_DB_CONNINFO" -XAtq -c "SELECT count(*) FROM pg_stat_activity WHERE datname = 'medclear_floor'") == 0 ]] && break
  sleep 0.1
done
sleep 0.5
t1=$(pg_ticks "$postmaster")

requests=$((BATCHES * BATCH))
hz=$(getconf CLK_TCK)
awk -v ticks=$((t1 - t0)) -v hz="$hz" -v req="$requests" -v s="$elapsed_ms" \
    -v busy=$((busy1 - busy0)) -v idle=$((idle1 - idle0)) -v cores="$(nproc)" 'BEGIN {
  ms = ticks * 1000 / hz / req
  printf "PostgreSQL floor: %d requests in %.1f s (%.0f/s), %.3f ms of PostgreSQL CPU a request,\n",
         req, s / 1000, req * 1000 / (s > 0 ? s : 1), ms
  most = ms > 0 ? sprintf("%.0f", cores * 1000 / ms) : "(too short a run to tell)"
  printf "cores busy %.0f%%; at that CPU alone %d cores could carry at most %s requests/s\n",
         100 * busy / (busy + idle > 0 ? busy + idle : 1), cores, most
}'
