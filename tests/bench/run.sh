#!/usr/bin/env bash
#
# tests/bench/run.sh - medclear's benchmark (figures, never pass/fail). Starts the local
# network (deploy/infra.sh, a fresh database and topic prefix, the three services) and
# runs the standard scenarios with `medclear load`:
#
#   1. MC_BENCH_COUNT requests (default 1,000,000) as fast as the services take them;
#   2. fixed offered rates of 1,000/s and 3,000/s for MC_BENCH_RATE_SECONDS (default 60)
#      each, for latency, and 1,000/s once more after autovacuum has caught up with the
#      flood and a checkpoint was taken (rate1000quiet);
#   3. closing and issuing the clearing window that holds every claim of 1 and 2, topped
#      up to MC_BENCH_WINDOW_CLAIMS (default 1,000,000) with copies of them;
#   4. the ceiling: the raw produce and consume rate of messages of the same size through
#      the same broker with the same client library (kcat uses librdkafka);
#   5. the PostgreSQL floor: its CPU a request for only the rows the design asks, written
#      in batches of 1,000 (tests/bench/floor.sh; MC_BENCH_FLOOR_BATCHES, default 300),
#
# then prints one table with the durability settings in force (Kafka acks=all,
# PostgreSQL fsync and synchronous_commit) and the machine's core count, where a request's
# time went hop by hop at each fixed rate (tests/bench/hops.sql), how many batches each
# service ran and how many messages they held (tests/bench/batches.sql), the CPU a
# request cost in each process of each scenario, and medclear's throughput as a fraction
# of the ceiling. MC_BENCH_COUNT=20000 MC_BENCH_RATE_SECONDS=10
# gives a quick run. The requests come from MC_BENCH_PERSONS (default 100,000) insured
# persons added to the sample network (tests/bench/population.sql). The topics have
# MC_BENCH_PARTITIONS partitions (default 1).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
cd "$ROOT"
COUNT=${MC_BENCH_COUNT:-1000000}
RATE_SECONDS=${MC_BENCH_RATE_SECONDS:-60}
WINDOW_CLAIMS=${MC_BENCH_WINDOW_CLAIMS:-1000000}
PERSONS=${MC_BENCH_PERSONS:-100000}
PARTITIONS=${MC_BENCH_PARTITIONS:-1}
BUILD="${MC_BUILD_DIR:-$ROOT/build}"
[[ $COUNT =~ ^[0-9]+$ && $RATE_SECONDS =~ ^[0-9]+$ && $WINDOW_CLAIMS =~ ^[0-9]+$ && $PERSONS =~ ^[0-9]+$ && $PARTITIONS =~ ^[0-9]+$ ]] || { echo "bench: counts must be numbers" >&2; exit 2; }

deploy/infra.sh install >/dev/null
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j "$(nproc)" >/dev/null
deploy/infra.sh start >/dev/null
eval "$(deploy/infra.sh env)"

export MEDCLEAR_DB_CONNINFO="${MC_DB_CONNINFO/dbname=medclear/dbname=medclear_bench}"
export MEDCLEAR_KAFKA_BOOTSTRAP_SERVERS="$MC_KAFKA_BROKERS"
export MEDCLEAR_TOPIC_PREFIX="bench$(date +%s)"
export MEDCLEAR_TREATING_CLAIM_TIMEOUT_MS=600000 # a benchmark measures, it does not time out
export MEDCLEAR_METRICS_PORT=0
# One partition a topic, as a network of one instance a role would be deployed: each
# partition a batch writes to costs the broker a produce request (librdkafka sends one
# partition per request), and a partition more than there are instances buys nothing.
export MEDCLEAR_TOPIC_PARTITIONS=$PARTITIONS
export MC_RUN_DIR="$MC_STATE_DIR/bench"
export MC_BUILD_DIR="$BUILD"
medclear() { "$BUILD/services/tool/medclear" -c deploy/config/medclear.conf "$@"; }
psql "$MC_DB_CONNINFO" -XAtq -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS medclear_bench WITH (FORCE)" -c "CREATE DATABASE medclear_bench"
medclear db migrate >/dev/null
medclear data load deploy/sample >/dev/null
psql "$MEDCLEAR_DB_CONNINFO" -XAtq -v ON_ERROR_STOP=1 -v persons="$PERSONS" -f tests/bench/population.sql >/dev/null
deploy/network.sh start >/dev/null
trap 'deploy/network.sh stop >/dev/null' EXIT
out="$MC_RUN_DIR/results"
mkdir -p "$out"

