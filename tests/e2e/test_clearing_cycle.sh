#!/usr/bin/env bash
# The prepay-then-clear cycle over the four-region network (DESIGN.md section 7), with
# windows of MC_WINDOW_PERIOD (20 seconds here): three windows of settles and cancels,
# the first closed on schedule by the centre and the next two by `medclear window close`.
# For each: the statement equals the sum of its claims, nets sum to zero, re-issuing
# gives the same bytes and hash, confirmations and payments move it to SETTLED, and
# usage falls by each payment. Then a small quota raises the yellow and red alerts and a
# top-up request exactly once each, a top-up clears the red state, the ledger refuses
# UPDATE and DELETE, and `medclear verify` holds.
source "$(dirname "$0")/../integration/lib.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# Claims of persons with a long-term registration, over every pair of the network.
long_term_persons "$dir/persons"
claims() { inpatient_claims "$1" "$2" "$dir/persons" "$3"; } # claims N SEED FILE
round() { # round N: claims of every pair, then a cancel of one of them
  claims 14 "$1" "$dir/round$1.claims"
  mc submit --wait --json --timeout-ms 60000 "$dir/round$1.claims" >"$dir/round$1.out"
  local sid
  sid=$(json_field "$(grep '"status":"ACCEPTED"' "$dir/round$1.out" | head -1)" settlement_id)
  printf '%s\n' "kind = CANCEL" "settlement_id = $sid" "treating_region = $(sql "SELECT treating_region FROM treating.claims WHERE settlement_id = '$sid'")" >"$dir/cancel$1.claim"
  mc submit --wait --json "$dir/cancel$1.claim" >"$dir/cancel$1.out"
  check "round $1: claims settled" 14 "$(grep -c '"status":"ACCEPTED"' "$dir/round$1.out")"
  check "round $1: cancel accepted" ACCEPTED "$(json_field "$(cat "$dir/cancel$1.out")" status)"
}
open_window() { sql "SELECT window_id FROM clearing.windows WHERE status = 'OPEN'"; }

# Window 1, opened when the centre started, closes by itself at the end of its period.
w1=$(open_window)
round 1
for _ in $(seq 200); do
  [[ $(sql "SELECT status FROM clearing.windows WHERE window_id = '$w1'") == CLOSED ]] && break
  sleep 0.2
done
check "window 1 closed on schedule" CLOSED "$(sql "SELECT status FROM clearing.windows WHERE window_id = '$w1'")"
round 2
w2=$(open_window)
mc window close >/dev/null
round 3
w3=$(open_window)
mc window close >/dev/null
check "a new window is open" 1 "$(sql "SELECT count(*) FROM clearing.windows WHERE status = 'OPEN'")"

for w in "$w1" "$w2" "$w3"; do
  check "$w: closed" CLOSED "$(sql "SELECT status FROM clearing.windows WHERE window_id = '$w'")"
  check "$w: has claims and a cancel" 1 "$(sql "SELECT (count(*) > 0 AND bool_or(kind = 'CANCEL'))::int FROM clearing.claims WHERE window_id = '$w'")"
  mc window issue "$w" --json >/dev/null
  first=$(sql "SELECT statement_sha256 FROM clearing.windows WHERE window_id = '$w'")
  sql "SELECT clearing.statement_text('$w')" >"$dir/$w.1"
  check "$w: statement equals the sum of its claims" 0 "$(sql "SELECT count(*) FROM (
      (SELECT insuring_party, treating_party, claims, amount_fen FROM clearing.statement_lines WHERE window_id = '$w'
       EXCEPT SELECT insuring_party, treating_party, count(*), sum(fund_fen + tier2_fen) FROM clearing.claims WHERE window_id = '$w' GROUP BY 1, 2)
      UNION ALL
      (SELECT insuring_party, treating_party, count(*), sum(fund_fen + tier2_fen) FROM clearing.claims WHERE window_id = '$w' GROUP BY 1, 2
       EXCEPT SELECT insuring_party, treating_party, claims, amount_fen FROM clearing.statement_lines WHERE window_id = '$w')) d")"
  check "$w: nets sum to zero" 0 "$(sql "SELECT sum(net_fen) FROM clearing.statement_parties WHERE window_id = '$w'")"
  check "$w: issued twice is refused" 1 "$(mc window issue "$w" >/dev/null 2>&1; echo $?)"
  mc window abort "$w" >/dev/null
  mc window issue "$w" >/dev/null
  sql "SELECT clearing.statement_text('$w')" >"$dir/$w.2"
  check "$w: re-issued statement has the same hash" "$first" "$(sql "SELECT statement_sha256 FROM clearing.windows WHERE window_id = '$w'")"
  check "$w: re-issued statement has the same bytes" 0 "$(cmp -s "$dir/$w.1" "$dir/$w.2"; echo $?)"
  # psql adds a newline after the value, which ends in one already
  check "$w: hash is the statement's sha256" "$first" "$(head -c -1 "$dir/$w.1" | sha256sum | cut -c1-64)"
  for party in $(sql "SELECT party FROM clearing.statement_parties WHERE window_id = '$w' ORDER BY 1"); do
    mc window confirm "$w" --party "$party" >/dev/null
  done
  check "$w: confirmed by every party" CONFIRMED "$(sql "SELECT status FROM clearing.windows WHERE window_id = '$w'")"
  ok_usage=1
  while read -r ins trt amount; do
    before=$(sql "SELECT used_fen FROM clearing.pairs WHERE insuring_party = '$ins' AND treating_party = '$trt'")
    mc window settle "$w" --insuring "$ins" --treating "$trt" --reference "TR-$w-$ins-$trt" >/dev/null
    after=$(sql "SELECT used_fen FROM clearing.pairs WHERE insuring_party = '$ins' AND treating_party = '$trt'")
    [[ $((before - amount)) -eq $after ]] || ok_usage=0
  done < <(sql "SELECT insuring_party || ' ' || treating_party || ' ' || amount_fen FROM clearing.statement_lines WHERE window_id = '$w' ORDER BY 1")
  check "$w: usage fell by each payment" 1 "$ok_usage"
  check "$w: settled" SETTLED "$(sql "SELECT status FROM clearing.windows WHERE window_id = '$w'")"
