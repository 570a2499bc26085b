#!/usr/bin/env bash
# CANCEL by settlement id, REVERSE by request id (settled, never seen, in flight), and a
# result that arrives after its request timed out: every undo restores the insuring
# accumulators and account exactly, books negative amounts on all three sides, and a
# second cancel of the same settlement is refused. `medclear verify` holds afterwards.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"; "$ROOT/deploy/network.sh" start >/dev/null 2>&1 || true' EXIT

# P320000000003: Jiangsu employee living in Anhui (LONG_TERM), account 500.00.
state() { sql "SELECT coalesce(a.ytd_deductible_fen, 0) || ' ' || coalesce(a.ytd_fund_paid_fen, 0) || ' ' || p.account_balance_fen FROM insuring.persons p LEFT JOIN insuring.accumulators a ON a.person_id = p.person_id AND a.year = 2026 AND a.cap_group = 'POOL' WHERE p.person_id = 'P320000000003'"; }
claim() { # claim NAME [key = value lines...]
  local name=$1
  shift
  {
    printf '%s\n' "treating_region = 340000" "hospital = H34000000001" "person = P320000000003" \
      "insuring_region = 320000" "visit_type = INPATIENT" "visit_date = 2026-11-18" \
      "line = 1, 003105030010000, Ward bed per day, 4000, 4000, 16000" \
      "line = 2, 002101000010000, CT scan single site, 1000, 90000, 90000"
    printf '%s\n' "$@"
  } >"$dir/$name.claim"
}
submit() { mc submit --wait --json --timeout-ms 60000 "$dir/$1.claim" | head -1; }

before=$(state)
claim settle "request_id = H34000000001202611180800000001"
settled=$(submit settle)
check "settled" ACCEPTED "$(json_field "$settled" status)"
sid=$(json_field "$settled" settlement_id)
check "accumulators moved" 1 "$([[ $(state) != "$before" ]] && echo 1 || echo 0)"

claim cancel "kind = CANCEL" "settlement_id = $sid" "request_id = H34000000001202611180830000001"
cancelled=$(submit cancel)
check "cancel accepted" ACCEPTED "$(json_field "$cancelled" status)"
check "cancel books the negated total" "-$(json_field "$settled" total_fen)" "$(json_field "$cancelled" total_fen)"
check "cancel books the negated fund" "-$(json_field "$settled" fund_fen)" "$(json_field "$cancelled" fund_fen)"
check "cancel restores accumulators and account" "$before" "$(state)"
check "original settlement marked cancelled" CANCELLED "$(sql "SELECT status FROM insuring.settlements WHERE settlement_id = '$sid'")"
check "centre booked the negative amounts" "-$(json_field "$settled" fund_fen)" \
  "$(sql "SELECT fund_fen FROM clearing.claims WHERE undoes = '$sid' AND status = 'SETTLED'")"
# The same visit again computes as if the cancelled one never happened.
claim resettle "request_id = H34000000001202611180845000001"
resettled=$(submit resettle)
for f in deductible_fen fund_fen tier2_fen account_fen cash_fen; do
  check "after the cancel the same visit gets the same $f" "$(json_field "$settled" $f)" "$(json_field "$resettled" $f)"
done
claim cancel_re "kind = CANCEL" "settlement_id = $(json_field "$resettled" settlement_id)"
check "and can be cancelled in turn" ACCEPTED "$(json_field "$(submit cancel_re)" status)"
check "which restores the state again" "$before" "$(state)"
again=$(submit cancel)
check "same cancel resent: same reply" "$(json_field "$cancelled" settlement_id)" "$(json_field "$again" settlement_id)"
claim cancel2 "kind = CANCEL" "settlement_id = $sid"
check "second cancel refused" ALREADY_CANCELLED "$(json_field "$(submit cancel2)" reason_code)"
claim cancel3 "kind = CANCEL" "settlement_id = S320000999999999999"
check "cancel of an unknown settlement refused" UNKNOWN_SETTLEMENT "$(json_field "$(submit cancel3)" reason_code)"

# REVERSE of a settled request
claim settle2 "request_id = H34000000001202611180900000001"
s2=$(submit settle2)
check "second visit settled" ACCEPTED "$(json_field "$s2" status)"
claim reverse "kind = REVERSE" "original_request_id = H34000000001202611180900000001"
check "reverse of a settled request accepted" ACCEPTED "$(json_field "$(submit reverse)" status)"
check "reverse restores accumulators and account" "$before" "$(state)"

# REVERSE of a request never received: a tombstone refuses its late arrival
claim reverse2 "kind = REVERSE" "original_request_id = H34000000001202611181000000001"
check "reverse of an unseen request accepted" ACCEPTED "$(json_field "$(submit reverse2)" status)"
claim late "request_id = H34000000001202611181000000001"
check "late original refused" REVERSED "$(json_field "$(submit late)" reason_code)"
check "late original not applied" "$before" "$(state)"

# A result after the timeout: the insuring service is down, the agency gets TIMED_OUT,
# and when the result comes it is undone by itself.
"$ROOT/deploy/network.sh" kill insuring >/dev/null
claim slow "request_id = H34000000001202611181100000001"
slow=$(submit slow)
check "no result in time: TIMED_OUT" TIMED_OUT "$(json_field "$slow" reason_code)"
"$ROOT/deploy/network.sh" restart insuring >/dev/null
for _ in $(seq 100); do
  st=$(sql "SELECT count(*) FROM treating.claims WHERE undoes = 'H34000000001202611181100000001' OR (claim_id LIKE 'X%' AND status = 'SETTLED' AND undoes = 'H34000000001202611181100000001')")
  [[ $st -ge 1 ]] && [[ $(sql "SELECT status FROM treating.claims WHERE undoes = 'H34000000001202611181100000001'") == SETTLED ]] && break
  sleep 0.2
done
check "late result recorded" SETTLED "$(sql "SELECT status FROM treating.claims WHERE claim_id = 'H34000000001202611181100000001'")"
check "late result undone by itself" SETTLED "$(sql "SELECT status FROM treating.claims WHERE undoes = 'H34000000001202611181100000001'")"
check "late result leaves accumulators as before" "$before" "$(state)"
check "timed-out request answered once" "TIMED_OUT 1" "$(sql "SELECT status || ' ' || answers FROM treating.requests WHERE request_id = 'H34000000001202611181100000001'")"

mc verify --wait-ms 20000 >"$dir/verify" || true
cat "$dir/verify"
check "verify holds" "verify: all invariants hold" "$(tail -1 "$dir/verify")"
finish
