#!/usr/bin/env bash
# The prepay-then-clear cycle over the four-region network (DESIGN.md section 7), with
# windows of MC_WINDOW_PERIOD (20 seconds here): three windows of settles and cancels,
# the first closed on schedule by the centre and the next two by `medclear window close`.
# For each: the statement equals the sum of its claims, nets sum to zero, re-issuing
# gives the same bytes and hash, confirmations and payments move it to SETTLED, and
# usage falls by each payment. Then a small quota raises the yellow and red alerts and a
# top-up request exactly once each, a top-up clears the red state, the ledger refuses
# UPDATE and DELETE, and `medclear verify` holds.
# A fourth window is settled multilaterally (one net transfer per party through the
# centre) with due periods of seconds, so that its missing confirmations and transfers
# are flagged overdue, once each. The services snapshot their ledgers every few entries;
# balances read through the snapshots equal the journals' sums.
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
# events TEXT: how many messages on mc.clearing.events carry TEXT (their detail)
events() { kcat -C -b "$MC_KAFKA_BROKERS" -t "$MEDCLEAR_TOPIC_PREFIX.clearing.events" -o beginning -e -q -f '%s\n' | grep -a -c "$1" || true; }

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
# Window 4: multilateral net settlement, and overdue items with due periods of seconds.
mc window close >/dev/null # a fresh period, so that round 4 fits in one window
round 4
w4=$(open_window)
mc window close >/dev/null
check "$w4: a bilateral settle of an unissued window is refused" 1 "$(mc window settle "$w4" --party 310000 --reference X >/dev/null 2>&1; echo $?)"
check "$w4: an unknown settlement method is refused" 1 "$(mc window issue "$w4" --method sideways >/dev/null 2>&1; echo $?)"
check "$w4: still CLOSED after the refusal" CLOSED "$(sql "SELECT status FROM clearing.windows WHERE window_id = '$w4'")"
mc -o clearing.confirm.due="1 second" -o clearing.pay.due="3 seconds" window issue "$w4" --method multilateral >/dev/null
check "$w4: issued for multilateral settlement" MULTILATERAL "$(sql "SELECT settlement FROM clearing.windows WHERE window_id = '$w4'")"
check "$w4: statement lists each party's net transfer" \
  "$(sql "SELECT string_agg(party || ',' || greatest(-net_fen, 0) || ',' || greatest(net_fen, 0), ' ' ORDER BY party) FROM clearing.statement_parties WHERE window_id = '$w4' AND net_fen <> 0")" \
  "$(sql "SELECT clearing.statement_text('$w4')" | sed -n '/^net transfers/,$p' | tail -n +2 | grep . | paste -sd ' ')"
parties4=$(sql "SELECT count(*) FROM clearing.statement_parties WHERE window_id = '$w4'")
flags() { sql "SELECT count(*) FROM clearing.overdue_flags WHERE window_id = '$w4' AND item = '$1'"; }
for _ in $(seq 50); do [[ $(flags CONFIRMATION) -ge $parties4 ]] && break; sleep 0.2; done
check "$w4: every unconfirmed party flagged overdue" "$parties4" "$(flags CONFIRMATION)"
check "$w4: overdue lists the confirmations" "$parties4" "$(mc window overdue --csv | grep -c "^$w4,CONFIRMATION,")"
check "$w4: window list counts them" "$parties4" "$(mc window list --csv | grep "^$w4," | awk -F, '{print $8}')"
sleep 2
check "$w4: flagged once, not again" "$parties4" "$(flags CONFIRMATION)"
check "$w4: overdue confirmations announced once each" "$parties4" "$(events "window $w4: CONFIRMATION")"
for party in $(sql "SELECT party FROM clearing.statement_parties WHERE window_id = '$w4' ORDER BY 1"); do
  mc window confirm "$w4" --party "$party" >/dev/null