# The time (ns) and the CPU every process of the network used so far (clock ticks), as
# "ns postgresql broker treating insuring clearing". PostgreSQL's is its postmaster's
# and live processes' own and what its exited processes (autovacuum workers among them)
# used. The load generator reports its own (cpu_s in its JSON).
source tests/bench/cpu.sh
postmaster=$(pg_postmaster "$MEDCLEAR_DB_CONNINFO")
cpu_now() {
  local role line
  line="$(date +%s%N) $(pg_ticks "$postmaster") $(ticks "$(cat "$MC_STATE_DIR/kafka/kafka.pid" 2>/dev/null)")"
  for role in treating insuring clearing; do
    line+=" $(ticks "$(cat "$MC_RUN_DIR/$role.pid" 2>/dev/null)")"
  done
  echo "$line"
}

db_now() { psql "$MEDCLEAR_DB_CONNINFO" -XAtq -c "SELECT now()"; }
# report NAME FILE FROM TO: the output of tests/bench/FILE.sql for the scenario that ran
# from FROM to TO (database clock) into $out/NAME.FILE, printed with the table
report() {
  psql "$MEDCLEAR_DB_CONNINFO" -Xq -P footer=off -v from="$3" -v to="$4" -f "tests/bench/$2.sql" \
    >"$out/$1.$2" || echo "(tests/bench/$2.sql could not be read for this scenario)" >"$out/$1.$2"
}

