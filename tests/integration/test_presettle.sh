#!/usr/bin/env bash
# PRESETTLE computes the same amounts as SETTLE of the same visit and commits nothing;
# only the SETTLE changes the person's accumulators.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/visit.claim" <<CLAIM
treating_region = 330000
hospital = H33000000002
person = P320000000002
insuring_region = 320000
visit_type = OUTPATIENT
visit_date = 2026-11-20
line = 1, 001201000010000, General consultation, 1000, 2500, 2500
line = 2, XC10AAA050A001010100002, Atorvastatin tablets, 30000, 401, 12030
CLAIM
acc() { sql "SELECT coalesce(sum(ytd_deductible_fen), 0) || ' ' || coalesce(sum(ytd_fund_paid_fen), 0) FROM insuring.accumulators WHERE person_id = 'P320000000002'"; }
before=$(acc)
mc submit --kind presettle --wait --json "$dir/visit.claim" >"$dir/pre"
pre=$(head -1 "$dir/pre")
check "presettle accepted" ACCEPTED "$(json_field "$pre" status)"
check "presettle has no settlement id" "" "$(json_field "$pre" settlement_id)"
check "presettle changes no accumulator" "$before" "$(acc)"
check "presettle recorded as computed" COMPUTED "$(sql "SELECT status FROM insuring.settlements WHERE request_id = '$(json_field "$pre" request_id)'")"

mc submit --kind settle --wait --json "$dir/visit.claim" >"$dir/set"
set=$(head -1 "$dir/set")
check "settle accepted" ACCEPTED "$(json_field "$set" status)"
for f in total_fen in_scope_fen self_pay_first_fen deductible_fen fund_fen tier2_fen account_fen cash_fen; do
  check "same $f" "$(json_field "$pre" $f)" "$(json_field "$set" $f)"
done
# Zhejiang's catalog: atorvastatin is class B with 15% self-pay first, so
# in scope = 2500 + (12030 - round_half_up(1804.5) = 10225) = 12725. Jiangsu's resident
# outpatient policy: deductible 100.00 per year, 50%: fund = round_half_up(2725 * 50%) = 1363.
check "hand-worked in scope" 12725 "$(json_field "$set" in_scope_fen)"
check "hand-worked fund" 1363 "$(json_field "$set" fund_fen)"
check "settle changes the accumulators" "10000 1363" "$(acc)"
finish