done
check "usage equals what is booked and not yet paid" 0 "$(sql "SELECT count(*) FROM clearing.pairs p WHERE used_fen <> coalesce((SELECT sum(fund_fen + tier2_fen) FROM clearing.claims c WHERE c.insuring_party = p.insuring_party AND c.treating_party = p.treating_party AND c.window_id IS NOT NULL), 0) - coalesce((SELECT sum(amount_fen) FROM clearing.payments y WHERE y.insuring_party = p.insuring_party AND y.treating_party = p.treating_party), 0)")"
check "trial balance balances" 0 "$(sql "SELECT sum(debit_fen) - sum(credit_fen) FROM clearing.trial_balance")"

# A small quota for Jiangsu's insured treated in Shanghai: alerts at 70% and 90%.
mc prepay record --insuring 320000 --treating 310000 --kind PLACEMENT --amount 60000 --reference Q2026-320000-310000 >/dev/null
printf '%s\n' "treating_region = 310000" "hospital = H31000000001" "person = P320000000001" \
  "insuring_region = 320000" "visit_type = INPATIENT" "visit_date = 2026-11-12" \
  "line = 1, 002101000010000, CT scan single site, 1000, 12000" >"$dir/small.claim"
for _ in $(seq 40); do
  [[ $(sql "SELECT alert FROM clearing.pairs WHERE insuring_party = '320000' AND treating_party = '310000'") == RED ]] && break
  mc submit --wait --json "$dir/small.claim" >/dev/null
done
alerts() { sql "SELECT string_agg(event_type, ' ' ORDER BY id) FROM clearing.alerts WHERE insuring_party = '320000' AND treating_party = '310000'"; }
check "yellow, red and top-up request once each" "QUOTA_YELLOW QUOTA_RED TOPUP_REQUEST" "$(alerts)"
mc submit --wait --json "$dir/small.claim" >/dev/null
check "no second alert while red" "QUOTA_YELLOW QUOTA_RED TOPUP_REQUEST" "$(alerts)"
check "events published on the bus" 3 "$(kcat -C -b "$MC_KAFKA_BROKERS" -t "$MEDCLEAR_TOPIC_PREFIX.clearing.events" -o beginning -e -q -f '%k\n' | grep -c '^320000$')"
mc prepay record --insuring 320000 --treating 310000 --kind TOPUP --amount 200000 --reference TOPUP-1 >/dev/null
check "a top-up clears the red state" NONE "$(sql "SELECT alert FROM clearing.pairs WHERE insuring_party = '320000' AND treating_party = '310000'")"
check "a refund larger than the quota is refused" 1 "$(mc prepay record --insuring 320000 --treating 310000 --kind REFUND --amount 999999999 --reference R >/dev/null 2>&1; echo $?)"

# The ledger is append-only in the database itself.
check "UPDATE of a journal entry refused" 1 "$(psql "$MEDCLEAR_DB_CONNINFO" -Xq -c "UPDATE clearing.journal SET memo = 'x'" >/dev/null 2>&1; echo $?)"
check "DELETE of a posting refused" 1 "$(psql "$MEDCLEAR_DB_CONNINFO" -Xq -c "DELETE FROM clearing.postings" >/dev/null 2>&1; echo $?)"
check "ledger untouched" 0 "$(sql "SELECT count(*) FROM clearing.journal WHERE memo = 'x'")"

mc verify --wait-ms 20000 >"$dir/verify" || true
check "verify holds" "verify: all invariants hold" "$(tail -1 "$dir/verify")"
finish