echo "bench: $COUNT requests as fast as possible"
from=$(db_now)
cpu_now >"$out/max.cpu"
medclear load --count "$COUNT" --timeout-ms 3600000 --json --quiet >"$out/max.json" || true
cpu_now >>"$out/max.cpu"
report max batches "$from" "$(db_now)"
# offer NAME RATE: RATE requests/s for RATE_SECONDS into $out/NAME.json, and the hops and
# the batches of those requests into $out/NAME.hops and $out/NAME.batches
offer() {
  echo "bench: $2/s offered for ${RATE_SECONDS} s ($1)"
  local from to
  from=$(db_now)
  cpu_now >"$out/$1.cpu"
  medclear load --count $(($2 * RATE_SECONDS)) --rate "$2" --timeout-ms 3600000 --json --quiet \
    >"$out/$1.json" || true
  cpu_now >>"$out/$1.cpu"
  to=$(db_now)
  report "$1" hops "$from" "$to"
  report "$1" batches "$from" "$to"
}
# The flood leaves the vacuum of a million requests' rows and a checkpoint to do, which
# take the same two cores as the requests offered after it. Waits until no autovacuum
# worker has run for 15 s (longer than autovacuum_naptime), at most 10 minutes, then
# checkpoints; prints how long it waited and whether autovacuum was still at work.
quiesce() {
  local t0=$SECONDS quiet_since=$SECONDS
  while ((SECONDS - quiet_since < 15 && SECONDS - t0 < 600)); do
    [[ $(psql "$MEDCLEAR_DB_CONNINFO" -XAtq -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'") == 0 ]] ||
      quiet_since=$SECONDS
    sleep 1
  done
  psql "$MEDCLEAR_DB_CONNINFO" -XAtq -c "CHECKPOINT"
  if ((SECONDS - quiet_since >= 15)); then
    echo "$((SECONDS - t0)) s later"
  else
    echo "$((SECONDS - t0)) s later, autovacuum still running"
  fi
}
offer rate1000 1000
offer rate3000 3000
echo "bench: waiting for autovacuum to finish, then a checkpoint"
quiet_s=$(quiesce)
offer rate1000quiet 1000

echo "bench: closing and issuing the window"
open_claims() { psql "$MEDCLEAR_DB_CONNINFO" -XAtq -c "SELECT count(*) FROM clearing.claims WHERE window_id = (SELECT window_id FROM clearing.windows WHERE status = 'OPEN')"; }
claims=$(open_claims)
# Carrying a million claims through the services would take most of an hour here, so the
# window is topped up to MC_BENCH_WINDOW_CLAIMS with copies (new ids) of the claims the
# services booked in it: the close and issue aggregate real rows. The copies have no
# journal entries, so `medclear verify` does not hold on this database afterwards.
copied=0
if ((claims > 0 && claims < WINDOW_CLAIMS)); then
  copied=$((WINDOW_CLAIMS - claims))
  echo "bench: adding $copied copies of the window's $claims claims"
  psql "$MEDCLEAR_DB_CONNINFO" -XAtq -v ON_ERROR_STOP=1 -c "
    WITH src AS (SELECT c, row_number() OVER (ORDER BY claim_id) - 1 AS i, count(*) OVER () AS k
                   FROM clearing.claims c
                  WHERE window_id = (SELECT window_id FROM clearing.windows WHERE status = 'OPEN'))
    INSERT INTO clearing.claims
    SELECT p.*
      FROM src s
     CROSS JOIN LATERAL generate_series(0, ($copied - 1 - s.i) / s.k) r
     CROSS JOIN LATERAL jsonb_populate_record(NULL::clearing.claims, to_jsonb(s.c)
            || jsonb_build_object('claim_id', 'BENCH' || r || '-' || (s.c).claim_id,
                                  'request_id', 'BENCH' || r || '-' || (s.c).request_id)) p
     WHERE s.i < $copied" -c "ANALYZE clearing.claims"
  claims=$(open_claims)
fi
t0=$(date +%s%N)
medclear window close >/dev/null
window=$(psql "$MEDCLEAR_DB_CONNINFO" -XAtq -c "SELECT window_id FROM clearing.windows WHERE status = 'CLOSED' ORDER BY period_start DESC LIMIT 1")
medclear window issue "$window" >/dev/null
close_ms=$((($(date +%s%N) - t0) / 1000000))

echo "bench: the ceiling (raw produce and consume through the same broker)"
size=$(psql "$MEDCLEAR_DB_CONNINFO" -XAtq -c "SELECT coalesce(avg(length(payload))::int, 1000) FROM treating.outbox WHERE topic LIKE '%.claims'")
n=$((COUNT < 200000 ? COUNT : 200000))
topic="$MEDCLEAR_TOPIC_PREFIX.ceiling"
python3 -c "import sys; sys.stdout.write(('x' * ($size - 1) + '\n') * $n)" >"$out/ceiling.txt"
t0=$(date +%s%N)
kcat -P -b "$MC_KAFKA_BROKERS" -t "$topic" -X acks=all -X enable.idempotence=true -X linger.ms=5 <"$out/ceiling.txt"
produce_ms=$((($(date +%s%N) - t0) / 1000000))
t0=$(date +%s%N)
kcat -C -b "$MC_KAFKA_BROKERS" -t "$topic" -o beginning -e -q -f '\n' | wc -l >/dev/null
consume_ms=$((($(date +%s%N) - t0) / 1000000))
rm -f "$out/ceiling.txt"

echo "bench: the PostgreSQL floor (tests/bench/floor.sh)"
MC_FLOOR_BATCHES=${MC_BENCH_FLOOR_BATCHES:-300} tests/bench/floor.sh >"$out/floor.txt" 2>&1 ||
  echo "(the floor was not measured: see $out/floor.txt)" >>"$out/floor.txt"

field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); v=d
for k in sys.argv[2].split("."): v=(v or {}).get(k)
print("-" if v is None else v)' "$1" "$2"; }
fsync=$(psql "$MEDCLEAR_DB_CONNINFO" -XAtq -c "SHOW fsync")
sync=$(psql "$MEDCLEAR_DB_CONNINFO" -XAtq -c "SHOW synchronous_commit")
# how the services reach PostgreSQL (deploy/infra.sh env: its Unix socket when it can)
via=$(psql "$MEDCLEAR_DB_CONNINFO" -XAtq -c "SELECT coalesce('TCP ' || host(inet_server_addr()), 'its Unix socket')")
produce_rate=$((n * 1000 / (produce_ms > 0 ? produce_ms : 1)))
consume_rate=$((n * 1000 / (consume_ms > 0 ? consume_ms : 1)))
max_rate=$(field "$out/max.json" throughput_per_s)
printf '\nmedclear benchmark: %s cores, Kafka acks=all (idempotent), PostgreSQL fsync=%s synchronous_commit=%s (reached by %s)\n' "$(nproc)" "$fsync" "$sync" "$via"
printf '%-44s %12s %10s %10s %10s %10s %10s\n' scenario "replies/s" p50_ms p90_ms p99_ms p999_ms max_ms
for s in max rate1000 rate3000 rate1000quiet; do
  f="$out/$s.json"
  printf '%-44s %12s %10s %10s %10s %10s %10s\n' "$s ($(field "$f" sent) sent, $(field "$f" answered) answered)" \
    "$(field "$f" throughput_per_s)" "$(field "$f" latency_ms.p50)" "$(field "$f" latency_ms.p90)" \
    "$(field "$f" latency_ms.p99)" "$(field "$f" latency_ms.p999)" "$(field "$f" latency_ms.max)"
done
printf 'rate1000quiet: 1,000/s again, once autovacuum had finished and a checkpoint was taken (%s)\n' "$quiet_s"
printf '\nCPU a request in ms, by process (CPU used from the start to the end of the scenario / requests sent),\nand how busy the %s cores were:\n' "$(nproc)"
printf '%-14s %10s %8s %9s %9s %9s %9s %7s %6s\n' scenario postgresql broker treating insuring clearing load_gen all busy
for s in max rate1000 rate3000 rate1000quiet; do
  awk -v s="$s" -v hz="$(getconf CLK_TCK)" -v cores="$(nproc)" -v sent="$(field "$out/$s.json" sent)" \
    -v lg="$(field "$out/$s.json" cpu_s)" 'NR == 1 { for (i = 1; i <= NF; i++) a[i] = $i }
    NR == 2 { if (sent + 0 <= 0 || lg == "-") { printf "%-14s (no figures)\n", s; exit }
      all = lg; line = sprintf("%-14s", s)
      for (i = 2; i <= NF; i++) { c = ($i - a[i]) / hz; all += c
        line = line sprintf(" %*.3f", i == 2 ? 10 : i == 3 ? 8 : 9, c * 1000 / sent) }
      printf "%s %9.3f %7.3f %5.0f%%\n", line, lg * 1000 / sent, all * 1000 / sent,
        100 * all / (($1 - a[1]) / 1e9 * cores) }' "$out/$s.cpu"
done
for s in rate1000 rate3000 rate1000quiet; do
  printf '\nwhere the time of a request went in %s (tests/bench/hops.sql):\n' "$s"
  cat "$out/$s.hops"
done
for s in max rate1000 rate3000 rate1000quiet; do
  printf '\nthe batches of each service in %s (tests/bench/batches.sql):\n' "$s"
  cat "$out/$s.batches"
done
printf 'window close + issue of %s claims (%s of them copies): %s ms\n' "$claims" "$copied" "$close_ms"
printf 'ceiling (%s messages of %s bytes): produce %s/s, consume %s/s; medclear at %s of the produce rate\n' \
  "$n" "$size" "$produce_rate" "$consume_rate" \
  "$(python3 -c "print(f'{float(\"$max_rate\") / $produce_rate:.2%}')" 2>/dev/null || echo '-')"
cat "$out/floor.txt"
for role in treating insuring clearing; do
  pid=$(cat "$MC_RUN_DIR/$role.pid" 2>/dev/null || true)
  [[ -n $pid ]] && printf '%s resident memory after the run: %s kB\n' "$role" "$(awk '/VmHWM/ {print $2}' /proc/"$pid"/status)"
done
