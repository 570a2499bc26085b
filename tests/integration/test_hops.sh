#!/usr/bin/env bash
# The benchmark's hop breakdown (tests/bench/hops.sql) over settlements that went through
# the network: every request it counts is counted in each hop, each party's transaction
# starts after the one before it (so no hop is negative), and the path from the treating
# region's first transaction to its reply is at least each hop at every percentile. And
# its batches (tests/bench/batches.sql) over the same time: each service's batches hold
# at least the messages these requests gave it. And the PostgreSQL floor
# (tests/bench/floor.sh) runs and counts its requests.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

n=8
stem="HOPS$(date +%s%N)-"
from=$(sql "SELECT now()")
for i in $(seq $n); do
  outpatient_request "$stem$i" "$dir/$i"
  cat "$dir/$i"
  echo ---
done >"$dir/requests"
mc submit --wait --json --timeout-ms 90000 "$dir/requests" >"$dir/replies"
check "every request accepted" "$n" "$(grep -c '"status":"ACCEPTED"' "$dir/replies")"

to=$(sql "SELECT now()")
psql "$MEDCLEAR_DB_CONNINFO" -XAtq -F '|' -v from="$from" -v to="$to" \
  -f "$ROOT/tests/bench/hops.sql" >"$dir/hops"
check "four hops and the path" 5 "$(wc -l <"$dir/hops")"
check "each counts the $n requests" "$n $n $n $n $n" "$(cut -d'|' -f2 "$dir/hops" | xargs)"
# columns: hop | requests | p50 | p90 | p99 | max
check "no hop is negative, and each percentile is at most the next" "" \
  "$(awk -F'|' '$3 < 0 || $3 > $4 || $4 > $5 || $5 > $6 { print NR ": " $0 }' "$dir/hops")"
check "the path is at least each hop at every percentile" "" \
  "$(awk -F'|' 'NR < 5 { for (c = 3; c <= 6; c++) hop[NR, c] = $c }
                NR == 5 { for (r = 1; r < 5; r++) for (c = 3; c <= 6; c++)
                            if ($c < hop[r, c]) print "hop " r " column " c ": " hop[r, c] " > " $c }' \
     "$dir/hops")"
joined="FROM treating.requests r
  JOIN clearing.claims c ON c.claim_id = r.request_id
  JOIN insuring.settlements s ON s.claim_id = r.request_id
  WHERE r.request_id LIKE '$stem%'"
check "the requests are found at every party" "$n" "$(sql "SELECT count(*) $joined")"
check "each party's transaction starts after the one before it" 0 "$(sql "SELECT count(*) $joined
  AND NOT (r.received_at <= c.routed_at AND c.routed_at <= s.created_at
           AND s.created_at <= c.booked_at AND c.booked_at <= r.replied_at)")"

psql "$MEDCLEAR_DB_CONNINFO" -XAtq -F '|' -v from="$from" -v to="$to" \
  -f "$ROOT/tests/bench/batches.sql" >"$dir/batches"
# columns: service | batches | per_s | mean | p50 | p90 | max | cycle_ms; each request is
# a request and a result at the treating region and at the centre, a claim at the insuring
# region (other traffic in the same seconds may add to them)
check "the three services' batches" "clearing insuring treating" "$(cut -d'|' -f1 "$dir/batches" | xargs)"
check "each service's batches hold at least its messages of these requests" "" \
  "$(awk -F'|' -v n="$n" '{ want = $1 == "insuring" ? n : 2 * n
       if ($2 < 1 || $2 * $4 < want - 0.05 * $2) print $1 ": " $2 " batches of " $4 " for " want " messages" }' \
     "$dir/batches")"
check "each service's median batch is at most its 90th percentile, at most its largest" "" \
  "$(awk -F'|' '$5 < 1 || $5 > $6 || $6 > $7 || $4 > $7 { print NR ": " $0 }' "$dir/batches")"

# The PostgreSQL floor (tests/bench/floor.sh) over 2 batches a party: all 2,000 requests,
# a CPU figure above zero, and its scratch database gone after it.
rc=0
MC_FLOOR_BATCHES=2 "$ROOT/tests/bench/floor.sh" >"$dir/floor" 2>&1 || rc=$?
check "the floor ran" 0 "$rc"
check "the floor counts 2,000 requests and some CPU" "2000 yes" \
  "$(awk '/^PostgreSQL floor:/ { print $3, ($(NF - 6) + 0 > 0 ? "yes" : "no: " $(NF - 6)) }' "$dir/floor")"
check "the floor says how busy the cores were" 1 "$(grep -c '^cores busy [0-9]*%; at that CPU alone' "$dir/floor")"
check "the floor's database is dropped" 0 \
  "$(sql "SELECT count(*) FROM pg_database WHERE datname = 'medclear_floor'")"
rc=0
MC_FLOOR_BATCHES=0 "$ROOT/tests/bench/floor.sh" >"$dir/floor0" 2>&1 || rc=$?
check "a batch count of 0 is refused, naming the variable" "2 1" \
  "$rc $(grep -c 'MC_FLOOR_BATCHES must be a positive number' "$dir/floor0")"
finish
