#!/usr/bin/env bash
# Reconciliation (对账): with every result applied, the three ledgers agree for the open
# window; when the treating service drops one result (the test.drop.result.claim test
# hook), `medclear reconcile` names that claim and its amount, and exits non-zero.
# Runs last: it leaves the network with one claim the treating side never settled.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"; "$ROOT/deploy/network.sh" restart treating >/dev/null 2>&1 || true' EXIT

mc verify --wait-ms 30000 >/dev/null || true
window=$(sql "SELECT window_id FROM clearing.windows WHERE status = 'OPEN'")
check "ledgers agree before" 0 "$(mc reconcile --window "$window" >"$dir/before"; echo $?)"
check "summary says so" 1 "$(grep -c '^reconcile: every pair agrees' "$dir/before")"

id="H32000000002202611231500$(date +%S)99"
MEDCLEAR_TEST_DROP_RESULT_CLAIM="$id" "$ROOT/deploy/network.sh" restart treating >/dev/null
printf '%s\n' "request_id = $id" "treating_region = 320000" "hospital = H32000000002" \
  "person = P310000000001" "insuring_region = 310000" "visit_type = INPATIENT" \
  "visit_date = 2026-11-16" "line = 1, 002101000010000, CT scan single site, 2000, 30000" >"$dir/drop.claim"
mc submit "$dir/drop.claim" >/dev/null
for _ in $(seq 150); do
  [[ $(sql "SELECT status FROM clearing.claims WHERE claim_id = '$id'") == SETTLED ]] && break
  sleep 0.2
done
amount=$(sql "SELECT fund_fen + tier2_fen FROM clearing.claims WHERE claim_id = '$id'")
check "the centre booked it" SETTLED "$(sql "SELECT status FROM clearing.claims WHERE claim_id = '$id'")"
check "the treating side never applied its result" SENT "$(sql "SELECT status FROM treating.claims WHERE claim_id = '$id'")"

day=$(date -u +%F)
if mc reconcile --day "$day" >"$dir/after"; then rc=0; else rc=$?; fi
cat "$dir/after"
check "reconcile exits non-zero" 1 "$rc"
check "reconcile names the claim and its amount" 1 "$(grep -E "^$id +[0-9]+ +[0-9]+ +$amount " "$dir/after" | wc -l)"
mc reconcile --day "$day" --json >"$dir/after.json" || true
check "only that claim differs" 1 "$(grep -c '"claim_id"' "$dir/after.json")"
check "json: the centre's amount" "$amount" "$(json_field "$(grep '"claim_id"' "$dir/after.json")" centre_fen)"
check "json: nothing on the treating side" "" "$(json_field "$(grep '"claim_id"' "$dir/after.json")" treating_fen)"
check "bad arguments refused" 2 "$(mc reconcile --day 2026-13-45 >/dev/null 2>&1; echo $?)"
finish
