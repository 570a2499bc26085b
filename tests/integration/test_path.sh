#!/usr/bin/env bash
# The sample claims cross treating -> clearing -> insuring -> clearing -> treating over
# the real broker; each reply equals the result worked out by hand in README.md, and
# each service recorded what it did. A resent request gets the same reply and changes
# nothing; a modified one is rejected.
source "$(dirname "$0")/lib.sh"
out=$(mktemp)
trap 'rm -f "$out" "$out.2" "$out.claim"' EXIT

mc submit --wait --json --timeout-ms 60000 "$ROOT"/deploy/sample/claims/*.claim >"$out"
check "five replies" 5 "$(wc -l <"$out")"

# expect REQUEST FIELD=VALUE...: every field of that request's reply
expect() {
  local id=$1 line kv
  shift
  line=$(reply_of "$out" "$id")
  for kv in "$@"; do
    check "$id ${kv%%=*}" "${kv#*=}" "$(json_field "$line" "${kv%%=*}")"
  done
}
# Sample 1 (README): inpatient, long-term registration, per-year deductible, account
expect H31000000001202611230930000001 status=ACCEPTED total_fen=93180 full_self_pay_fen=10000 \
  over_limit_fen=10000 self_pay_first_fen=3733 in_scope_fen=69447 deductible_fen=50000 \
  ratio_bp=8000 fund_fen=15558 tier2_fen=0 account_fen=50000 cash_fen=27622 person_fen=77622 \
  registration_type=LONG_TERM
# Sample 2: cap reached inside the claim, tier 2 takes over
expect H31000000002202611231015000001 status=ACCEPTED total_fen=260000 full_self_pay_fen=0 \
  over_limit_fen=30000 self_pay_first_fen=42000 in_scope_fen=188000 deductible_fen=50000 \
  ratio_bp=6000 fund_fen=50000 tier2_fen=32800 account_fen=0 cash_fen=177200 \
  registration_type=TEMP_REFERRAL
# Sample 3: emergency without registration, rounding at the half fen, account pays all
expect H33000000003202611232210000001 status=ACCEPTED total_fen=10305 self_pay_first_fen=421 \
  in_scope_fen=9884 deductible_fen=1000 ratio_bp=6000 fund_fen=5330 account_fen=4975 cash_fen=0 \
  registration_type=TEMP_EMERGENCY
# Samples 4 and 5: rejections with their reasons
expect H31000000003202611231100000001 status=REJECTED reason_code=NOT_REGISTERED
expect H32000000001202611231130000001 status=REJECTED reason_code=AMOUNT_MISMATCH
check "mismatch names the line" 1 "$(reply_of "$out" H32000000001202611231130000001 | grep -c 'line 1: amount_fen 7000')"

first=$(reply_of "$out" H31000000001202611230930000001)
settlement=$(json_field "$first" settlement_id)
check "settlement id: S + insuring region + 12 digits" 1 "$([[ $settlement =~ ^S320000[0-9]{12}$ ]] && echo 1 || echo 0)"

# Rows written by each service
check "treating claims" "SETTLED 93180 15558|SETTLED 260000 50000|SETTLED 10305 5330" \
  "$(sql "SELECT string_agg(status || ' ' || total_fen || ' ' || fund_fen, '|' ORDER BY claim_id) FROM treating.claims WHERE status = 'SETTLED'")"
check "treating lines of sample 1" "5 93180" \
  "$(sql "SELECT count(*) || ' ' || sum(amount_fen) FROM treating.claim_lines WHERE claim_id = 'H31000000001202611230930000001'")"
check "treating requests" "ACCEPTED:3 REJECTED:2" \
  "$(sql "SELECT string_agg(status || ':' || n, ' ' ORDER BY status) FROM (SELECT status, count(*) n FROM treating.requests GROUP BY status) s")"
check "clearing claims" "REJECTED:1 SETTLED:3" \
  "$(sql "SELECT string_agg(status || ':' || n, ' ' ORDER BY status) FROM (SELECT status, count(*) n FROM clearing.claims GROUP BY status) s")"
check "clearing fund of settled" "70888 32800" \
  "$(sql "SELECT sum(fund_fen) || ' ' || sum(tier2_fen) FROM clearing.claims WHERE status = 'SETTLED'")"
check "insuring settlements" "REJECTED:1 SETTLED:3" \
  "$(sql "SELECT string_agg(status || ':' || n, ' ' ORDER BY status) FROM (SELECT status, count(*) n FROM insuring.settlements GROUP BY status) s")"
check "accumulators" "P310000000004 OUTPATIENT 150000 5330 0|P320000000001 POOL 50000 15558 0|P340000000005 POOL 0 20000000 32800" \
  "$(sql "SELECT string_agg(person_id || ' ' || cap_group || ' ' || ytd_deductible_fen || ' ' || ytd_fund_paid_fen || ' ' || ytd_tier2_paid_fen, '|' ORDER BY person_id) FROM insuring.accumulators WHERE person_id IN ('P310000000004', 'P320000000001', 'P340000000005')")"
check "account balances" "7370 0" \
  "$(sql "SELECT string_agg(account_balance_fen::text, ' ' ORDER BY person_id) FROM insuring.persons WHERE person_id IN ('P310000000004', 'P320000000001')")"
check "every outbox row published" "0" \
  "$(sql "SELECT (SELECT count(*) FROM treating.outbox_unpublished) + (SELECT count(*) FROM clearing.outbox_unpublished) + (SELECT count(*) FROM insuring.outbox_unpublished)")"

# The agency resends sample 1: the same reply again, nothing applied twice.
mc submit --wait --json --timeout-ms 60000 "$ROOT/deploy/sample/claims/1-inpatient-long-term.claim" >"$out.2"
again=$(head -1 "$out.2")
check "resent: same settlement" "$settlement" "$(json_field "$again" settlement_id)"
check "resent: same fund" 15558 "$(json_field "$again" fund_fen)"
check "resent: one settlement row" 1 "$(sql "SELECT count(*) FROM insuring.settlements WHERE claim_id = 'H31000000001202611230930000001'")"
check "resent: accumulator unchanged" 15558 "$(sql "SELECT ytd_fund_paid_fen FROM insuring.accumulators WHERE person_id = 'P320000000001'")"

# Same request id, different lines: rejected as modified, the recorded claim untouched.
sed 's/^line = 2.*/line = 2, 002101000010000, CT scan single site, 2000, 35000, 70000/' \
  "$ROOT/deploy/sample/claims/1-inpatient-long-term.claim" >"$out.claim"