done
check "$w4: confirmed" CONFIRMED "$(sql "SELECT status FROM clearing.windows WHERE window_id = '$w4'")"
check "$w4: nothing overdue to confirm once confirmed" 0 "$(mc window overdue --csv | grep -c "^$w4,CONFIRMATION," || true)"
movers=$(sql "SELECT count(*) FROM clearing.statement_parties WHERE window_id = '$w4' AND net_fen <> 0")
for _ in $(seq 50); do [[ $(flags NET_TRANSFER) -ge $movers ]] && break; sleep 0.2; done
check "$w4: every missing net transfer flagged overdue" "$movers" "$(flags NET_TRANSFER)"
line=$(sql "SELECT insuring_party || ' ' || treating_party FROM clearing.statement_lines WHERE window_id = '$w4' ORDER BY 1 LIMIT 1")
check "$w4: a bilateral transfer is refused" 1 "$(mc window settle "$w4" --insuring "${line% *}" --treating "${line#* }" --reference X >/dev/null 2>&1; echo $?)"
sql "CREATE TABLE public.e2e_used AS SELECT insuring_party, treating_party, used_fen FROM clearing.pairs"
first=1
while read -r party net; do
  mc window settle "$w4" --party "$party" --reference "NET-$w4-$party" >/dev/null
  if [[ $first -eq 1 ]]; then
    check "$w4: one transfer leaves it CONFIRMED" CONFIRMED "$(sql "SELECT status FROM clearing.windows WHERE window_id = '$w4'")"
    check "$w4: the same transfer twice is refused" 1 "$(mc window settle "$w4" --party "$party" --reference again >/dev/null 2>&1; echo $?)"
    check "$w4: usage untouched until every party has settled" 0 "$(sql "SELECT count(*) FROM clearing.pairs p JOIN public.e2e_used b USING (insuring_party, treating_party) WHERE p.used_fen <> b.used_fen")"
    first=0
  fi
done < <(sql "SELECT party || ' ' || net_fen FROM clearing.statement_parties WHERE window_id = '$w4' AND net_fen <> 0 ORDER BY net_fen, party")
check "$w4: settled by the net transfers" SETTLED "$(sql "SELECT status FROM clearing.windows WHERE window_id = '$w4'")"
check "$w4: net transfers sum to zero" 0 "$(sql "SELECT sum(amount_fen) FROM clearing.net_transfers WHERE window_id = '$w4'")"
check "$w4: the centre holds nothing of it" 0 "$(sql "SELECT coalesce(sum(debit_fen - credit_fen), 0) FROM clearing.journal JOIN clearing.postings USING (entry_id) WHERE window_id = '$w4' AND account = 'settlement:centre'")"
check "$w4: usage fell by every line" 0 "$(sql "SELECT count(*) FROM clearing.pairs p JOIN public.e2e_used b USING (insuring_party, treating_party) LEFT JOIN clearing.statement_lines l ON l.window_id = '$w4' AND l.insuring_party = p.insuring_party AND l.treating_party = p.treating_party WHERE p.used_fen <> b.used_fen - coalesce(l.amount_fen, 0)")"
check "$w4: nothing overdue once settled" 0 "$(mc window overdue --csv | grep -c "^$w4," || true)"
check "$w4: the treating ledger's statement agrees with the centre's" \
  "$(sql "SELECT sum(amount_fen) FROM clearing.statement_lines WHERE window_id = '$w4'")" \
  "$(mc ledger statement "$w4" --ledger treating --csv | awk -F, '$1 ~ /^due_from:/ {s += $5} END {print s}')"
check "$w4: the insuring ledger's statement agrees with the centre's" \
  "$(sql "SELECT sum(amount_fen) FROM clearing.statement_lines WHERE window_id = '$w4'")" \
  "$(mc ledger statement "$w4" --ledger insuring --csv | awk -F, '$1 ~ /^fund_expense:/ {s += $5} END {print s}')"
check "an unknown ledger is refused" 2 "$(mc ledger balance --ledger nowhere >/dev/null 2>&1; echo $?)"

# Due dates in working days: Friday 20 November 2026 plus 5 working days is the end of
# Friday the 27th (China Standard Time); a holiday on the 25th moves it to Monday the 30th.
check "5 working days from a Friday" "2026-11-27 16:00:00" "$(sql "SELECT clearing.due_at('2026-11-20 10:00+08', '5 working days') AT TIME ZONE 'UTC'")"
check "a holiday is not a working day" "2026-11-30 16:00:00" "$(psql "$MEDCLEAR_DB_CONNINFO" -XAtq -c "BEGIN" -c "INSERT INTO clearing.holidays VALUES ('2026-11-25', 'test holiday')" -c "SELECT clearing.due_at('2026-11-20 10:00+08', '5 working days') AT TIME ZONE 'UTC'" -c "ROLLBACK")"
check "a bad due period is refused" 1 "$(mc -o clearing.confirm.due=soon window issue "$(open_window)" >/dev/null 2>&1; echo $?)"

# Ledger snapshots: the services took some by themselves (every 20 entries here), an
# operator takes one more; balances through them equal the journals' sums. A service
# looks every 10 s, so its first snapshot may come up to 10 s after the 20th entry (the
# last round's claims, when the rounds ran fast).
for s in treating insuring clearing; do
  wait_for "SELECT (count(*) > 0)::int FROM $s.balance_snapshots" 1 25
  check "$s: the service snapshotted its ledger" 1 "$(sql "SELECT (count(*) > 0)::int FROM $s.balance_snapshots")"
  mc ledger snapshot --ledger "$s" >/dev/null
  check "$s: balances through the snapshot equal the journal" 0 "$(sql "SELECT count(*) FROM (
      (SELECT account, debit_fen, credit_fen FROM $s.trial_balance
       EXCEPT SELECT account, sum(debit_fen), sum(credit_fen) FROM $s.postings GROUP BY 1)
      UNION ALL
      (SELECT account, sum(debit_fen), sum(credit_fen) FROM $s.postings GROUP BY 1
       EXCEPT SELECT account, debit_fen, credit_fen FROM $s.trial_balance)) d")"
done
check "a snapshot cannot be changed" 1 "$(psql "$MEDCLEAR_DB_CONNINFO" -Xq -c "UPDATE clearing.snapshot_balances SET debit_fen = 0" >/dev/null 2>&1; echo $?)"

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
check "alerts published on the bus" 3 "$(events ' of quota ')"
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
