#!/usr/bin/env bash
# Regenerates the seed corpora of the fuzz targets in corpus/<target>/: message bodies
# and signed envelopes from the text messages below (protoc --encode, then `medclear
# envelope sign` with the demo keys), and the sample reference data of deploy/sample.
# Usage: tests/fuzz/seed.sh [BUILD_DIR]   (default build; needs the medclear tool built)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
ROOT="$(cd "$HERE/../.." && pwd -P)"
BUILD="${1:-$ROOT/build}"
C="$HERE/corpus"
enc() { protoc --encode="medclear.$1" -I "$ROOT/proto" "$ROOT/proto/medclear.proto"; }
sign() { "$BUILD/services/tool/medclear" -c "$ROOT/deploy/config/medclear.conf" envelope sign; }
# created 10 s before the fuzz targets' fixed clock (NOW_MS), so the age check passes
head='schema_version: 1 created_at_ms: 1794999990000'

request='request_id: "H31000000001202611230930000001" kind: SETTLE treating_region: "310000"
  hospital_code: "H31000000001" person_id: "P320000000001" insuring_region: "320000"
  visit_type: INPATIENT visit_date: 20261123
  lines { line_no: 1 item_code: "003105030010000" item_name: "Ward bed per day" quantity_milli: 5000 unit_price_fen: 8000 amount_fen: 40000 }
  lines { line_no: 2 item_code: "XC10AAA050A001010100002" quantity_milli: 14000 unit_price_fen: 333 amount_fen: 4662 }'
cancel='request_id: "H31000000001202611240930000002" kind: CANCEL treating_region: "310000"
  hospital_code: "H31000000001" person_id: "P320000000001" insuring_region: "320000"
  settlement_id: "S320000-000001"'
claim='claim_id: "C310000-000001" request_id: "H31000000001202611230930000001" kind: SETTLE
  treating_region: "310000" insuring_region: "320000" hospital_code: "H31000000001"
  hospital_level: 3 person_id: "P320000000001" visit_type: INPATIENT visit_date: 20261123
  lines { line_no: 1 item_code: "003105030010000" item_class: "A" amount_fen: 40000 in_scope_fen: 40000 }
  lines { line_no: 2 item_code: "XC10AAA050A001010100002" item_class: "B" amount_fen: 4662 self_pay_first_fen: 466 in_scope_fen: 4196 }
  totals { total_fen: 44662 self_pay_first_fen: 466 in_scope_fen: 44196 }
  catalog_version: "C310000-2026.1"'
undo='claim_id: "C310000-000002" request_id: "H31000000001202611240930000002" kind: CANCEL
  treating_region: "310000" insuring_region: "320000" settlement_id: "S320000-000001"
  totals { total_fen: -44662 in_scope_fen: -44196 }'
result='claim_id: "C310000-000001" request_id: "H31000000001202611230930000001" kind: SETTLE
  treating_region: "310000" insuring_region: "320000" status: ACCEPTED settlement_id: "S320000-000001"
  totals { total_fen: 44662 self_pay_first_fen: 466 in_scope_fen: 44196 }
  payment { deductible_fen: 0 ratio_bp: 9000 fund_fen: 39776 account_fen: 4886 person_fen: 4886 registration_type: "LONG_TERM" insured_type: "EMPLOYEE" }
  policy_version: "P320000-2026" person_id: "P320000000001" hospital_code: "H31000000001"'
rejected='claim_id: "C310000-000003" request_id: "H31000000001202611250930000003" kind: SETTLE
  treating_region: "310000" insuring_region: "320000" status: REJECTED
  reason_code: "NOT_REGISTERED" reason_text: "no registration for the treating region"'
reply='request_id: "H31000000001202611230930000001" kind: SETTLE status: ACCEPTED
  settlement_id: "S320000-000001" totals { total_fen: 44662 in_scope_fen: 44196 }
  payment { ratio_bp: 9000 fund_fen: 39776 cash_fen: 4886 person_fen: 4886 }
  lines { line_no: 1 item_code: "003105030010000" item_class: "A" amount_fen: 40000 in_scope_fen: 40000 }
  catalog_version: "C310000-2026.1" policy_version: "P320000-2026" claim_id: "C310000-000001"'
event='event_type: "QUOTA_YELLOW" party: "320000" counterparty: "310000" window_id: "W2026-11"
  amount_fen: 8000000 ratio_bp: 8000 detail: "prepayment 80% used"'

body() { # body TARGET NAME TYPE TEXT
  mkdir -p "$C/$1"
  printf '%s\n' "$4" | enc "$3" >"$C/$1/$2"
}
body fuzz_request settle SettlementRequest "$request"
body fuzz_request cancel SettlementRequest "$cancel"
body fuzz_claim settle Claim "$claim"
body fuzz_claim cancel Claim "$undo"
body fuzz_result accepted ClaimResult "$result"
body fuzz_result rejected ClaimResult "$rejected"
body fuzz_reply accepted SettlementReply "$reply"
body fuzz_event quota ClearingEvent "$event"

envelope() { # envelope NAME SOURCE FIELD TEXT [unsigned]
  mkdir -p "$C/fuzz_envelope"
  local text="message_id: \"seed-$1\" source_region: \"$2\" trace_id: \"trace-$1\" $head $3 { $4 }"
  if [[ ${5:-} == unsigned ]]; then
    printf '%s\n' "$text" | enc Envelope >"$C/fuzz_envelope/$1"
  else
    printf '%s\n' "$text" | enc Envelope | sign >"$C/fuzz_envelope/$1"
  fi
}
envelope request 310000 request "$request"
envelope request-unsigned 310000 request "$request" unsigned
envelope claim 310000 claim "$claim"
envelope result 320000 result "$result"
envelope reply 310000 reply "$reply"
envelope event 000000 event "$event"
# regression: the age of a message created at INT64_MIN overflowed int64_t
printf '%s\n' 'message_id: "a" schema_version: 1 source_region: "310000" created_at_ms: -9223372036854775808 event { }' |
  enc Envelope >"$C/fuzz_envelope/created-int64-min"

for f in "$ROOT"/deploy/sample/*/*.csv; do
  name=$(basename "$f" .csv)
  mkdir -p "$C/fuzz_data_$name"
  cp "$f" "$C/fuzz_data_$name/sample.csv"
  head -1 "$f" >"$C/fuzz_data_$name/header-only.csv"
done
echo "seed corpora written to $C"