mc submit --wait --json --timeout-ms 60000 "$out.claim" >"$out.2"
check "modified: rejected" DUPLICATE_MODIFIED "$(json_field "$(head -1 "$out.2")" reason_code)"
check "modified: claim untouched" 93180 "$(sql "SELECT total_fen FROM treating.claims WHERE claim_id = 'H31000000001202611230930000001'")"

# Lines may come in any order: a presettle of sample 1 with its lines listed backwards is
# split the same, and its lines are stored in line order.
{
  grep -v '^line = ' "$ROOT/deploy/sample/claims/1-inpatient-long-term.claim" |
    sed 's/^kind = SETTLE/kind = PRESETTLE/; s/^request_id = .*/request_id = H31000000001202611230930000009/'
  grep '^line = ' "$ROOT/deploy/sample/claims/1-inpatient-long-term.claim" | tac
} >"$out.claim"
mc submit --wait --json --timeout-ms 60000 "$out.claim" >"$out.2"
backwards=$(head -1 "$out.2")
for kv in status=ACCEPTED total_fen=93180 full_self_pay_fen=10000 over_limit_fen=10000 \
  self_pay_first_fen=3733 in_scope_fen=69447; do
  check "backwards lines: ${kv%%=*}" "${kv#*=}" "$(json_field "$backwards" "${kv%%=*}")"
done
check "backwards lines: stored in line order" "1:40000,2:35000,3:4662,4:10000,5:3518" \
  "$(sql "SELECT string_agg(l.line_no || ':' || l.amount_fen, ',' ORDER BY l.o) FROM treating.claim_line_sets s CROSS JOIN LATERAL unnest(s.lines) WITH ORDINALITY AS l(line_no, item_code, item_class, quantity_milli, unit_price_fen, amount_fen, f, v, p, i, o) WHERE s.claim_id = 'H31000000001202611230930000009'")"
# The reply carries every stored line, field by field, in line order (treating reads the
# stored array's text back: mc_composites_parse).
reply_lines() { python3 -c 'import json,sys
print(",".join(":".join(str(l[k]) for k in ("line_no", "item_code", "class", "amount_fen", "full_self_pay_fen", "over_limit_fen", "self_pay_first_fen", "in_scope_fen")) for l in json.loads(sys.argv[1])["lines"]))' "$1"; }
check "backwards lines: the reply's lines are the stored ones" \
  "$(sql "SELECT string_agg(concat_ws(':', l.line_no, l.item_code, l.item_class, l.amount_fen, l.full_self_pay_fen, l.over_limit_fen, l.self_pay_first_fen, l.in_scope_fen), ',' ORDER BY l.line_no) FROM treating.claim_line_sets s CROSS JOIN LATERAL unnest(s.lines) l WHERE s.claim_id = 'H31000000001202611230930000009'")" \
  "$(reply_lines "$backwards")"
check "backwards lines: five in the reply" 5 "$(python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])["lines"]))' "$backwards")"
finish
